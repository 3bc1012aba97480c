import { addEqualityTesters, describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, type Layer, Option, TestClock } from "effect"
import type { NewConversation } from "../../src/schema/Conversation.js"
import type { NewInbound } from "../../src/schema/InboundRecord.js"
import type { NewNetworkLogEntry } from "../../src/schema/NetworkLogEntry.js"
import type { NewReply } from "../../src/schema/Reply.js"
import type { Task } from "../../src/schema/Task.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"

// Compare DateTime and Option by value inside plain objects.
addEqualityTesters()

const conversationInput = (overrides: Partial<NewConversation> = {}): NewConversation => ({
  repoId: "website",
  channel: "email",
  threadKeys: [],
  model: "opus",
  ...overrides,
})

const replyInput = (task: Task, overrides: Partial<NewReply> = {}): NewReply => ({
  conversationId: task.conversationId,
  taskId: task.id,
  durationMs: 1234,
  turns: 3,
  usage: { input_tokens: 10, output_tokens: 20, server_tool_use: { web_search_requests: 1 } },
  requestText: "please fix the build",
  responseText: "done: https://example.invalid/pr/1",
  outcome: "Success",
  ...overrides,
})

const networkInput = (path: string, overrides: Partial<NewNetworkLogEntry> = {}): NewNetworkLogEntry => ({
  at: DateTime.unsafeMake(5_000),
  verdict: "allowed",
  method: "GET",
  host: "api.github.com",
  path,
  swappedSecrets: 0,
  ...overrides,
})

const millis = (d: DateTime.Utc) => DateTime.toEpochMillis(d)

/** Time since the TestClock epoch, as the store stamps it. */
const at = (duration: Duration.DurationInput) => Duration.toMillis(duration)

/** One set of behaviours every `ConversationStore` layer must have; each test gets a fresh store. */
export const storeSuite = <E>(name: string, layer: Layer.Layer<ConversationStore, E>) =>
  describe(name, () => {
    const test = (title: string, body: Effect.Effect<void, unknown, ConversationStore>) =>
      it.effect(title, () => Effect.provide(body, layer))

    const setup = Effect.gen(function* () {
      const store = yield* ConversationStore
      const conversation = yield* store.createConversation(conversationInput({ threadKeys: ["<m1@x>"] }))
      const task = yield* store.createTask({
        conversationId: conversation.id,
        sender: "a@x",
        title: "fix it",
      })
      return { store, conversation, task }
    })

    test(
      "creates a conversation and finds it by any of its thread keys",
      Effect.gen(function* () {
        const store = yield* ConversationStore
        yield* TestClock.adjust("1 minute")
        const created = yield* store.createConversation(
          conversationInput({ threadKeys: ["<a@x>", "<b@x>"], effort: "high" }),
        )
        expect(created.id).toMatch(/^[0-9a-f]{8}$/)
        expect(created.threadKeys).toEqual(["<a@x>", "<b@x>"])
        expect(created.effort).toEqual(Option.some("high"))
        expect(created.sessionId).toEqual(Option.none())
        expect(millis(created.createdAt)).toBe(at("1 minute"))
        expect(millis(created.updatedAt)).toBe(at("1 minute"))

        expect(yield* store.getConversation(created.id)).toEqual(created)
        const found = yield* store.findByThreadKey({
          channel: "email",
          repoId: "website",
          keys: ["<unknown@x>", "<b@x>"],
        })
        expect(found).toEqual(Option.some(created))
        // Keys are scoped to channel and repo.
        expect(
          yield* store.findByThreadKey({ channel: "slack", repoId: "website", keys: ["<a@x>"] }),
        ).toEqual(Option.none())
        expect(yield* store.findByThreadKey({ channel: "email", repoId: "other", keys: ["<a@x>"] })).toEqual(
          Option.none(),
        )
        expect(yield* store.findByThreadKey({ channel: "email", repoId: "website", keys: [] })).toEqual(
          Option.none(),
        )
      }),
    )

    test(
      "a thread key stays with the conversation that claimed it first",
      Effect.gen(function* () {
        const store = yield* ConversationStore
        const first = yield* store.createConversation(conversationInput({ threadKeys: ["k1"] }))
        const second = yield* store.createConversation(conversationInput({ threadKeys: ["k1", "k2"] }))
        expect(second.threadKeys).toEqual(["k2"])

        yield* store.addThreadKeys(first.id, ["k2", "k3", "k3", "k1"])
        expect((yield* store.getConversation(first.id)).threadKeys).toEqual(["k1", "k3"])
        const byK2 = yield* store.findByThreadKey({ channel: "email", repoId: "website", keys: ["k2"] })
        expect(Option.map(byK2, (c) => c.id)).toEqual(Option.some(second.id))

        // The same key on another channel is a different key.
        const slack = yield* store.createConversation(
          conversationInput({ channel: "slack", threadKeys: ["k1"] }),
        )
        expect(slack.threadKeys).toEqual(["k1"])
      }),
    )

    test(
      "unknown conversations fail with ConversationNotFound",
      Effect.gen(function* () {
        const { store, conversation } = yield* setup
        yield* store.deleteConversation(conversation.id)
        const id = conversation.id
        for (const error of [
          yield* Effect.flip(store.getConversation(id)),
          yield* Effect.flip(store.addThreadKeys(id, ["x"])),
          yield* Effect.flip(store.setSession(id, "s")),
          yield* Effect.flip(store.createTask({ conversationId: id, sender: "a", title: "t" })),
          yield* Effect.flip(store.deleteConversation(id)),
          yield* Effect.flip(
            store.recordInbound({
              channel: "email",
              channelMessageId: "<new@x>",
              repoId: "website",
              conversationId: id,
              sender: "a@x",
              threadKeys: [],
            }),
          ),
        ]) {
          expect(error).toMatchObject({ _tag: "ConversationNotFound", id })
        }
        expect(yield* store.listReplies(id)).toEqual([])
      }),
    )

    test(
      "recordInbound is idempotent by channel and message id",
      Effect.gen(function* () {
        const { store, conversation } = yield* setup
        yield* TestClock.adjust("5 minutes")
        const inbound: NewInbound = {
          channel: "email",
          channelMessageId: "<m2@x>",
          repoId: "website",
          conversationId: conversation.id,
          sender: "a@x",
          threadKeys: ["<m2@x>", "<m1@x>"],
        }
        expect(yield* store.recordInbound(inbound)).toBe(true)
        const after = yield* store.getConversation(conversation.id)
        expect(after.threadKeys).toEqual(["<m1@x>", "<m2@x>"])
        expect(millis(after.updatedAt)).toBe(at("5 minutes"))

        yield* TestClock.adjust("5 minutes")
        expect(yield* store.recordInbound({ ...inbound, threadKeys: ["<other@x>"] })).toBe(false)
        // A redelivery changes nothing.
        expect(yield* store.getConversation(conversation.id)).toEqual(after)
        // The same id on the other channel is another message.
        expect(yield* store.recordInbound({ ...inbound, channel: "slack" })).toBe(true)
      }),
    )

    test(
      "setSession sets the resume target",
      Effect.gen(function* () {
        const { store, conversation } = yield* setup
        yield* TestClock.adjust("1 hour")
        yield* store.setSession(conversation.id, "session-1")
        const after = yield* store.getConversation(conversation.id)
        expect(after.sessionId).toEqual(Option.some("session-1"))
        expect(millis(after.updatedAt)).toBe(at("1 hour"))
      }),
    )

    test(
      "tasks move through their states; completed is final",
      Effect.gen(function* () {
        const { store, conversation, task } = yield* setup
        expect(task.id).toMatch(/^[0-9a-f]{12}$/)
        expect(task.conversationId).toBe(conversation.id)
        expect(task.state).toBe("queued")
        expect(task.startedAt).toEqual(Option.none())
        expect(task.completionReason).toEqual(Option.none())

        yield* TestClock.adjust("1 second")
        expect((yield* store.updateTaskState(task.id, { state: "authenticating" })).state).toBe(
          "authenticating",
        )
        yield* TestClock.adjust("1 second")
        const executing = yield* store.updateTaskState(task.id, { state: "executing" })
        expect(executing.startedAt.pipe(Option.map(millis))).toEqual(Option.some(at("2 seconds")))
        yield* TestClock.adjust("1 second")
        yield* store.updateTaskState(task.id, { state: "pending" })
        const again = yield* store.updateTaskState(task.id, { state: "executing" })
        // Started once: a later return to executing keeps the first start.
        expect(again.startedAt).toEqual(executing.startedAt)

        yield* TestClock.adjust("1 minute")
        const done = yield* store.updateTaskState(task.id, {
          state: "completed",
          reason: "success",
          detail: "pr opened",
        })
        expect(done.state).toBe("completed")
        expect(done.completionReason).toEqual(Option.some("success"))
        expect(done.completionDetail).toEqual(Option.some("pr opened"))
        expect(done.completedAt.pipe(Option.map(millis))).toEqual(Option.some(at("63 seconds")))
        expect(yield* store.getTask(task.id)).toEqual(done)

        const late = yield* Effect.flip(
          store.updateTaskState(task.id, { state: "completed", reason: "stopped" }),
        )
        expect(late).toMatchObject({
          _tag: "TaskAlreadyCompleted",
          id: task.id,
          reason: Option.some("success"),
        })
        expect(yield* store.getTask(task.id)).toEqual(done)
      }),
    )

    test(
      "unknown tasks fail with TaskNotFound",
      Effect.gen(function* () {
        const { store, conversation, task } = yield* setup
        yield* store.deleteConversation(conversation.id)
        for (const error of [
          yield* Effect.flip(store.getTask(task.id)),
          yield* Effect.flip(store.updateTaskState(task.id, { state: "executing" })),
          yield* Effect.flip(store.appendEvents(task.id, ["{}"])),
          yield* Effect.flip(store.appendEvents(task.id, [])),
          yield* Effect.flip(store.appendNetwork(task.id, [networkInput("/")])),
        ]) {
          expect(error).toMatchObject({ _tag: "TaskNotFound", id: task.id })
        }
      }),
    )

    test(
      "listTasks is newest first, by state and by conversation",
      Effect.gen(function* () {
        const { store, conversation, task: t1 } = yield* setup
        const other = yield* store.createConversation(conversationInput())
        const t2 = yield* store.createTask({ conversationId: other.id, sender: "b@x", title: "two" })
        const t3 = yield* store.createTask({ conversationId: conversation.id, sender: "a@x", title: "three" })
        yield* store.updateTaskState(t2.id, { state: "executing" })
        yield* store.updateTaskState(t3.id, { state: "completed", reason: "rejected" })

        const ids = (tasks: ReadonlyArray<Task>) => tasks.map((t) => t.id)
        expect(ids(yield* store.listTasks())).toEqual([t3.id, t2.id, t1.id])
        expect(ids(yield* store.listTasks({ limit: 2 }))).toEqual([t3.id, t2.id])
        expect(ids(yield* store.listTasks({ state: "executing" }))).toEqual([t2.id])
        expect(ids(yield* store.listTasks({ state: "queued" }))).toEqual([t1.id])
        expect(ids(yield* store.listTasks({ conversationId: conversation.id }))).toEqual([t3.id, t1.id])
        expect(ids(yield* store.listTasks({ conversationId: conversation.id, state: "completed" }))).toEqual([
          t3.id,
        ])
        expect(yield* store.listTasks({ limit: 0 })).toEqual([])
      }),
    )

    test(
      "replies are numbered per conversation and carry the resume session",
      Effect.gen(function* () {
        const { store, conversation, task } = yield* setup
        yield* TestClock.adjust("10 minutes")
        const first = yield* store.recordReply(replyInput(task, { sessionId: "s1", costUsd: 0.25 }))
        expect(first.index).toBe(0)
        expect(millis(first.at)).toBe(at("10 minutes"))
        expect(first.costUsd).toEqual(Option.some(0.25))
        expect((yield* store.getConversation(conversation.id)).sessionId).toEqual(Option.some("s1"))

        const task2 = yield* store.createTask({
          conversationId: conversation.id,
          sender: "a@x",
          title: "more",
        })
        const second = yield* store.recordReply(replyInput(task2, { outcome: "TaskTimeout" }))
        expect(second.index).toBe(1)
        expect(second.sessionId).toEqual(Option.none())
        expect(second.costUsd).toEqual(Option.none())
        // A run without a session keeps the previous resume target.
        expect((yield* store.getConversation(conversation.id)).sessionId).toEqual(Option.some("s1"))

        const third = yield* store.recordReply(replyInput(task2, { sessionId: "s2" }))
        expect((yield* store.getConversation(conversation.id)).sessionId).toEqual(Option.some("s2"))

        expect(yield* store.listReplies(conversation.id)).toEqual([first, second, third])
        expect(first.usage).toEqual({
          input_tokens: 10,
          output_tokens: 20,
          server_tool_use: { web_search_requests: 1 },
        })

        // Numbering is per conversation.
        const other = yield* store.createConversation(conversationInput())
        const otherTask = yield* store.createTask({ conversationId: other.id, sender: "b@x", title: "x" })
        expect((yield* store.recordReply(replyInput(otherTask))).index).toBe(0)

        // The task must belong to the conversation.
        const wrong = yield* Effect.flip(
          store.recordReply({ ...replyInput(otherTask), conversationId: conversation.id }),
        )
        expect(wrong).toMatchObject({ _tag: "TaskNotFound", id: otherTask.id })
        expect(yield* store.listReplies(conversation.id)).toHaveLength(3)
      }),
    )

    test(
      "events are read from an offset, and tailing sees each new line once",
      Effect.gen(function* () {
        const { store, conversation, task } = yield* setup
        const task2 = yield* store.createTask({ conversationId: conversation.id, sender: "a@x", title: "2" })
        yield* TestClock.adjust("3 seconds")
        yield* store.appendEvents(task.id, ['{"type":"system"}', '{"type":"assistant"}'])
        yield* store.appendEvents(task2.id, ['{"n":1}'])
        yield* store.appendEvents(task.id, [])

        const all = yield* store.readEvents({ taskId: task.id }, 0, 100)
        expect(all.events.map((e) => e.line)).toEqual(['{"type":"system"}', '{"type":"assistant"}'])
        expect(all.events.every((e) => e.taskId === task.id && e.conversationId === conversation.id)).toBe(
          true,
        )
        expect(all.events.map((e) => millis(e.at))).toEqual([at("3 seconds"), at("3 seconds")])
        const [a, b] = all.events
        expect(a !== undefined && b !== undefined && a.offset < b.offset).toBe(true)
        expect(all.nextOffset).toBe((b?.offset ?? 0) + 1)

        // Paging.
        const one = yield* store.readEvents({ taskId: task.id }, 0, 1)
        expect(one.events.map((e) => e.line)).toEqual(['{"type":"system"}'])
        const two = yield* store.readEvents({ taskId: task.id }, one.nextOffset, 1)
        expect(two.events.map((e) => e.line)).toEqual(['{"type":"assistant"}'])

        // Tail: nothing new keeps the offset; a later append shows up from it.
        const idle = yield* store.readEvents({ taskId: task.id }, all.nextOffset, 100)
        expect(idle).toEqual({ events: [], nextOffset: all.nextOffset })
        yield* store.appendEvents(task.id, ['{"type":"result"}'])
        const tail = yield* store.readEvents({ taskId: task.id }, all.nextOffset, 100)
        expect(tail.events.map((e) => e.line)).toEqual(['{"type":"result"}'])
        expect(tail.nextOffset).toBeGreaterThan(all.nextOffset)

        // A conversation's log interleaves its tasks in append order.
        const whole = yield* store.readEvents({ conversationId: conversation.id }, 0, 100)
        expect(whole.events.map((e) => e.line)).toEqual([
          '{"type":"system"}',
          '{"type":"assistant"}',
          '{"n":1}',
          '{"type":"result"}',
        ])
        expect(yield* store.readEvents({ taskId: task.id }, 0, 0)).toEqual({ events: [], nextOffset: 0 })
      }),
    )

    test(
      "network log entries are read from an offset",
      Effect.gen(function* () {
        const { store, conversation, task } = yield* setup
        yield* store.appendNetwork(task.id, [
          networkInput("/repos/a", { status: 200, bytes: 512, durationMs: 12.5, swappedSecrets: 1 }),
          networkInput("/evil", { verdict: "blocked", host: "evil.example", method: "POST" }),
        ])
        const first = yield* store.readNetwork({ taskId: task.id }, 0, 100)
        expect(first.entries).toHaveLength(2)
        const [allowed, blocked] = first.entries
        expect(allowed).toMatchObject({
          taskId: task.id,
          conversationId: conversation.id,
          verdict: "allowed",
          method: "GET",
          host: "api.github.com",
          path: "/repos/a",
          status: Option.some(200),
          bytes: Option.some(512),
          durationMs: Option.some(12.5),
          swappedSecrets: 1,
        })
        expect(allowed?.at).toEqual(DateTime.unsafeMake(5_000))
        expect(blocked).toMatchObject({
          verdict: "blocked",
          host: "evil.example",
          status: Option.none(),
          bytes: Option.none(),
          durationMs: Option.none(),
        })

        yield* store.appendNetwork(task.id, [networkInput("/later")])
        const tail = yield* store.readNetwork({ conversationId: conversation.id }, first.nextOffset, 100)
        expect(tail.entries.map((e) => e.path)).toEqual(["/later"])
        expect(yield* store.readNetwork({ taskId: task.id }, tail.nextOffset, 100)).toEqual({
          entries: [],
          nextOffset: tail.nextOffset,
        })
      }),
    )

    test(
      "rejections are listed newest first",
      Effect.gen(function* () {
        const store = yield* ConversationStore
        const first = yield* store.recordRejection({
          channel: "email",
          repoId: "website",
          sender: "mallory@x",
          reason: "unauthenticated",
          detail: "dmarc=fail",
          channelMessageId: "<r1@x>",
        })
        yield* TestClock.adjust("1 minute")
        const second = yield* store.recordRejection({
          channel: "slack",
          repoId: "docs",
          sender: "U123",
          reason: "unauthorized",
          detail: "not in allowed group",
        })
        expect(first.channelMessageId).toEqual(Option.some("<r1@x>"))
        expect(second.channelMessageId).toEqual(Option.none())
        expect(millis(second.at)).toBe(at("1 minute"))
        expect(yield* store.listRejections()).toEqual([second, first])
        expect(yield* store.listRejections({ repoId: "website" })).toEqual([first])
        expect(yield* store.listRejections({ limit: 1 })).toEqual([second])
      }),
    )

    test(
      "markRunningTasksInterrupted completes every unfinished task",
      Effect.gen(function* () {
        const { store, conversation, task: queued } = yield* setup
        const executing = yield* store.createTask({
          conversationId: conversation.id,
          sender: "a",
          title: "e",
        })
        const done = yield* store.createTask({ conversationId: conversation.id, sender: "a", title: "d" })
        yield* store.updateTaskState(executing.id, { state: "executing" })
        const finished = yield* store.updateTaskState(done.id, { state: "completed", reason: "success" })

        yield* TestClock.adjust("2 hours")
        const cut = yield* store.markRunningTasksInterrupted
        expect(cut.map((t) => t.id).sort()).toEqual([queued.id, executing.id].sort())
        for (const t of cut) {
          expect(t.state).toBe("completed")
          expect(t.completionReason).toEqual(Option.some("interrupted"))
          expect(t.completedAt.pipe(Option.map(millis))).toEqual(Option.some(at("2 hours")))
          expect(yield* store.getTask(t.id)).toEqual(t)
        }
        expect(yield* store.getTask(done.id)).toEqual(finished)
        expect(yield* store.markRunningTasksInterrupted).toEqual([])
      }),
    )

    test(
      "garbage collection lists idle conversations and deletes everything of one",
      Effect.gen(function* () {
        const { store, conversation: old, task } = yield* setup
        yield* store.recordInbound({
          channel: "email",
          channelMessageId: "<m1@x>",
          repoId: "website",
          conversationId: old.id,
          sender: "a@x",
          threadKeys: ["<m1@x>"],
        })
        yield* store.appendEvents(task.id, ["{}"])
        yield* store.appendNetwork(task.id, [networkInput("/")])
        yield* store.recordReply(replyInput(task))
        yield* store.updateTaskState(task.id, { state: "completed", reason: "success" })

        // Old too, but still running: not collectable.
        const running = yield* store.createConversation(conversationInput())
        const runningTask = yield* store.createTask({ conversationId: running.id, sender: "a", title: "r" })
        yield* store.updateTaskState(runningTask.id, { state: "executing" })

        yield* TestClock.adjust("2 days")
        const recent = yield* store.createConversation(conversationInput())
        const cutoff = DateTime.unsafeMake(at("1 day"))
        expect((yield* store.listConversationsOlderThan(cutoff)).map((c) => c.id)).toEqual([old.id])
        expect(
          (yield* store.listConversationsOlderThan(DateTime.unsafeMake(at("3 days")))).map((c) => c.id),
        ).toEqual([old.id, recent.id])

        yield* store.deleteConversation(old.id)
        expect(yield* Effect.flip(store.getConversation(old.id))).toMatchObject({
          _tag: "ConversationNotFound",
        })
        expect(yield* Effect.flip(store.getTask(task.id))).toMatchObject({ _tag: "TaskNotFound" })
        expect(yield* store.listReplies(old.id)).toEqual([])
        expect((yield* store.readEvents({ conversationId: old.id }, 0, 100)).events).toEqual([])
        expect((yield* store.readEvents({ taskId: task.id }, 0, 100)).events).toEqual([])
        expect((yield* store.readNetwork({ taskId: task.id }, 0, 100)).entries).toEqual([])
        expect(yield* store.listTasks({ conversationId: old.id })).toEqual([])
        expect(
          yield* store.findByThreadKey({ channel: "email", repoId: "website", keys: ["<m1@x>"] }),
        ).toEqual(Option.none())
        expect((yield* store.listConversationsOlderThan(cutoff)).map((c) => c.id)).toEqual([])

        // The ledger outlives the conversation: a late redelivery still does not run.
        expect(
          yield* store.recordInbound({
            channel: "email",
            channelMessageId: "<m1@x>",
            repoId: "website",
            conversationId: recent.id,
            sender: "a@x",
            threadKeys: ["<m1@x>"],
          }),
        ).toBe(false)
        // Its thread keys are free again.
        const reused = yield* store.createConversation(conversationInput({ threadKeys: ["<m1@x>"] }))
        expect(reused.threadKeys).toEqual(["<m1@x>"])
      }),
    )

    test(
      "healthCheck passes on a working store",
      Effect.flatMap(ConversationStore, (store) => store.healthCheck),
    )
  })
