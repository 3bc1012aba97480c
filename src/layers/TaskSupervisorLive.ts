import {
  Cause,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberMap,
  HashMap,
  HashSet,
  Layer,
  Option,
  PubSub,
  Ref,
  Stream,
} from "effect"
import { replyTargetOf } from "../schema/ChannelReply.js"
import type { ConversationId } from "../schema/ConversationId.js"
import type { TaskTransition } from "../schema/Task.js"
import type { TaskId } from "../schema/TaskId.js"
import { ConversationStore, TaskAlreadyCompleted } from "../services/ConversationStore.js"
import { TaskRunner } from "../services/TaskRunner.js"
import {
  type Submission,
  SupervisorClosed,
  type TaskChange,
  TaskSupervisor,
} from "../services/TaskSupervisor.js"

export interface TaskSupervisorOptions {
  /** `execution.max_concurrent`: runs at once over every repository. */
  readonly maxConcurrent: number
}

/** What a person is told when the gateway stops before their task finished. */
const interruptedText =
  "The gateway was restarted before your task finished, so it was stopped. Work already done is kept in the workspace; reply to this message to continue."

/**
 * A conversation's lane: the submissions waiting for its next run. A lane exists exactly while
 * a loop fiber serves the conversation, so a submission either joins a live lane or starts one.
 */
type Lanes = HashMap.HashMap<ConversationId, ReadonlyArray<Submission>>

export const makeTaskSupervisor = (options: TaskSupervisorOptions) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const runner = yield* TaskRunner
    const changes = yield* PubSub.unbounded<TaskChange>()
    const permits = yield* Effect.makeSemaphore(options.maxConcurrent)
    const lanes = yield* Ref.make<Lanes>(HashMap.empty())
    /** Every task of this process not yet completed, by id. */
    const tracked = yield* Ref.make(HashMap.empty<TaskId, Submission>())
    const stopRequested = yield* Ref.make(HashSet.empty<TaskId>())
    const closed = yield* Ref.make(false)
    // Declared after the queues so their fibers are interrupted first when the scope closes.
    const loops = yield* FiberMap.make<ConversationId>()
    const runs = yield* FiberMap.make<TaskId>()

    /** Stores a transition and publishes it; a task completed elsewhere first is left as it is. */
    const transition = (submission: Submission, to: TaskTransition) =>
      store.updateTaskState(submission.taskId, to).pipe(
        // Completed first by someone else (the executor records a stop itself): publish that.
        Effect.catchTag("TaskAlreadyCompleted", () => store.getTask(submission.taskId)),
        Effect.tap((task) =>
          Effect.zipRight(
            task.state === "completed" ? Ref.update(tracked, HashMap.remove(submission.taskId)) : Effect.void,
            PubSub.publish(changes, {
              repoId: submission.message.repoId,
              channel: submission.message.channel,
              task,
            }),
          ),
        ),
        Effect.asVoid,
        Effect.catchAll((e) =>
          Effect.logError(`could not record task ${submission.taskId} as ${to.state}: ${e.message}`),
        ),
      )

    /** Ends the lane when nothing waits; true when something does. Atomic with `submit`. */
    const endIfIdle = (conversationId: ConversationId) =>
      Ref.modify(lanes, (map): readonly [boolean, Lanes] => {
        const waiting = Option.getOrElse(HashMap.get(map, conversationId), () => [])
        return waiting.length === 0 ? [false, HashMap.remove(map, conversationId)] : [true, map]
      })

    /** Takes what waits in the lane, leaving it open (empty) for later arrivals. */
    const takeWaiting = (conversationId: ConversationId) =>
      Ref.modify(lanes, (map): readonly [ReadonlyArray<Submission>, Lanes] => [
        Option.getOrElse(HashMap.get(map, conversationId), () => []),
        HashMap.set(map, conversationId, []),
      ])

    /** One run: the first submission carries it, later ones are coalesced into it. */
    const runBatch = (batch: readonly [Submission, ...ReadonlyArray<Submission>]) =>
      Effect.gen(function* () {
        const [carrier, ...merged] = batch
        for (const other of merged) {
          yield* transition(other, {
            state: "completed",
            reason: "coalesced",
            detail: `runs together with task ${carrier.taskId}`,
          })
        }
        yield* transition(carrier, { state: "executing" })
        const fiber = yield* FiberMap.run(
          runs,
          carrier.taskId,
          runner.run({
            taskId: carrier.taskId,
            conversationId: carrier.conversationId,
            isNew: carrier.isNew,
            messages: [carrier.message, ...merged.map((s) => s.message)],
            channel: carrier.channel,
          }),
        )
        const exit = yield* Fiber.await(fiber)
        const stopped = HashSet.has(yield* Ref.get(stopRequested), carrier.taskId)
        yield* Ref.update(stopRequested, HashSet.remove(carrier.taskId))
        if (Exit.isSuccess(exit)) {
          const result = exit.value
          return yield* transition(carrier, {
            state: "completed",
            reason: result.reason,
            ...(result.detail === undefined ? {} : { detail: result.detail }),
          })
        }
        if (Exit.isInterrupted(exit) && stopped) {
          return yield* transition(carrier, {
            state: "completed",
            reason: "stopped",
            detail: "stopped from the dashboard; its container was removed",
          })
        }
        if (!Exit.isInterrupted(exit)) {
          yield* Effect.logError(`task ${carrier.taskId} died`, Cause.pretty(exit.cause))
          yield* transition(carrier, {
            state: "completed",
            reason: "internal_error",
            detail: "the task crashed",
          })
        }
        // Interrupted without a stop: the shutdown records it.
      })

    /** Serves a conversation until no submission waits, one run at a time. */
    const lane = (conversationId: ConversationId): Effect.Effect<void> =>
      Effect.gen(function* () {
        while (yield* endIfIdle(conversationId)) {
          // Only this loop takes from the lane, so what it saw waiting is still there; messages
          // that arrive while it waits for a slot join the same run.
          yield* permits.withPermits(1)(
            Effect.gen(function* () {
              const [first, ...rest] = yield* takeWaiting(conversationId)
              if (first !== undefined) yield* runBatch([first, ...rest])
            }),
          )
        }
      })

    const submit = (submission: Submission) =>
      Effect.gen(function* () {
        if (yield* Ref.get(closed)) {
          return yield* new SupervisorClosed({ detail: `task ${submission.taskId} was not started` })
        }
        yield* Ref.update(tracked, HashMap.set(submission.taskId, submission))
        const starts = yield* Ref.modify(lanes, (map): readonly [boolean, Lanes] =>
          Option.match(HashMap.get(map, submission.conversationId), {
            onNone: () => [true, HashMap.set(map, submission.conversationId, [submission])],
            onSome: (waiting) => [
              false,
              HashMap.set(map, submission.conversationId, [...waiting, submission]),
            ],
          }),
        )
        yield* transition(submission, { state: "pending" })
        if (starts) yield* FiberMap.run(loops, submission.conversationId, lane(submission.conversationId))
      })

    const stop = (taskId: TaskId) =>
      Effect.gen(function* () {
        if (yield* FiberMap.has(runs, taskId)) {
          yield* Ref.update(stopRequested, HashSet.add(taskId))
          yield* FiberMap.remove(runs, taskId)
          return
        }
        const waiting = HashMap.get(yield* Ref.get(tracked), taskId)
        if (Option.isSome(waiting)) {
          const submission = waiting.value
          const removed = yield* Ref.modify(lanes, (map): readonly [boolean, Lanes] =>
            Option.match(HashMap.get(map, submission.conversationId), {
              onNone: () => [false, map],
              onSome: (list) => [
                list.some((s) => s.taskId === taskId),
                HashMap.set(
                  map,
                  submission.conversationId,
                  list.filter((s) => s.taskId !== taskId),
                ),
              ],
            }),
          )
          if (removed) {
            return yield* transition(submission, {
              state: "completed",
              reason: "stopped",
              detail: "stopped from the dashboard before it ran",
            })
          }
        }
        // Not in this process (or just finished): the store decides.
        const task = yield* store.getTask(taskId)
        if (task.state === "completed")
          return yield* new TaskAlreadyCompleted({ id: taskId, reason: task.completionReason })
        yield* store.updateTaskState(taskId, {
          state: "completed",
          reason: "stopped",
          detail: "stopped from the dashboard",
        })
      })

    const drain = (grace: Duration.Duration) =>
      Effect.gen(function* () {
        yield* Ref.set(closed, true)
        const busy = HashMap.size(yield* Ref.get(tracked))
        if (busy > 0) {
          yield* Effect.logInfo(
            `shutting down: waiting up to ${Duration.format(grace)} for ${busy} unfinished task(s)`,
          )
        }
        // Shutdown runs as a finalizer, uninterruptibly: without `interruptible` the timeout
        // could not stop the wait, and drain would wait for the longest task.
        const finished = yield* FiberMap.awaitEmpty(loops).pipe(
          Effect.interruptible,
          Effect.timeout(grace),
          Effect.option,
        )
        if (Option.isSome(finished)) return
        // Record first: an interrupted run would otherwise be recorded as stopped by a person.
        const left = Array.from(HashMap.values(yield* Ref.get(tracked)))
        for (const submission of left) {
          yield* transition(submission, {
            state: "completed",
            reason: "interrupted",
            detail: "the gateway shut down before it finished",
          })
        }
        yield* FiberMap.clear(loops)
        yield* FiberMap.clear(runs)
        yield* Effect.forEach(
          left,
          (s) =>
            s.channel
              .replyError(replyTargetOf(s.message, s.conversationId), interruptedText)
              .pipe(
                Effect.catchAll((e) =>
                  Effect.logWarning(`could not tell ${s.message.sender} about the shutdown: ${e.message}`),
                ),
              ),
          { concurrency: 4, discard: true },
        )
        yield* Effect.logInfo(`shutting down: ${left.length} task(s) interrupted, their senders told`)
      })

    return TaskSupervisor.of({
      submit,
      stop,
      changes: Stream.fromPubSub(changes),
      active: Effect.map(Ref.get(tracked), (map) => Array.from(HashMap.keys(map))),
      drain,
    })
  })

/** Requires the store and a TaskRunner; its fibers live in the layer's scope. */
export const TaskSupervisorLive = (options: TaskSupervisorOptions) =>
  Layer.scoped(TaskSupervisor, makeTaskSupervisor(options))
