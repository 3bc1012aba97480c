import { assert, describe, it } from "@effect/vitest"
import {
  Chunk,
  DateTime,
  Deferred,
  Duration,
  Effect,
  Fiber,
  HashMap,
  Layer,
  Option,
  Queue,
  Ref,
  Schedule,
  Stream,
} from "effect"
import { ConversationStoreMemory } from "../../src/layers/ConversationStoreMemory.js"
import { TaskSupervisorLive } from "../../src/layers/TaskSupervisorLive.js"
import type { ConversationId } from "../../src/schema/ConversationId.js"
import type { InboundMessage } from "../../src/schema/InboundMessage.js"
import type { TaskId } from "../../src/schema/TaskId.js"
import type { ChannelShape } from "../../src/services/Channel.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import { type TaskJob, type TaskResult, TaskRunner } from "../../src/services/TaskRunner.js"
import { TaskSupervisor } from "../../src/services/TaskSupervisor.js"

/**
 * The supervisor over the memory store and a runner the test drives: each run announces its
 * job and waits until the test releases it, so concurrency and coalescing are observed, not
 * timed.
 */
interface Harness {
  readonly started: Queue.Queue<TaskJob>
  readonly release: (taskId: TaskId, result?: TaskResult) => Effect.Effect<void>
  readonly errorReplies: Ref.Ref<ReadonlyArray<string>>
}

const makeHarness = Effect.gen(function* () {
  const started = yield* Queue.unbounded<TaskJob>()
  const gates = yield* Ref.make(HashMap.empty<TaskId, Deferred.Deferred<TaskResult>>())
  const gateOf = (taskId: TaskId) =>
    Effect.gen(function* () {
      const existing = HashMap.get(yield* Ref.get(gates), taskId)
      if (Option.isSome(existing)) return existing.value
      const gate = yield* Deferred.make<TaskResult>()
      yield* Ref.update(gates, HashMap.set(taskId, gate))
      return gate
    })
  const runner = TaskRunner.of({
    run: (job) =>
      Effect.gen(function* () {
        const gate = yield* gateOf(job.taskId)
        yield* Queue.offer(started, job)
        return yield* Deferred.await(gate)
      }),
  })
  const errorReplies = yield* Ref.make<ReadonlyArray<string>>([])
  const harness: Harness = {
    started,
    release: (taskId, result = { reason: "success" }) =>
      Effect.flatMap(gateOf(taskId), (gate) => Deferred.succeed(gate, result)).pipe(Effect.asVoid),
    errorReplies,
  }
  return { harness, runner }
})

const channelFor = (errorReplies: Ref.Ref<ReadonlyArray<string>>): ChannelShape => ({
  kind: "email",
  repoId: "app",
  inbound: Stream.empty,
  acknowledge: () => Effect.void,
  reply: () => Effect.succeed({ messageId: "<r@x>", unattached: [] }),
  replyError: (target, text) =>
    Ref.update(errorReplies, (all) => [...all, `${target.recipient}: ${text}`]).pipe(
      Effect.as({ messageId: "<e@x>", unattached: [] }),
    ),
  notifyStarted: () => Effect.succeed({ messageId: "<s@x>", unattached: [] }),
  progress: () => Effect.void,
  health: Effect.succeed({ _tag: "Connected" }),
  healthChanges: Stream.empty,
})

const message = (id: string, sender = "ann@example.com"): InboundMessage => ({
  channel: "email",
  repoId: "app",
  channelMessageId: `<${id}@example.com>`,
  sender,
  senderName: sender,
  subject: id,
  body: `body of ${id}`,
  threadKeys: [],
  conversationId: Option.none(),
  attachments: [],
  modelHint: Option.none(),
  receivedAt: DateTime.unsafeMake(0),
  receipt: { channel: "email", repoId: "app", key: id },
})

const run = <A, E>(
  maxConcurrent: number,
  body: (h: Harness) => Effect.Effect<A, E, TaskSupervisor | ConversationStore>,
) =>
  Effect.gen(function* () {
    const { harness, runner } = yield* makeHarness
    return yield* body(harness).pipe(
      Effect.provide(
        TaskSupervisorLive({ maxConcurrent }).pipe(
          Layer.provide(Layer.succeed(TaskRunner, runner)),
          Layer.provideMerge(ConversationStoreMemory),
        ),
      ),
    )
  })

/** A conversation with one recorded task per message, submitted in order. */
const submitAll = (conversationId: ConversationId, ids: ReadonlyArray<string>, harness: Harness) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const supervisor = yield* TaskSupervisor
    const taskIds: Array<TaskId> = []
    for (const id of ids) {
      const task = yield* store.createTask({ conversationId, sender: "ann@example.com", title: id })
      taskIds.push(task.id)
      yield* supervisor.submit({
        conversationId,
        message: message(id),
        taskId: task.id,
        isNew: false,
        channel: channelFor(harness.errorReplies),
      })
    }
    return taskIds
  })

const newConversation = Effect.flatMap(ConversationStore, (store) =>
  store.createConversation({ repoId: "app", channel: "email", threadKeys: [], model: "opus" }),
)

const reasonOf = (taskId: TaskId) =>
  Effect.flatMap(ConversationStore, (store) => store.getTask(taskId)).pipe(
    Effect.map((task) => [task.state, Option.getOrNull(task.completionReason)] as const),
  )

/** Waits until the task is completed, polling the store (the supervisor records asynchronously). */
const completed = (taskId: TaskId) =>
  reasonOf(taskId).pipe(
    Effect.filterOrFail(
      ([state]) => state === "completed",
      () => "not yet",
    ),
    Effect.retry(Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(400)))),
    Effect.orDie,
  )

describe("TaskSupervisorLive", () => {
  it.scopedLive("runs at most max_concurrent tasks at once; the next starts when one ends", () =>
    run(2, (h) =>
      Effect.gen(function* () {
        const conversations = yield* Effect.all([newConversation, newConversation, newConversation])
        const tasks: Array<TaskId> = []
        for (const [i, c] of conversations.entries()) tasks.push(...(yield* submitAll(c.id, [`m${i}`], h)))
        const first = yield* Queue.take(h.started)
        const second = yield* Queue.take(h.started)
        assert.deepStrictEqual(new Set([first.taskId, second.taskId]), new Set([tasks[0], tasks[1]]))
        // The third waits for a slot: nothing else starts while both run.
        yield* Effect.yieldNow({ priority: 1000 })
        assert.strictEqual(yield* Queue.size(h.started), 0)
        assert.deepStrictEqual(yield* reasonOf(tasks[2] ?? first.taskId), ["pending", null])
        yield* h.release(first.taskId)
        const third = yield* Queue.take(h.started)
        assert.strictEqual(third.taskId, tasks[2])
        assert.deepStrictEqual(yield* completed(first.taskId), ["completed", "success"])
      }),
    ),
  )

  it.scopedLive("messages into a busy conversation coalesce into one follow-up run, oldest first", () =>
    run(3, (h) =>
      Effect.gen(function* () {
        const conversation = yield* newConversation
        const [t1] = yield* submitAll(conversation.id, ["first"], h)
        const running = yield* Queue.take(h.started)
        assert.strictEqual(running.taskId, t1)
        const [t2, t3] = yield* submitAll(conversation.id, ["second", "third"], h)
        yield* h.release(running.taskId)
        const followUp = yield* Queue.take(h.started)
        assert.strictEqual(followUp.taskId, t2)
        assert.deepStrictEqual(
          followUp.messages.map((m) => m.subject),
          ["second", "third"],
        )
        assert.deepStrictEqual(yield* completed(t3 ?? t1 ?? followUp.taskId), ["completed", "coalesced"])
        yield* h.release(followUp.taskId, { reason: "error", detail: "agent failed" })
        assert.deepStrictEqual(yield* completed(followUp.taskId), ["completed", "error"])
      }),
    ),
  )

  it.scopedLive(
    "stop interrupts a running task and a waiting one never runs; both are recorded stopped",
    () =>
      run(1, (h) =>
        Effect.gen(function* () {
          const supervisor = yield* TaskSupervisor
          const changes = yield* supervisor.changes.pipe(
            Stream.filter((c) => c.task.state === "completed"),
            Stream.take(2),
            Stream.runCollect,
            Effect.fork,
          )
          const [a, b] = yield* Effect.all([newConversation, newConversation])
          const [running] = yield* submitAll(a.id, ["runs"], h)
          const [waiting] = yield* submitAll(b.id, ["waits"], h)
          const job = yield* Queue.take(h.started)
          assert.strictEqual(job.taskId, running)
          yield* supervisor.stop(job.taskId)
          yield* supervisor.stop(waiting ?? job.taskId)
          assert.deepStrictEqual(yield* completed(job.taskId), ["completed", "stopped"])
          assert.deepStrictEqual(yield* completed(waiting ?? job.taskId), ["completed", "stopped"])
          const published = Chunk.toReadonlyArray(yield* Fiber.join(changes))
          assert.deepStrictEqual(new Set(published.map((c) => c.task.id)), new Set([running, waiting]))
          // The waiting task never reached the runner.
          yield* Effect.yieldNow({ priority: 1000 })
          assert.strictEqual(yield* Queue.size(h.started), 0)
          const again = yield* supervisor.stop(job.taskId).pipe(Effect.flip)
          assert.strictEqual(again._tag, "TaskAlreadyCompleted")
        }),
      ),
  )

  it.scopedLive("drain waits for running tasks within the grace period", () =>
    run(2, (h) =>
      Effect.gen(function* () {
        const supervisor = yield* TaskSupervisor
        const conversation = yield* newConversation
        const [task] = yield* submitAll(conversation.id, ["quick"], h)
        const job = yield* Queue.take(h.started)
        const draining = yield* supervisor.drain(Duration.seconds(30)).pipe(Effect.fork)
        yield* h.release(job.taskId)
        yield* Fiber.join(draining)
        assert.deepStrictEqual(yield* reasonOf(task ?? job.taskId), ["completed", "success"])
        assert.deepStrictEqual(yield* Ref.get(h.errorReplies), [])
      }),
    ),
  )

  it.scopedLive(
    "drain past the grace period interrupts, records interrupted, tells the sender, refuses new work",
    () =>
      run(1, (h) =>
        Effect.gen(function* () {
          const supervisor = yield* TaskSupervisor
          const [a, b] = yield* Effect.all([newConversation, newConversation])
          yield* submitAll(a.id, ["slow"], h)
          const [queued] = yield* submitAll(b.id, ["queued"], h)
          const running = yield* Queue.take(h.started)
          // As the daemon calls it: from a finalizer, which runs uninterruptibly.
          yield* supervisor.drain(Duration.millis(50)).pipe(Effect.uninterruptible)
          assert.deepStrictEqual(yield* reasonOf(running.taskId), ["completed", "interrupted"])
          assert.deepStrictEqual(yield* reasonOf(queued ?? running.taskId), ["completed", "interrupted"])
          const told = yield* Ref.get(h.errorReplies)
          assert.strictEqual(told.length, 2)
          assert.include(told[0] ?? "", "ann@example.com: The gateway was restarted")
          assert.deepStrictEqual(yield* supervisor.active, [])
          const refused = yield* submitAll(a.id, ["late"], h).pipe(Effect.flip)
          assert.strictEqual(refused._tag, "SupervisorClosed")
        }),
      ),
  )
})
