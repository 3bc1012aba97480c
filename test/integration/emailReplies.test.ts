/**
 * The email channel's outbound side: replies over real SMTP (STARTTLS, AUTH) to smtp-server,
 * attachments both ways, error and acknowledgement mails, retries, the rate limit and the
 * size limit. Inbound mail goes through a real Dovecot.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Queue } from "effect"
import { conversationIdOfMessageId } from "../../src/layers/email/threading.js"
import { clearOutboxFiles, listOutboxFiles, saveAttachments } from "../../src/programs/attachments.js"
import { replyTargetOf } from "../../src/schema/ChannelReply.js"
import { ConversationId } from "../../src/schema/ConversationId.js"
import { fixture } from "../email/fixtures.js"
import { emailConfig, eventually, mime, nextMessage, noMessage, withEmailEnv } from "./support/emailEnv.js"
import { startSmtpSink } from "./support/smtpSink.js"

const conv = ConversationId.make("0a1b2c3d")

const takeMail = <A>(queue: Queue.Dequeue<A>) =>
  Queue.take(queue).pipe(
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("no mail sent") }),
    Effect.orDie,
  )

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "airut-conv-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })),
)

describe("email replies over SMTP", () => {
  it.live("a reply is threaded, multipart plain + HTML with footer, and carries the outbox files", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const { channel } = yield* open(emailConfig(dovecot, smtp))
        yield* dovecot.append(
          mime({
            messageId: "<ask-1@example.com>",
            subject: "Re: [ID:0a1b2c3d] Fix the login redirect",
            inReplyTo: "<airut.0a1b2c3d.1795338000000.00000001@example.com>",
            references: "<root@example.com> <airut.0a1b2c3d.1795338000000.00000001@example.com>",
          }),
        )
        const message = yield* nextMessage(channel)
        const outbox = path.join(dir, "outbox")
        fs.mkdirSync(outbox)
        fs.writeFileSync(path.join(outbox, "report.md"), "# Report\n")
        fs.writeFileSync(path.join(outbox, "data.bin"), Buffer.from([0, 1, 2, 255]))
        fs.writeFileSync(path.join(dir, "host-secret"), "do not send")
        fs.symlinkSync(path.join(dir, "host-secret"), path.join(outbox, "innocent.txt"))
        const files = yield* listOutboxFiles(outbox)
        const sent = yield* channel.reply(replyTargetOf(message, conv), {
          text: "Done: **opened** [PR #12](https://github.com/o/r/pull/12).",
          footer: Option.some("*Cost: $0.04 · 3 turns*"),
          outboxFiles: files,
        })
        yield* clearOutboxFiles(files)
        const mail = yield* takeMail(smtp.received)
        assert.deepStrictEqual(mail.to, ["alice@example.com"])
        assert.strictEqual(mail.from, "airut@example.com")
        assert.strictEqual(mail.parsed.subject, "Re: [ID:0a1b2c3d] Fix the login redirect")
        assert.strictEqual(mail.parsed.messageId, sent.messageId)
        assert.deepStrictEqual(conversationIdOfMessageId(sent.messageId), Option.some(conv))
        assert.strictEqual(mail.parsed.inReplyTo, "<ask-1@example.com>")
        assert.deepStrictEqual(mail.parsed.references, [
          "<root@example.com>",
          "<airut.0a1b2c3d.1795338000000.00000001@example.com>",
          "<ask-1@example.com>",
        ])
        assert.strictEqual(mail.parsed.headers.get("auto-submitted"), "auto-replied")
        assert.include(mail.parsed.text ?? "", "Done: **opened** [PR #12](https://github.com/o/r/pull/12).")
        assert.include(mail.parsed.text ?? "", "*Cost: $0.04 · 3 turns*")
        const html = typeof mail.parsed.html === "string" ? mail.parsed.html : ""
        assert.include(html, "<strong>opened</strong>")
        assert.include(html, 'href="https://github.com/o/r/pull/12"')
        assert.include(html, "<em>Cost: $0.04 · 3 turns</em>")
        assert.deepStrictEqual(
          mail.parsed.attachments.map((a) => [a.filename, a.content.toString("hex")]),
          [
            ["data.bin", "000102ff"],
            ["report.md", Buffer.from("# Report\n").toString("hex")],
          ],
        )
        assert.notInclude(mail.raw, Buffer.from("do not send").toString("base64"))
        assert.deepStrictEqual(fs.readdirSync(outbox), ["innocent.txt"])
        assert.deepStrictEqual(sent.unattached, [])
      }),
    ),
  )

  it.live("hostile attachment names land safely in the conversation's inbox", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const { channel } = yield* open(emailConfig(dovecot, smtp))
        yield* dovecot.append(Buffer.from(fixture("hostile-attachments.eml")).toString("utf8"))
        const message = yield* nextMessage(channel)
        const inbox = path.join(dir, "conversation", "inbox")
        // A file of the same name is already there from an earlier message.
        fs.mkdirSync(inbox, { recursive: true })
        fs.writeFileSync(path.join(inbox, "passwd"), "earlier")
        const saved = yield* saveAttachments(inbox, message.attachments)
        assert.deepStrictEqual(saved.map(String), [
          "passwd-1",
          "evil.bat",
          "invoice_fdp.exe",
          "attachment",
          "bashrc",
          "résumé.pdf",
        ])
        assert.deepStrictEqual(fs.readdirSync(dir), ["conversation"])
        assert.deepStrictEqual(fs.readdirSync(path.join(dir, "conversation")), ["inbox"])
        assert.strictEqual(fs.readFileSync(path.join(inbox, "passwd"), "utf8"), "earlier")
        assert.include(fs.readFileSync(path.join(inbox, "passwd-1"), "utf8"), "root:x:0:0")
      }),
    ),
  )

  it.live(
    "error and acknowledgement mails; temporary SMTP failures are retried, permanent ones are typed",
    () =>
      withEmailEnv(({ dovecot, smtp, open }) =>
        Effect.gen(function* () {
          const { channel } = yield* open(emailConfig(dovecot, smtp))
          const target = {
            conversationId: conv,
            recipient: "alice@example.com",
            subject: "Fix the login redirect",
            inReplyTo: Option.some("<ask-2@example.com>"),
            references: ["<ask-2@example.com>"],
          }
          yield* channel.notifyStarted(target, {
            dashboardUrl: Option.some("https://airut.example.com/conversation/0a1b2c3d"),
          })
          const ack = yield* takeMail(smtp.received)
          assert.strictEqual(ack.parsed.subject, "Re: [ID:0a1b2c3d] Fix the login redirect")
          assert.include(ack.parsed.text ?? "", "https://airut.example.com/conversation/0a1b2c3d")

          yield* smtp.failNext(2, 451)
          yield* channel.replyError(
            target,
            "The task was stopped after 600 seconds. The work so far is saved.\n\nReply to continue.",
          )
          const error = yield* takeMail(smtp.received)
          assert.include(error.parsed.text ?? "", "The task was stopped after 600 seconds.")
          assert.strictEqual(yield* smtp.attempts, 4)

          yield* smtp.failNext(1, 550)
          const refused = yield* Effect.flip(channel.replyError(target, "never delivered"))
          assert.strictEqual(refused._tag, "ChannelSendFailed")
          assert.strictEqual(refused.reason, "refused")
          assert.strictEqual(yield* smtp.attempts, 5)
        }),
      ),
  )

  it.live("implicit TLS (smtp.tls: implicit) sends to a TLS-from-the-start server", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const implicit = yield* startSmtpSink(dovecot.tls, "implicit")
        const { channel } = yield* open(
          emailConfig(dovecot, smtp, {
            smtp: { port: implicit.port, password: implicit.password, tls: "implicit" },
          }),
        )
        yield* channel.replyError(
          {
            conversationId: conv,
            recipient: "alice@example.com",
            subject: "TLS",
            inReplyTo: Option.none(),
            references: [],
          },
          "Sent over implicit TLS.",
        )
        const mail = yield* takeMail(implicit.received)
        assert.include(mail.parsed.text ?? "", "Sent over implicit TLS.")
        assert.strictEqual(mail.parsed.subject, "[ID:0a1b2c3d] TLS")
        // The STARTTLS sink saw nothing.
        assert.strictEqual(yield* smtp.attempts, 0)
      }),
    ),
  )

  it.live("a server without STARTTLS gets nothing: no password, no mail in clear", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const cleartext = yield* startSmtpSink(dovecot.tls, "cleartext")
        const { channel } = yield* open(
          emailConfig(dovecot, smtp, { smtp: { port: cleartext.port, password: cleartext.password } }),
        )
        const failed = yield* Effect.flip(
          channel.replyError(
            {
              conversationId: conv,
              recipient: "alice@example.com",
              subject: "x",
              inReplyTo: Option.none(),
              references: [],
            },
            "secret",
          ),
        )
        assert.strictEqual(failed.reason, "refused")
        assert.strictEqual(yield* cleartext.attempts, 0)
      }),
    ),
  )

  it.live("SMTP that cannot be reached fails as unreachable after its retries, keeping the outbox", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const { channel } = yield* open(emailConfig(dovecot, smtp, { smtp: { port: 1 } }))
        fs.writeFileSync(path.join(dir, "result.txt"), "keep me")
        const files = yield* listOutboxFiles(dir)
        const failed = yield* Effect.flip(
          channel.reply(
            {
              conversationId: conv,
              recipient: "alice@example.com",
              subject: "x",
              inReplyTo: Option.none(),
              references: [],
            },
            { text: "Done", footer: Option.none(), outboxFiles: files },
          ),
        )
        assert.strictEqual(failed.reason, "unreachable")
        assert.deepStrictEqual(fs.readdirSync(dir), ["result.txt"])
      }),
    ),
  )

  it.live("replies per recipient are rate-limited (loop guard)", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const { channel } = yield* open(emailConfig(dovecot, smtp, { max_replies_per_hour: 2 }))
        const target = {
          conversationId: conv,
          recipient: "alice@example.com",
          subject: "Loop?",
          inReplyTo: Option.none(),
          references: [],
        }
        yield* channel.replyError(target, "one")
        yield* channel.replyError(target, "two")
        const third = yield* Effect.flip(channel.replyError(target, "three"))
        assert.strictEqual(third.reason, "rate_limited")
        // Another recipient is not affected.
        yield* channel.replyError({ ...target, recipient: "bob@corp.example" }, "to bob")
        assert.strictEqual(yield* smtp.attempts, 3)
      }),
    ),
  )

  it.live("a mail over max_message_bytes is not run; its authorized sender gets a note", () =>
    withEmailEnv(({ dovecot, smtp, open }) =>
      Effect.gen(function* () {
        const { channel } = yield* open(emailConfig(dovecot, smtp, { max_message_bytes: 2048 }))
        yield* dovecot.append(
          mime({ messageId: "<big@example.com>", subject: "Huge", body: "x".repeat(5000) }),
        )
        // From a stranger: refused as usual, no note (no backscatter).
        yield* dovecot.append(
          mime({ messageId: "<big-stranger@example.com>", from: "eve@example.com", body: "y".repeat(5000) }),
        )
        yield* noMessage(channel, "1500 millis")
        const note = yield* takeMail(smtp.received)
        assert.deepStrictEqual(note.to, ["alice@example.com"])
        assert.strictEqual(note.parsed.subject, "Re: Huge")
        assert.strictEqual(note.parsed.inReplyTo, "<big@example.com>")
        assert.include(note.parsed.text ?? "", "this address accepts at most")
        yield* eventually(dovecot.list(), (l) => l.length === 0)
        assert.strictEqual(yield* smtp.attempts, 1)
      }),
    ),
  )
})
