import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Option, Ref, Schema, Stream } from "effect"
import { ConversationStoreMemory } from "../../src/layers/ConversationStoreMemory.js"
import { composePrompt } from "../../src/layers/gateway/prompt.js"
import { acceptMessage } from "../../src/programs/gateway/acceptMessage.js"
import { ConversationId } from "../../src/schema/ConversationId.js"
import type { InboundMessage } from "../../src/schema/InboundMessage.js"
import { ServerConfig } from "../../src/schema/ServerConfig.js"
import type { ChannelShape } from "../../src/services/Channel.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import { type Submission, TaskSupervisor } from "../../src/services/TaskSupervisor.js"

const config = Schema.decodeUnknownSync(ServerConfig)({
  repos: {
    app: {
      repo_url: "https://example.com/app.git",
      model: "opus",
      effort: "high",
      email: {
        account: { username: "a@example.com", from: "a@example.com" },
        imap: { server: "imap.example.com" },
        smtp: { server: "smtp.example.com" },
        auth: { authorized_senders: ["ann@example.com"], trusted_authserv_id: "mx.example.com" },
      },
    },
  },
})
const repo = config.repos.app
if (repo === undefined) throw new Error("fixture config has no repo")

const inbound = (id: string, extra: Partial<InboundMessage> = {}): InboundMessage => ({
  channel: "email",
  repoId: "app",
  channelMessageId: `<${id}@example.com>`,
  sender: "ann@example.com",
  senderName: "Ann",
  subject: `subject ${id}`,
  body: `body ${id}`,
  threadKeys: [],
  conversationId: Option.none(),
  attachments: [],
  modelHint: Option.none(),
  receivedAt: DateTime.unsafeMake(Date.UTC(2026, 10, 23, 9, 30)),
  receipt: { channel: "email", repoId: "app", key: id },
  ...extra,
})

const harness = Effect.gen(function* () {
  const acks = yield* Ref.make<ReadonlyArray<string>>([])
  const started = yield* Ref.make(0)
  const submissions = yield* Ref.make<ReadonlyArray<Submission>>([])
  const channel: ChannelShape = {
    kind: "email",
    repoId: "app",
    inbound: Stream.empty,
    acknowledge: (receipt) => Ref.update(acks, (all) => [...all, receipt.key]),
    reply: () => Effect.succeed({ messageId: "<r@x>", unattached: [] }),
    replyError: () => Effect.succeed({ messageId: "<e@x>", unattached: [] }),
    notifyStarted: () =>
      Ref.update(started, (n) => n + 1).pipe(Effect.as({ messageId: "<started@x>", unattached: [] })),
    progress: () => Effect.void,
    health: Effect.succeed({ _tag: "Connected" }),
    healthChanges: Stream.empty,
  }
  const supervisor = TaskSupervisor.of({
    submit: (s) => Ref.update(submissions, (all) => [...all, s]),
    stop: () => Effect.void,
    changes: Stream.empty,
    active: Effect.succeed([]),
    drain: () => Effect.void,
  })
  const accept = (message: InboundMessage) =>
    acceptMessage(message, { repo, channel, notice: () => ({ dashboardUrl: Option.none() }) }).pipe(
      Effect.provideService(TaskSupervisor, supervisor),
    )
  return { acks, started, submissions, accept }
})

describe("acceptMessage", () => {
  it.effect(
    "a new message starts a conversation with the repo's model and effort, is acknowledged and submitted",
    () =>
      Effect.gen(function* () {
        const h = yield* harness
        const store = yield* ConversationStore
        yield* h.accept(inbound("m1"))
        const [submission] = yield* Ref.get(h.submissions)
        assert.isTrue(submission?.isNew)
        const conversation = yield* store.getConversation(
          submission?.conversationId ?? ConversationId.make("00000000"),
        )
        assert.strictEqual(conversation.model, "opus")
        assert.deepStrictEqual(conversation.effort, Option.some("high"))
        // Its own id and our acknowledgement's id both find the conversation later.
        assert.includeMembers([...conversation.threadKeys], ["<m1@example.com>", "<started@x>"])
        assert.deepStrictEqual(yield* Ref.get(h.acks), ["m1"])
        assert.strictEqual(yield* Ref.get(h.started), 1)
        const task = yield* store.getTask(submission?.taskId ?? conversation.id)
        assert.strictEqual(task.title, "subject m1")
      }).pipe(Effect.provide(ConversationStoreMemory)),
  )

  it.effect("a redelivered message is settled again and never runs twice", () =>
    Effect.gen(function* () {
      const h = yield* harness
      yield* h.accept(inbound("m1"))
      yield* h.accept(inbound("m1"))
      assert.strictEqual((yield* Ref.get(h.submissions)).length, 1)
      assert.deepStrictEqual(yield* Ref.get(h.acks), ["m1", "m1"])
      assert.strictEqual(yield* Ref.get(h.started), 1)
    }).pipe(Effect.provide(ConversationStoreMemory)),
  )

  it.effect("a reply continues its conversation; its model hint does not switch the model", () =>
    Effect.gen(function* () {
      const h = yield* harness
      yield* h.accept(inbound("m1", { modelHint: Option.some("sonnet") }))
      yield* h.accept(inbound("m2", { threadKeys: ["<started@x>"], modelHint: Option.some("haiku") }))
      const [first, second] = yield* Ref.get(h.submissions)
      assert.strictEqual(second?.conversationId, first?.conversationId)
      assert.isFalse(second?.isNew)
      const store = yield* ConversationStore
      const conversation = yield* store.getConversation(
        first?.conversationId ?? ConversationId.make("00000000"),
      )
      assert.strictEqual(conversation.model, "sonnet")
    }).pipe(Effect.provide(ConversationStoreMemory)),
  )

  it.effect("a conversation id of another repository does not open that conversation", () =>
    Effect.gen(function* () {
      const h = yield* harness
      const store = yield* ConversationStore
      const other = yield* store.createConversation({
        repoId: "secret-repo",
        channel: "email",
        threadKeys: [],
        model: "opus",
      })
      yield* h.accept(inbound("m1", { conversationId: Option.some(other.id) }))
      const [submission] = yield* Ref.get(h.submissions)
      assert.isTrue(submission?.isNew)
      assert.notStrictEqual(submission?.conversationId, other.id)
    }).pipe(Effect.provide(ConversationStoreMemory)),
  )
})

describe("composePrompt", () => {
  it("one message: the channel context, the attachment note, then subject and body", () => {
    const prompt = composePrompt("email", [{ message: inbound("m1"), savedAttachments: ["a.pdf"] }])
    const [context, note, text] = prompt.split("\n\n")
    assert.include(context, "email")
    assert.include(context, "/outbox")
    assert.include(context, "/storage")
    assert.include(context, "cannot ask questions")
    assert.strictEqual(note, "Attached to this message, saved in /inbox: /inbox/a.pdf.")
    assert.strictEqual(text, "Subject: subject m1")
    assert.isTrue(prompt.endsWith("Subject: subject m1\n\nbody m1"))
  })

  it("coalesced messages are each headed with sender and time, oldest first", () => {
    const prompt = composePrompt("slack", [
      { message: inbound("m1"), savedAttachments: [] },
      {
        message: inbound("m2", { subject: "", senderName: "bob@example.com", sender: "bob@example.com" }),
        savedAttachments: [],
      },
    ])
    assert.include(prompt, "Slack thread")
    assert.include(prompt, "2 messages arrived while you were busy")
    const first = prompt.indexOf(
      "From Ann <ann@example.com> at 2026-11-23T09:30:00.000Z:\nSubject: subject m1",
    )
    const second = prompt.indexOf("From bob@example.com at 2026-11-23T09:30:00.000Z:\nbody m2")
    assert.isAbove(first, -1)
    assert.isAbove(second, first)
  })
})
