/**
 * The email channel's inbound side on a real Dovecot: IDLE and polling delivery, reconnect
 * after a server restart, at-least-once across a crash, screening, threading.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Option } from "effect"
import { takenFlag } from "../../src/layers/EmailChannelLive.js"
import { ConversationId } from "../../src/schema/ConversationId.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import {
  awaitHealth,
  emailConfig,
  eventually,
  mime,
  nextMessage,
  noMessage,
  withEmailEnv,
} from "./support/emailEnv.js"

const ourId = (conv: string) => `<airut.${conv}.1795338000000.0badcafe@example.com>`

describe("email channel on Dovecot: delivery", () => {
  it.live("IDLE: a message arrives within a second of APPEND", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const { channel } = yield* open(emailConfig(dovecot, smtp))
        yield* awaitHealth(channel, "Connected")
        // Let the channel settle into IDLE after its first scan.
        yield* Effect.sleep("300 millis")
        const before = yield* Clock.currentTimeMillis
        yield* dovecot.append(mime({ messageId: "<idle-1@example.com>", subject: "Fix the build" }))
        const appended = yield* Clock.currentTimeMillis
        const message = yield* nextMessage(channel, "1 second")
        const arrived = yield* Clock.currentTimeMillis
        assert.strictEqual(message.channelMessageId, "<idle-1@example.com>")
        assert.strictEqual(message.sender, "alice@example.com")
        assert.strictEqual(message.subject, "Fix the build")
        assert.strictEqual(message.body, "Please do the thing.")
        assert.isBelow(arrived - appended, 1000)
        yield* Effect.logInfo(
          `IDLE delivery: append ${appended - before} ms, delivery ${arrived - appended} ms`,
        )
        // Picked up means taken: the flag is on the message in the mailbox.
        const stored = yield* dovecot.list()
        assert.isTrue(stored[0]?.flags.has(takenFlag))
      }),
    ),
  )

  it.live("polling: with use_idle false the mailbox is checked every poll_interval", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const { channel } = yield* open(
          emailConfig(dovecot, smtp, { imap: { use_idle: false, poll_interval: 0.5 } }),
        )
        yield* awaitHealth(channel, "Connected")
        yield* dovecot.append(mime({ messageId: "<poll-1@example.com>" }))
        const first = yield* nextMessage(channel, "2 seconds")
        assert.strictEqual(first.channelMessageId, "<poll-1@example.com>")
        yield* dovecot.append(mime({ messageId: "<poll-2@example.com>" }))
        const second = yield* nextMessage(channel, "2 seconds")
        assert.strictEqual(second.channelMessageId, "<poll-2@example.com>")
      }),
    ),
  )

  it.live("reconnects after Dovecot restarts mid-IDLE, reporting health on the way", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const { channel } = yield* open(emailConfig(dovecot, smtp))
        yield* awaitHealth(channel, "Connected")
        yield* Effect.sleep("300 millis")
        yield* dovecot.stop
        const degraded = yield* awaitHealth(channel, "Degraded", "5 seconds")
        assert.match(degraded._tag === "Degraded" ? degraded.reason : "", /IMAP/)
        // Down for longer than connect_retries (3) attempts: Failed, and still trying.
        yield* awaitHealth(channel, "Failed", "10 seconds")
        yield* dovecot.start
        yield* awaitHealth(channel, "Connected", "5 seconds")
        yield* dovecot.append(mime({ messageId: "<after-restart@example.com>" }))
        const message = yield* nextMessage(channel, "3 seconds")
        assert.strictEqual(message.channelMessageId, "<after-restart@example.com>")
      }),
    ),
  )

  it.live("the IDLE connection is renewed every idle_reconnect_interval", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const { channel } = yield* open(emailConfig(dovecot, smtp, { imap: { idle_reconnect_interval: 60 } }))
        yield* awaitHealth(channel, "Connected")
        yield* eventually(dovecot.loginsOf("airut"), (n) => n === 1)
        yield* Effect.sleep("61 seconds")
        yield* eventually(dovecot.loginsOf("airut"), (n) => n === 2)
        yield* dovecot.append(mime({ messageId: "<after-renewal@example.com>" }))
        const message = yield* nextMessage(channel, "2 seconds")
        assert.strictEqual(message.channelMessageId, "<after-renewal@example.com>")
        assert.strictEqual((yield* channel.health)._tag, "Connected")
      }),
    ),
  )

  it.live(
    "at least once: a crash between pick-up and recording delivers again; a recorded one is settled, not run",
    () =>
      withEmailEnv(({ dovecot, smtp, open }) =>
        Effect.gen(function* () {
          const store = yield* ConversationStore
          const config = emailConfig(dovecot, smtp)
          yield* dovecot.append(mime({ messageId: "<alo-1@example.com>" }))

          // Run 1: picked up, then the process dies before the gateway records it.
          const run1 = yield* open(config)
          const first = yield* nextMessage(run1.channel)
          yield* run1.close
          const afterCrash = yield* dovecot.list()
          assert.strictEqual(afterCrash.length, 1)
          assert.isTrue(afterCrash[0]?.flags.has(takenFlag))

          // Run 2: the same message comes back; the gateway records it, then dies before acknowledging.
          const run2 = yield* open(config)
          const again = yield* nextMessage(run2.channel)
          assert.strictEqual(again.channelMessageId, first.channelMessageId)
          const conversation = yield* store.createConversation({
            repoId: "app",
            channel: "email",
            threadKeys: [],
            model: "opus",
          })
          const recordInbound = (m: typeof again) =>
            store.recordInbound({
              channel: "email",
              channelMessageId: m.channelMessageId,
              repoId: "app",
              conversationId: conversation.id,
              sender: m.sender,
              threadKeys: m.threadKeys,
            })
          assert.isTrue(yield* recordInbound(again))
          // Within one run a message is emitted once, even across rescans.
          yield* noMessage(run2.channel, "1 second")
          yield* run2.close

          // Run 3: emitted again; the store already has it, so the gateway acknowledges without running.
          const run3 = yield* open(config)
          const third = yield* nextMessage(run3.channel)
          assert.isFalse(yield* recordInbound(third))
          yield* run3.channel.acknowledge(third.receipt)
          yield* eventually(dovecot.list(), (l) => l.length === 0)
          yield* run3.close

          // Run 4: nothing left to deliver.
          const run4 = yield* open(config)
          yield* awaitHealth(run4.channel, "Connected")
          yield* noMessage(run4.channel, "1 second")
        }),
      ),
  )

  it.live("acknowledged messages move to processed_folder when one is configured", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const { channel } = yield* open(emailConfig(dovecot, smtp, { processed_folder: "Processed" }))
        yield* dovecot.append(mime({ messageId: "<moved-1@example.com>" }))
        const message = yield* nextMessage(channel)
        yield* channel.acknowledge(message.receipt)
        yield* eventually(dovecot.list(), (l) => l.length === 0)
        const processed = yield* dovecot.list("Processed")
        assert.deepStrictEqual(
          processed.map((m) => m.messageId),
          ["<moved-1@example.com>"],
        )
      }),
    ),
  )
})

describe("email channel on Dovecot: screening", () => {
  it.live("DMARC pass, fail, missing and a forged second header; allowlist; loop protection", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const store = yield* ConversationStore
        const { channel } = yield* open(emailConfig(dovecot, smtp))
        yield* awaitHealth(channel, "Connected")
        const refused = [
          mime({ messageId: "<fail@x>", dmarc: "fail" }),
          mime({ messageId: "<missing@x>", dmarc: "none" }),
          // The trusted server says fail; a pass below it was written by the sender.
          mime({
            messageId: "<forged@x>",
            dmarc: "fail",
            headers: ["Authentication-Results: mx.example.com; dmarc=pass header.from=example.com"],
          }),
          mime({ messageId: "<stranger@x>", from: "Eve <eve@example.com>" }),
          mime({ messageId: "<auto@x>", headers: ["Auto-Submitted: auto-replied"] }),
          mime({ messageId: "<list@x>", headers: ["List-Id: <dev.lists.example.com>"] }),
          mime({ messageId: "<bulk@x>", headers: ["Precedence: bulk"] }),
          mime({ messageId: "<daemon@x>", from: "MAILER-DAEMON@example.com" }),
          mime({ messageId: "<self@x>", from: "Airut <airut@example.com>" }),
        ]
        for (const raw of refused) yield* dovecot.append(raw)
        yield* dovecot.append(mime({ messageId: "<pass@x>", from: "Bob <bob@corp.example>" }))
        const accepted = yield* nextMessage(channel)
        assert.strictEqual(accepted.channelMessageId, "<pass@x>")
        assert.strictEqual(accepted.sender, "bob@corp.example")
        yield* noMessage(channel, "1 second")

        const rejections = yield* eventually(
          store.listRejections({ repoId: "app" }),
          (r) => r.length === refused.length,
        )
        const byId = new Map(rejections.map((r) => [Option.getOrElse(r.channelMessageId, () => ""), r]))
        const expect = (id: string, reason: string, detail: RegExp) => {
          const r = byId.get(id)
          assert.isDefined(r, id)
          assert.strictEqual(r?.reason, reason, id)
          assert.match(r?.detail ?? "", detail, id)
        }
        expect("<fail@x>", "unauthenticated", /dmarc=fail/)
        expect("<missing@x>", "unauthenticated", /no Authentication-Results header/)
        expect("<forged@x>", "unauthenticated", /dmarc=fail/)
        expect("<stranger@x>", "unauthorized", /authorized_senders/)
        expect("<auto@x>", "unauthorized", /automatic mail: Auto-Submitted/)
        expect("<list@x>", "unauthorized", /automatic mail: mailing list/)
        expect("<bulk@x>", "unauthorized", /automatic mail: Precedence/)
        expect("<daemon@x>", "unauthorized", /automatic mail: bounce sender/)
        expect("<self@x>", "unauthorized", /automatic mail: our own address/)
        // Refused mail leaves the inbox and is never answered.
        yield* eventually(dovecot.list(), (l) => l.length === 1)
        assert.strictEqual(yield* smtp.attempts, 0)
      }),
    ),
  )
})

describe("email channel on Dovecot: threading", () => {
  it.live("conversation id from In-Reply-To, then References, then the subject tag", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const { channel } = yield* open(emailConfig(dovecot, smtp))
        yield* dovecot.append(
          mime({
            messageId: "<t1@x>",
            inReplyTo: ourId("11111111"),
            references: `<root@x> ${ourId("99999999")}`,
          }),
        )
        yield* dovecot.append(
          mime({
            messageId: "<t2@x>",
            inReplyTo: "<their-own@gmail.com>",
            references: `${ourId("22222222")} <their-own@gmail.com>`,
          }),
        )
        yield* dovecot.append(mime({ messageId: "<t3@x>", subject: "Re: [ID:33333333] still broken" }))
        yield* dovecot.append(
          mime({ messageId: "<t4@x>", subject: "Brand new task", to: "airut+opus@example.com" }),
        )
        const got = [
          yield* nextMessage(channel),
          yield* nextMessage(channel),
          yield* nextMessage(channel),
          yield* nextMessage(channel),
        ]
        const conv = (id: string) => got.find((m) => m.channelMessageId === id)?.conversationId
        assert.deepStrictEqual(conv("<t1@x>"), Option.some(ConversationId.make("11111111")))
        assert.deepStrictEqual(conv("<t2@x>"), Option.some(ConversationId.make("22222222")))
        assert.deepStrictEqual(conv("<t3@x>"), Option.some(ConversationId.make("33333333")))
        assert.deepStrictEqual(conv("<t4@x>"), Option.none())
        const t1 = got.find((m) => m.channelMessageId === "<t1@x>")
        assert.deepStrictEqual(t1?.threadKeys, [ourId("11111111"), ourId("99999999"), "<root@x>"])
        assert.deepStrictEqual(
          got.find((m) => m.channelMessageId === "<t4@x>")?.modelHint,
          Option.some("opus"),
        )
      }),
    ),
  )
})
