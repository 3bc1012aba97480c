/**
 * The live status line of one thread (`assistant.threads.setStatus`), throttled: at most one
 * call per `interval`, and none before a `Retry-After` Slack asked for has passed. Updates in
 * between are not lost: the latest one is sent when the wait is over. Status is decoration, so
 * failures are logged and never reach the task.
 */
import { Clock, Duration, Effect, FiberSet, Option, Ref } from "effect"
import type { SlackApiError } from "./api.js"

export interface StatusUpdater {
  readonly update: (status: string) => Effect.Effect<void>
  /** No more updates (the answer was posted); a waiting one is dropped. */
  readonly finish: Effect.Effect<void>
}

interface State {
  readonly notBefore: number
  readonly pending: Option.Option<string>
  readonly flushScheduled: boolean
  readonly finished: boolean
  readonly last: Option.Option<string>
}

export const makeStatusUpdater = (options: {
  readonly interval: Duration.DurationInput
  readonly set: (status: string) => Effect.Effect<unknown, SlackApiError>
  /** Where the delayed flush runs (the channel's scope). */
  readonly fibers: FiberSet.FiberSet
}): Effect.Effect<StatusUpdater> =>
  Effect.gen(function* () {
    const interval = Duration.toMillis(options.interval)
    const state = yield* Ref.make<State>({
      notBefore: 0,
      pending: Option.none(),
      flushScheduled: false,
      finished: false,
      last: Option.none(),
    })

    const send = (status: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        yield* Ref.update(state, (s) => ({ ...s, notBefore: now + interval, last: Option.some(status) }))
        yield* options.set(status).pipe(
          Effect.catchAll((e) =>
            Option.match(e.retryAfter, {
              onNone: () => Effect.logWarning(`slack: status not updated: ${e.message}`),
              onSome: (wait) =>
                Ref.update(state, (s) => ({
                  ...s,
                  notBefore: now + Math.max(interval, Duration.toMillis(wait)),
                  // Sent again once Slack allows it.
                  pending: Option.orElse(s.pending, () => Option.some(status)),
                  last: Option.none(),
                })).pipe(Effect.zipRight(scheduleFlush)),
            }),
          ),
        )
      })

    const flush: Effect.Effect<void> = Effect.gen(function* () {
      while (true) {
        const now = yield* Clock.currentTimeMillis
        const s = yield* Ref.get(state)
        if (s.finished || Option.isNone(s.pending)) {
          yield* Ref.update(state, (x) => ({ ...x, flushScheduled: false }))
          return
        }
        if (now < s.notBefore) {
          yield* Effect.sleep(Duration.millis(s.notBefore - now))
          continue
        }
        yield* Ref.update(state, (x) => ({ ...x, pending: Option.none() }))
        yield* send(s.pending.value)
      }
    })

    const scheduleFlush: Effect.Effect<void> = Effect.gen(function* () {
      const start = yield* Ref.modify(state, (s) =>
        s.flushScheduled ? [false, s] : [true, { ...s, flushScheduled: true }],
      )
      if (start) yield* FiberSet.run(options.fibers, flush)
    })

    const update = (status: string) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const s = yield* Ref.get(state)
        if (s.finished || Option.getOrUndefined(s.last) === status) return
        if (now >= s.notBefore && !s.flushScheduled) return yield* send(status)
        yield* Ref.update(state, (x) => ({ ...x, pending: Option.some(status) }))
        yield* scheduleFlush
      })

    const finish = Ref.update(state, (s) => ({ ...s, finished: true, pending: Option.none() }))
    return { update, finish }
  })
