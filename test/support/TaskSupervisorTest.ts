/**
 * A TaskSupervisor for dashboard tests, over whatever ConversationStore is provided. Tests
 * drive tasks through `TaskDriver`: `move` stores a state change and publishes it, as the real
 * supervisor does; `run` forks work for a task that `stop` interrupts before it completes the
 * task as `stopped`.
 */
import { Context, Effect, FiberMap, HashSet, Layer, PubSub, Ref, Stream } from "effect"
import type { Task, TaskTransition } from "../../src/schema/Task.js"
import type { TaskId } from "../../src/schema/TaskId.js"
import {
  type ConversationNotFound,
  ConversationStore,
  type StoreError,
  type TaskAlreadyCompleted,
  type TaskNotFound,
} from "../../src/services/ConversationStore.js"
import { type TaskChange, TaskSupervisor } from "../../src/services/TaskSupervisor.js"

export interface TaskDriverShape {
  /** Stores the transition and publishes it on `changes`. */
  readonly move: (
    taskId: TaskId,
    transition: TaskTransition,
  ) => Effect.Effect<Task, TaskNotFound | TaskAlreadyCompleted | ConversationNotFound | StoreError>
  /** Forks `work` as the task's run; `stop` interrupts it. */
  readonly run: (taskId: TaskId, work: Effect.Effect<void>) => Effect.Effect<void>
  /** Whether the task's run fiber is still going. */
  readonly isRunning: (taskId: TaskId) => Effect.Effect<boolean>
}

export class TaskDriver extends Context.Tag("test/TaskDriver")<TaskDriver, TaskDriverShape>() {}

const make = Effect.gen(function* () {
  const store = yield* ConversationStore
  const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<TaskChange>(), PubSub.shutdown)
  const runs = yield* FiberMap.make<TaskId>()
  const active = yield* Ref.make(HashSet.empty<TaskId>())

  const publish = (task: Task) =>
    Effect.gen(function* () {
      const conversation = yield* store.getConversation(task.conversationId)
      yield* Ref.update(active, (set) =>
        task.state === "completed" ? HashSet.remove(set, task.id) : HashSet.add(set, task.id),
      )
      yield* PubSub.publish(pubsub, { repoId: conversation.repoId, channel: conversation.channel, task })
    })

  const move: TaskDriverShape["move"] = (taskId, transition) =>
    store.updateTaskState(taskId, transition).pipe(Effect.tap(publish))

  const stop = (taskId: TaskId) =>
    Effect.gen(function* () {
      yield* store.getTask(taskId)
      yield* FiberMap.remove(runs, taskId)
      const task = yield* store.updateTaskState(taskId, { state: "completed", reason: "stopped" })
      yield* publish(task).pipe(Effect.catchTag("ConversationNotFound", () => Effect.void))
    })

  const supervisor = TaskSupervisor.of({
    submit: () => Effect.dieMessage("TaskSupervisorTest: submit is not used by dashboard tests"),
    stop,
    changes: Stream.fromPubSub(pubsub),
    active: Effect.map(Ref.get(active), (set) => Array.from(set)),
    drain: () => FiberMap.clear(runs),
  })
  const driver = TaskDriver.of({
    move,
    run: (taskId, work) => Effect.asVoid(FiberMap.run(runs, taskId, work)),
    isRunning: (taskId) => FiberMap.has(runs, taskId),
  })
  return Context.make(TaskSupervisor, supervisor).pipe(Context.add(TaskDriver, driver))
})

export const TaskSupervisorTest: Layer.Layer<TaskSupervisor | TaskDriver, never, ConversationStore> =
  Layer.scopedContext(make)
