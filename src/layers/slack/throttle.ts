/**
 * A throttled setter for one live thing in a thread (the assistant status line, the plan
 * message): at most one call per `interval`, and none before a `Retry-After` Slack asked for
 * has passed. Values set in between are not lost: the latest is sent when the wait is over.
 * It is decoration, so failures are logged and never reach the task.
 */
import { Clock, Duration, Effect, FiberSet, Option, Ref } from "effect"
import type { SlackApiError } from "./api.js"

export interface ThrottledSetter {
  readonly set: (value: string) => Effect.Effect<void>
  /**
   * No more values. With `flush`, one still waiting is sent now (the plan's final state);
   * without, it is dropped (a status line the answer replaces).
   */
  readonly finish: (options: { readonly flush: boolean }) => Effect.Effect<void>
}

interface State {
  readonly notBefore: number
  readonly pending: Option.Option<string>
  readonly flushScheduled: boolean
  readonly finished: boolean
  readonly last: Option.Option<string>
}

export const makeThrottledSetter = (options: {
  readonly interval: Duration.DurationInput
  readonly send: (value: string) => Effect.Effect<unknown, SlackApiError>
  /** Where the delayed flush runs (the channel's scope). */
  readonly fibers: FiberSet.FiberSet
}): Effect.Effect<ThrottledSetter> =>
  Effect.gen(function* () {
    const interval = Duration.toMillis(options.interval)
    const state = yield* Ref.make<State>({
      notBefore: 0,
      pending: Option.none(),
      flushScheduled: false,
      finished: false,
      last: Option.none(),
    })

    const send = (value: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        yield* Ref.update(state, (s) => ({ ...s, notBefore: now + interval, last: Option.some(value) }))
        yield* options.send(value).pipe(
          Effect.catchAll((e) =>
            Option.match(e.retryAfter, {
              onNone: () => Effect.logWarning(`slack: live update not sent: ${e.message}`),
              onSome: (wait) =>
                Ref.update(state, (s) => ({
                  ...s,
                  notBefore: now + Math.max(interval, Duration.toMillis(wait)),
                  // Sent again once Slack allows it.
                  pending: Option.orElse(s.pending, () => Option.some(value)),
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

    const set = (value: string) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const s = yield* Ref.get(state)
        if (s.finished || Option.getOrUndefined(s.last) === value) return
        if (now >= s.notBefore && !s.flushScheduled) return yield* send(value)
        yield* Ref.update(state, (x) => ({ ...x, pending: Option.some(value) }))
        yield* scheduleFlush
      })

    const finish = ({ flush }: { readonly flush: boolean }) =>
      Effect.gen(function* () {
        const waiting = yield* Ref.modify(state, (s) => [
          s.finished ? Option.none() : s.pending,
          { ...s, finished: true, pending: Option.none() },
        ])
        if (flush && Option.isSome(waiting)) {
          yield* options
            .send(waiting.value)
            .pipe(
              Effect.catchAll((e) => Effect.logWarning(`slack: final live update not sent: ${e.message}`)),
            )
        }
      })
    return { set, finish }
  })
