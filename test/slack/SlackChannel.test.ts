import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted, Stream } from "effect"
import { makeConversationStoreMemory } from "../../src/layers/ConversationStoreMemory.js"
import { makeSlackChannel } from "../../src/layers/SlackChannelLive.js"
import type { ReplyTarget } from "../../src/schema/ChannelReply.js"
import { sanitizeFileName } from "../../src/schema/FileName.js"
import type { SlackConfig } from "../../src/schema/ServerConfig.js"
import { TaskProgress } from "../../src/schema/TaskProgress.js"
import type { ChannelShape } from "../../src/services/Channel.js"
import { ConversationStore, type ConversationStoreShape } from "../../src/services/ConversationStore.js"
import { appToken, botToken, botUserId, type FakeSlackShape, makeFakeSlack } from "../support/FakeSlack.js"

const alice = { id: "UALICE01", name: "Alice" }
const guest = { id: "UGUEST01", name: "Gus", restricted: true }
const bot = { id: "UOTHERBOT", name: "Robot", isBot: true }
const gone = { id: "UGONE001", name: "Gone", deleted: true }
const stranger = { id: "USTRANGE1", name: "Stranger", teamId: "TOTHER01" }
const carol = { id: "UCAROL01", name: "Carol", restricted: true }

const baseConfig = (rules: SlackConfig["authorized"], allowed: ReadonlyArray<string> = []): SlackConfig => ({
  bot_token: Redacted.make(botToken),
  app_token: Redacted.make(appToken),
  authorized: rules,
  allowed_channels: [...allowed],
  model_aliases: { fast: "claude-haiku" },
  api_url: "https://slack.invalid/api/",
})

interface Rig {
  readonly fake: FakeSlackShape
  readonly channel: ChannelShape
  readonly store: ConversationStoreShape
}

const poll = <A, E>(what: string, probe: Effect.Effect<A, E>, ok: (a: A) => boolean) =>
  Effect.gen(function* () {
    while (true) {
      const value = yield* probe
      if (ok(value)) return value
      yield* Effect.sleep("20 millis")
    }
  }).pipe(
    Effect.timeoutFail({
      duration: "8 seconds",
      onTimeout: () => new Error(`timed out waiting for ${what}`),
    }),
  )

const rig = (rules: SlackConfig["authorized"], allowed: ReadonlyArray<string> = []) =>
  Effect.gen(function* () {
    const fake = yield* makeFakeSlack()
    for (const u of [alice, guest, bot, gone, stranger, carol]) yield* fake.addUser(u)
    yield* fake.addGroup({ id: "S0ENG", handle: "eng", users: [carol.id] })
    const store = yield* makeConversationStoreMemory
    const channel = yield* makeSlackChannel({
      repoId: "repo",
      config: { ...baseConfig(rules, allowed), api_url: fake.apiUrl },
      reconnectStep: "200 millis",
      statusInterval: "300 millis",
    }).pipe(Effect.provideService(ConversationStore, store))
    yield* poll("connected", channel.health, (h) => h._tag === "Connected")
    return { fake, channel, store } satisfies Rig
  })

const nextInbound = (channel: ChannelShape) =>
  channel.inbound.pipe(
    Stream.runHead,
    Effect.flatMap(Effect.orElseFail(() => new Error("inbound ended"))),
    Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("no inbound message") }),
  )

/** Nothing arrives within a short wait. */
const noInbound = (channel: ChannelShape) =>
  channel.inbound.pipe(
    Stream.runHead,
    Effect.timeout("600 millis"),
    Effect.map((got) => Option.isNone(got)),
    Effect.catchTag("TimeoutException", () => Effect.succeed(true)),
  )

const dm = (user: string, ts: string, text: string, extra: Record<string, unknown> = {}) => ({
  type: "message",
  channel: "D0DM0001",
  channel_type: "im",
  user,
  text,
  ts,
  thread_ts: "1700000000.000001",
  ...extra,
})

const targetOf = (key: string, conversationId = "abcd1234"): ReplyTarget => ({
  conversationId: conversationId as ReplyTarget["conversationId"],
  recipient: "UALICE01",
  subject: "",
  inReplyTo: Option.some(key),
  references: [key],
})

describe("Slack channel over the fake Slack", () => {
  it.scopedLive(
    "a DM becomes one inbound message, settled only on acknowledge; the reply lands in the thread",
    () =>
      Effect.gen(function* () {
        const { fake, channel } = yield* rig([{ workspace_members: true }])
        const envelope = yield* fake.pushEvent(
          dm(alice.id, "1700000000.000005", "model: fast please **fix** <@UBOT0001>"),
        )
        const message = yield* nextInbound(channel)
        assert.strictEqual(message.sender, alice.id)
        assert.strictEqual(message.senderName, "Alice")
        assert.strictEqual(message.body, "please **fix**")
        assert.deepStrictEqual(message.modelHint, Option.some("claude-haiku"))
        assert.strictEqual(message.channelMessageId, "D0DM0001:1700000000.000001:1700000000.000005")
        assert.deepStrictEqual(message.threadKeys, ["D0DM0001:1700000000.000001:1700000000.000001"])
        assert.notInclude(yield* fake.acks, envelope)
        yield* channel.acknowledge(message.receipt)
        yield* poll("ack", fake.acks, (a) => a.includes(envelope))

        const sent = yield* channel.reply(targetOf(message.channelMessageId), {
          text: "Done: **merged** [PR](https://github.com/o/r/pull/7)",
          footer: Option.some("Cost: $0.01"),
          outboxFiles: [],
        })
        const posts = yield* fake.callsOf("chat.postMessage")
        assert.strictEqual(posts.length, 1)
        assert.strictEqual(posts[0]?.params.channel, "D0DM0001")
        assert.strictEqual(posts[0]?.params.thread_ts, "1700000000.000001")
        assert.strictEqual(
          posts[0]?.params.text,
          "Done: *merged* <https://github.com/o/r/pull/7|PR>\n\n_Cost: $0.01_",
        )
        assert.isTrue(sent.messageId.startsWith("D0DM0001:1700000000.000001:"))
      }),
  )

  it.scopedLive(
    "message and app_mention of one post are taken once; unmentioned, bot and edited messages are ignored",
    () =>
      Effect.gen(function* () {
        const { fake, channel } = yield* rig([{ workspace_members: true }])
        const post = {
          channel: "C0GENERAL",
          channel_type: "channel",
          user: alice.id,
          text: "<@UBOT0001> hi",
          ts: "1700000001.000001",
        }
        const e1 = yield* fake.pushEvent({ type: "message", ...post })
        const e2 = yield* fake.pushEvent({ type: "app_mention", ...post })
        const message = yield* nextInbound(channel)
        assert.strictEqual(message.body, "hi")
        const ignored = [
          yield* fake.pushEvent({ type: "message", ...post, ts: "1700000001.000002", text: "no mention" }),
          yield* fake.pushEvent({ type: "message", ...post, ts: "1700000001.000003", bot_id: "B1" }),
          yield* fake.pushEvent({
            type: "message",
            ...post,
            ts: "1700000001.000004",
            subtype: "message_changed",
          }),
          yield* fake.pushEvent({ type: "message", ...post, ts: "1700000001.000005", user: botUserId }),
        ]
        yield* poll("ignored events acknowledged", fake.acks, (a) => ignored.every((e) => a.includes(e)))
        assert.isTrue(yield* noInbound(channel))
        assert.notInclude(yield* fake.acks, e1)
        yield* channel.acknowledge(message.receipt)
        yield* poll("both envelopes acknowledged", fake.acks, (a) => a.includes(e1) && a.includes(e2))
      }),
  )

  it.scopedLive(
    "a thread that is a conversation stays engaged without a mention; allowed_channels limits channels",
    () =>
      Effect.gen(function* () {
        const { fake, channel, store } = yield* rig([{ workspace_members: true }], ["C0ALLOWED"])
        const root = {
          type: "message",
          channel: "C0ALLOWED",
          channel_type: "channel",
          user: alice.id,
          ts: "1700000002.000001",
        }
        yield* fake.pushEvent({ ...root, text: "<@UBOT0001> start" })
        const first = yield* nextInbound(channel)
        const conversation = yield* store.createConversation({
          repoId: "repo",
          channel: "slack",
          threadKeys: [],
          model: "m",
        })
        yield* store.recordInbound({
          channel: "slack",
          channelMessageId: first.channelMessageId,
          repoId: "repo",
          conversationId: conversation.id,
          sender: first.sender,
          threadKeys: [first.channelMessageId, ...first.threadKeys],
        })
        yield* channel.acknowledge(first.receipt)
        yield* fake.pushEvent({ ...root, ts: "1700000002.000009", thread_ts: root.ts, text: "and also this" })
        const follow = yield* nextInbound(channel)
        assert.strictEqual(follow.body, "and also this")
        assert.deepStrictEqual(follow.threadKeys, first.threadKeys)
        const elsewhere = yield* fake.pushEvent({
          ...root,
          channel: "C0OTHER",
          ts: "1700000002.000010",
          text: "<@UBOT0001> hey",
        })
        yield* poll("ack", fake.acks, (a) => a.includes(elsewhere))
        assert.isTrue(yield* noInbound(channel))
      }),
  )

  it.scopedLive(
    "authorization: rules in order, guests, bots, deactivated and foreign users refused and recorded, never answered",
    () =>
      Effect.gen(function* () {
        const { fake, channel, store } = yield* rig([{ user_group: "eng" }, { user_id: guest.id }])
        let n = 10
        const from = (user: string) => fake.pushEvent(dm(user, `1700000003.0000${n++}`, "hello"))
        for (const u of [alice, bot, gone, stranger]) yield* from(u.id)
        yield* poll("four rejections", store.listRejections(), (r) => r.length === 4)
        yield* from(carol.id) // in @eng
        assert.strictEqual((yield* nextInbound(channel)).sender, carol.id)
        yield* from(guest.id) // by user_id, guest or not
        assert.strictEqual((yield* nextInbound(channel)).sender, guest.id)
        const rejections = yield* store.listRejections()
        const detail = (id: string) => rejections.find((r) => r.sender === id)?.detail ?? ""
        assert.match(detail(alice.id), /no authorization rule/)
        assert.match(detail(bot.id), /bot/)
        assert.match(detail(gone.id), /deactivated/)
        assert.match(detail(stranger.id), /another workspace/)
        assert.isTrue(rejections.every((r) => r.reason === "unauthorized" && r.channel === "slack"))
        assert.strictEqual((yield* fake.callsOf("chat.postMessage")).length, 0)
        // Lookups are cached: one users.info per person.
        yield* from(carol.id)
        yield* nextInbound(channel)
        assert.strictEqual(
          (yield* fake.callsOf("users.info")).filter((c) => c.params.user === carol.id).length,
          1,
        )
        assert.strictEqual((yield* fake.callsOf("usergroups.users.list")).length, 1)
      }),
  )

  it.scopedLive("workspace_members admits full members only", () =>
    Effect.gen(function* () {
      const { fake, channel, store } = yield* rig([{ workspace_members: true }])
      yield* fake.pushEvent(dm(guest.id, "1700000004.000001", "hi"))
      yield* poll("rejection", store.listRejections(), (r) => r.length === 1)
      yield* fake.pushEvent(dm(alice.id, "1700000004.000002", "hi"))
      assert.strictEqual((yield* nextInbound(channel)).sender, alice.id)
    }),
  )

  it.scopedLive(
    "files shared in a message arrive as attachments; outbox files are uploaded to the thread",
    () =>
      Effect.gen(function* () {
        const { fake, channel } = yield* rig([{ workspace_members: true }])
        const url = yield* fake.addFile("data.csv", new TextEncoder().encode("a,b\n1,2\n"))
        yield* fake.pushEvent(
          dm(alice.id, "1700000005.000001", "see file", {
            subtype: "file_share",
            files: [{ id: "F1", name: "../data.csv", mimetype: "text/csv", size: 8, url_private: url }],
          }),
        )
        const message = yield* nextInbound(channel)
        assert.strictEqual(message.attachments.length, 1)
        assert.strictEqual(message.attachments[0]?.fileName, "data.csv")
        assert.strictEqual(new TextDecoder().decode(message.attachments[0]?.content), "a,b\n1,2\n")

        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "airut-slack-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
        fs.writeFileSync(path.join(dir, "report.txt"), "the report")
        const sent = yield* channel.reply(targetOf(message.channelMessageId), {
          text: "Here it is.",
          footer: Option.none(),
          outboxFiles: [
            { path: path.join(dir, "report.txt"), fileName: sanitizeFileName("report.txt") },
            { path: path.join(dir, "missing.txt"), fileName: sanitizeFileName("missing.txt") },
          ],
        })
        assert.deepStrictEqual([...sent.unattached], ["missing.txt"])
        const uploads = yield* fake.uploads
        assert.strictEqual(uploads.length, 1)
        assert.include(Buffer.from(uploads[0]?.bytes ?? new Uint8Array()).toString(), "the report")
        const complete = yield* fake.callsOf("files.completeUploadExternal")
        assert.strictEqual(complete[0]?.params.channel_id, "D0DM0001")
        assert.strictEqual(complete[0]?.params.thread_ts, "1700000000.000001")
        const notes = (yield* fake.callsOf("chat.postMessage")).map((c) => c.params.text ?? "")
        assert.isTrue(notes.some((t) => t.includes("Could not upload 1 file(s): `missing.txt`")))
      }),
  )

  it.scopedLive("a rate-limited post waits for Retry-After and then goes through", () =>
    Effect.gen(function* () {
      const { fake, channel } = yield* rig([{ workspace_members: true }])
      yield* fake.failNext("chat.postMessage", { _tag: "RateLimited", retryAfterSeconds: 1 })
      const started = Date.now()
      yield* channel.replyError(targetOf("D0DM0001:1700000000.000001:1700000000.000002"), "Something failed.")
      const posts = yield* fake.callsOf("chat.postMessage")
      assert.strictEqual(posts.length, 2)
      assert.isAtLeast((posts[1]?.at ?? 0) - (posts[0]?.at ?? 0), 950)
      assert.isAtLeast(Date.now() - started, 950)
    }),
  )

  it.scopedLive("after the socket drops, the channel reports it and reconnects; events flow again", () =>
    Effect.gen(function* () {
      const { fake, channel } = yield* rig([{ workspace_members: true }])
      const seen: Array<string> = []
      yield* channel.healthChanges.pipe(
        Stream.runForEach((h) => Effect.sync(() => seen.push(h._tag))),
        Effect.forkScoped,
      )
      yield* Effect.sleep("50 millis")
      yield* fake.dropConnections
      yield* poll("reconnected", fake.connections, (c) => c.opened >= 2 && c.open === 1)
      yield* poll("connected again", channel.health, (h) => h._tag === "Connected")
      assert.include(seen, "Degraded")
      assert.strictEqual(seen[seen.length - 1], "Connected")
      yield* fake.pushEvent(dm(alice.id, "1700000006.000001", "still there?"))
      assert.strictEqual((yield* nextInbound(channel)).body, "still there?")
    }),
  )

  it.scopedLive("a new assistant thread is greeted and its event settled; nothing is submitted", () =>
    Effect.gen(function* () {
      const { fake, channel } = yield* rig([{ workspace_members: true }])
      const envelope = yield* fake.pushEvent({
        type: "assistant_thread_started",
        assistant_thread: { user_id: alice.id, channel_id: "D0DM0001", thread_ts: "1700000007.000001" },
      })
      yield* poll("acknowledged", fake.acks, (a) => a.includes(envelope))
      const [greeting] = yield* poll("greeting", fake.callsOf("chat.postMessage"), (p) => p.length > 0)
      assert.strictEqual(greeting?.params.channel, "D0DM0001")
      assert.strictEqual(greeting?.params.thread_ts, "1700000007.000001")
      assert.include(greeting?.params.text ?? "", "`repo` repository")
      assert.isTrue(yield* noInbound(channel))
    }),
  )

  it.scopedLive("notifyStarted posts the dashboard link in the thread", () =>
    Effect.gen(function* () {
      const { fake, channel } = yield* rig([{ workspace_members: true }])
      yield* channel.notifyStarted(targetOf("D0DM0001:1700000000.000001:1700000000.000001"), {
        dashboardUrl: Option.some("https://airut.example/conversation/abcd1234"),
      })
      const [post] = yield* fake.callsOf("chat.postMessage")
      assert.strictEqual(post?.params.thread_ts, "1700000000.000001")
      assert.include(post?.params.text ?? "", "<https://airut.example/conversation/abcd1234|dashboard>")
    }),
  )

  it.scopedLive(
    "progress: a DM's status is set while preparing and cleared when the agent runs; 429 waits for Retry-After",
    () =>
      Effect.gen(function* () {
        const { fake, channel } = yield* rig([{ workspace_members: true }])
        const target = targetOf("D0DM0001:1700000000.000001:1700000000.000001")
        yield* fake.failNext("assistant.threads.setStatus", { _tag: "RateLimited", retryAfterSeconds: 1 })
        yield* channel.progress(target, TaskProgress.Preparing())
        yield* channel.progress(target, TaskProgress.Running())
        const statuses = yield* poll(
          "status sent after Retry-After",
          fake.callsOf("assistant.threads.setStatus"),
          (c) => c.length >= 2,
        )
        // The refused call, then (not before Retry-After) only the latest status: cleared.
        assert.strictEqual(statuses[0]?.params.status, "is working on this...")
        assert.strictEqual(statuses[1]?.params.status, "")
        assert.isAtLeast((statuses[1]?.at ?? 0) - (statuses[0]?.at ?? 0), 950)
        assert.strictEqual(statuses[1]?.params.channel_id, "D0DM0001")
        assert.strictEqual(statuses[1]?.params.thread_ts, "1700000000.000001")
        // A channel thread has no status line.
        yield* channel.progress(
          targetOf("C0GENERAL:1700000000.000009:1700000000.000009"),
          TaskProgress.Preparing(),
        )
        yield* Effect.sleep("400 millis")
        assert.strictEqual((yield* fake.callsOf("assistant.threads.setStatus")).length, 2)
      }),
  )

  it.scopedLive(
    "progress: the plan is one message, rewritten at most once per interval, and shows its last state before the answer",
    () =>
      Effect.gen(function* () {
        const { fake, channel } = yield* rig([{ workspace_members: true }])
        const target = targetOf("C0GENERAL:1700000000.000009:1700000000.000010")
        const plan = (done: number) =>
          TaskProgress.Plan({
            todos: ["Read the code", "Fix <the> bug", "Run tests", "Open a PR", "Reply"].map(
              (content, i) => ({
                content,
                status: i < done ? "completed" : i === done ? "in_progress" : "pending",
                ...(i === done ? { activeForm: `Doing: ${content}` } : {}),
              }),
            ),
          })
        for (let done = 0; done <= 5; done++) yield* channel.progress(target, plan(done))
        yield* channel.reply(target, { text: "All done.", footer: Option.none(), outboxFiles: [] })

        const posts = yield* fake.callsOf("chat.postMessage")
        const updates = yield* fake.callsOf("chat.update")
        // Posted once (the first plan), then rewritten once: the final state, flushed before the answer.
        assert.deepStrictEqual(
          posts.map((p) => p.params.text?.split("\n")[0]),
          ["*Plan* (0/5 done)", "All done."],
        )
        assert.strictEqual(posts[0]?.params.thread_ts, "1700000000.000009")
        assert.include(posts[0]?.params.text ?? "", "🔄 Doing: Read the code")
        assert.include(posts[0]?.params.text ?? "", "⚪ Fix &lt;the&gt; bug")
        assert.strictEqual(updates.length, 1)
        // Rewritten in place: the plan message's own ts, not the thread's.
        assert.strictEqual(updates[0]?.params.channel, "C0GENERAL")
        assert.match(updates[0]?.params.ts ?? "", /^\d+\.\d+$/)
        assert.notStrictEqual(updates[0]?.params.ts, "1700000000.000009")
        assert.strictEqual(updates[0]?.params.text?.split("\n")[0], "*Plan* (5/5 done)")
        assert.isAtMost(updates[0]?.at ?? 0, posts[1]?.at ?? 0)

        // The next task of the thread gets a plan message of its own, below the answer.
        yield* channel.progress(target, plan(2))
        const after = yield* fake.callsOf("chat.postMessage")
        assert.strictEqual(after.length, 3)
        assert.strictEqual(after[2]?.params.text?.split("\n")[0], "*Plan* (2/5 done)")
        assert.strictEqual((yield* fake.callsOf("chat.update")).length, 1)
      }),
  )

  it.scopedLive("progress: plan updates spread over time are each shown, no faster than the interval", () =>
    Effect.gen(function* () {
      const { fake, channel } = yield* rig([{ workspace_members: true }])
      const target = targetOf("C0GENERAL:1700000000.000011:1700000000.000011")
      for (let i = 1; i <= 4; i++) {
        yield* channel.progress(
          target,
          TaskProgress.Plan({ todos: [{ content: `step ${i}`, status: "in_progress" }] }),
        )
        yield* Effect.sleep("100 millis")
      }
      yield* Effect.sleep("400 millis")
      const posts = yield* fake.callsOf("chat.postMessage")
      const updates = yield* fake.callsOf("chat.update")
      assert.strictEqual(posts.length, 1)
      const times = [posts[0]?.at ?? 0, ...updates.map((u) => u.at)]
      for (let i = 1; i < times.length; i++) assert.isAtLeast((times[i] ?? 0) - (times[i - 1] ?? 0), 280)
      // Every step is not shown (steps 2 and 3 came within one interval), but the last is.
      assert.isBelow(updates.length, 3)
      assert.include(updates[updates.length - 1]?.params.text ?? "", "step 4")
    }),
  )
})
