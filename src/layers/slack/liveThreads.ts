/**
 * What a thread shows while its task runs: the assistant status line (in DM threads only,
 * where Slack has one) and the agent's plan as one message rewritten in place. Both are
 * throttled setters; `finish` ends them once the answer is posted.
 */
import type { WebClient } from "@slack/web-api"
import { type Duration, Effect, FiberSet, HashMap, Option, Ref, type Scope, SynchronizedRef } from "effect"
import { TaskProgress } from "../../schema/TaskProgress.js"
import { call, type SlackApiError } from "./api.js"
import { messageKey, type ThreadRef } from "./events.js"
import { planText } from "./plan.js"
import { makeThrottledSetter, type ThrottledSetter } from "./throttle.js"

export const workingStatus = "is working on this..."

export interface LiveThreads {
  readonly show: (thread: ThreadRef, progress: TaskProgress) => Effect.Effect<void>
  /**
   * The answer is there: the status is dropped (Slack clears it on the bot's reply) and the plan
   * shows its last state. The next task of the thread starts afresh, with a plan message of its
   * own below the answer.
   */
  readonly finish: (thread: ThreadRef) => Effect.Effect<void>
}

export const makeLiveThreads = (options: {
  readonly web: WebClient
  /** Least time between two updates of one status line or plan message. */
  readonly interval: Duration.DurationInput
}): Effect.Effect<LiveThreads, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { web } = options
    // Keyed `status|<thread>` and `plan|<thread>`.
    const setters = yield* SynchronizedRef.make(HashMap.empty<string, ThrottledSetter>())
    const fibers = yield* FiberSet.make()
    const threadId = (thread: ThreadRef) => messageKey(thread.channel, thread.threadTs, thread.threadTs)

    /** The setter under `key`, made (atomically, once) with the sender `makeSend` gives. */
    const setterOf = (
      key: string,
      makeSend: Effect.Effect<(value: string) => Effect.Effect<unknown, SlackApiError>>,
    ) =>
      SynchronizedRef.modifyEffect(setters, (m) =>
        Option.match(HashMap.get(m, key), {
          onSome: (setter) => Effect.succeed([setter, m] as const),
          onNone: () =>
            makeSend.pipe(
              Effect.flatMap((send) => makeThrottledSetter({ interval: options.interval, fibers, send })),
              Effect.map((setter) => [setter, HashMap.set(m, key, setter)] as const),
            ),
        }),
      )

    const statusOf = (thread: ThreadRef) =>
      setterOf(
        `status|${threadId(thread)}`,
        Effect.succeed((status: string) =>
          call("assistant.threads.setStatus", () =>
            web.assistant.threads.setStatus({
              channel_id: thread.channel,
              thread_ts: thread.threadTs,
              status,
            }),
          ),
        ),
      )

    /** The plan message: posted in the thread the first time, rewritten in place after. */
    const planOf = (thread: ThreadRef) =>
      setterOf(
        `plan|${threadId(thread)}`,
        Effect.map(
          Ref.make(Option.none<{ readonly channel: string; readonly ts: string }>()),
          (posted) => (text: string) =>
            Effect.flatMap(Ref.get(posted), (message) =>
              Option.match(message, {
                onNone: () =>
                  call("chat.postMessage", () =>
                    web.chat.postMessage({ channel: thread.channel, thread_ts: thread.threadTs, text }),
                  ).pipe(
                    Effect.flatMap((sent) =>
                      Ref.set(
                        posted,
                        Option.some({ channel: sent.channel ?? thread.channel, ts: sent.ts ?? "" }),
                      ),
                    ),
                  ),
                onSome: ({ channel, ts }) =>
                  call("chat.update", () => web.chat.update({ channel, ts, text })),
              }),
            ),
        ),
      )

    const show = (thread: ThreadRef, progress: TaskProgress) => {
      const direct = thread.channel.startsWith("D")
      return TaskProgress.$match(progress, {
        Preparing: () =>
          direct ? Effect.flatMap(statusOf(thread), (s) => s.set(workingStatus)) : Effect.void,
        // Cleared once the agent runs: a set status locks the composer, and a follow-up written
        // now should reach the task.
        Running: () => (direct ? Effect.flatMap(statusOf(thread), (s) => s.set("")) : Effect.void),
        Plan: ({ todos }) =>
          todos.length === 0 ? Effect.void : Effect.flatMap(planOf(thread), (p) => p.set(planText(todos))),
      })
    }

    const finish = (thread: ThreadRef) =>
      Effect.gen(function* () {
        const id = threadId(thread)
        const all = yield* SynchronizedRef.getAndUpdate(setters, (m) =>
          HashMap.remove(HashMap.remove(m, `status|${id}`), `plan|${id}`),
        )
        const status = HashMap.get(all, `status|${id}`)
        const plan = HashMap.get(all, `plan|${id}`)
        if (Option.isSome(status)) yield* status.value.finish({ flush: false })
        if (Option.isSome(plan)) yield* plan.value.finish({ flush: true })
      })

    return { show, finish }
  })
