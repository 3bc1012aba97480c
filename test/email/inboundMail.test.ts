import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Either, Option } from "effect"
import {
  headerAuthentication,
  type MailPolicy,
  parseMail,
  screen,
  toInboundMessage,
} from "../../src/layers/email/inboundMail.js"
import { fixture } from "./fixtures.js"

const policy: MailPolicy = {
  repoId: "app",
  ownAddress: "airut@example.com",
  authorizedSenders: ["alice@example.com", "carol@example.com", "*@corp.example"],
  trustedAuthservId: "mx.example.com",
  modelAliases: { opus: "opus", sonnet: "claude-sonnet-4-5" },
}

const receivedAt = DateTime.unsafeMake(0)

const accept = (name: string) =>
  Effect.gen(function* () {
    const raw = fixture(name)
    const mail = yield* parseMail(raw)
    const screened = screen(mail, policy, headerAuthentication(mail, policy))
    if (Either.isLeft(screened)) return assert.fail(`${name} refused: ${screened.left.detail}`)
    return toInboundMessage({
      mail,
      sender: screened.right,
      policy,
      channelMessageId: mail.parsed.messageId ?? "<none@x>",
      receipt: { channel: "email", repoId: "app", key: "1:1" },
      receivedAt,
    })
  })

const refusal = (name: string) =>
  Effect.gen(function* () {
    const mail = yield* parseMail(fixture(name))
    const screened = screen(mail, policy, headerAuthentication(mail, policy))
    if (Either.isRight(screened)) return assert.fail(`${name} was accepted`)
    return screened.left
  })

describe("inbound mail on real clients' formats", () => {
  it.effect("Gmail reply: new text only, threaded by In-Reply-To to our Message-ID", () =>
    Effect.gen(function* () {
      const m = yield* accept("gmail-reply.eml")
      assert.strictEqual(m.sender, "alice@example.com")
      assert.strictEqual(m.senderName, "Alice Example")
      assert.strictEqual(m.body, "Thanks! Please also add a test for the redirect after logout.")
      assert.deepStrictEqual(m.threadKeys, [
        "<airut.0a1b2c3d.1795338000000.9f8e7d6c@example.com>",
        "<CAF1x8y0kq3u@mail.gmail.com>",
      ])
      assert.deepStrictEqual(m.conversationId, Option.some("0a1b2c3d"))
      assert.strictEqual(m.subject, "Re: [ID:0a1b2c3d] Fix the login redirect")
      assert.strictEqual(m.attachments.length, 0)
      assert.deepStrictEqual(m.modelHint, Option.none())
    }),
  )

  it.effect("Outlook reply: history after the reply header block is dropped", () =>
    Effect.gen(function* () {
      const m = yield* accept("outlook-reply.eml")
      assert.strictEqual(m.sender, "bob@corp.example")
      assert.strictEqual(m.body, "Looks good. Merge it when CI is green.")
      assert.deepStrictEqual(m.conversationId, Option.some("0a1b2c3d"))
    }),
  )

  it.effect("Apple Mail reply: quote removed, inline-disposition file kept, +sonnet maps to the alias", () =>
    Effect.gen(function* () {
      const m = yield* accept("apple-mail-reply.eml")
      assert.strictEqual(m.body, "The log is attached. Can you find out why the build fails?")
      assert.deepStrictEqual(
        m.attachments.map((a) => [a.fileName, Buffer.from(a.content).toString()]),
        [["build.log", "error: cannot find module './config'\n"]],
      )
      assert.deepStrictEqual(m.modelHint, Option.some("claude-sonnet-4-5"))
      // Not our Message-IDs, no subject tag: a new conversation.
      assert.deepStrictEqual(m.conversationId, Option.none())
    }),
  )

  it.effect("Thunderbird inline reply: answered quotes kept with a blank line, trailing quote dropped", () =>
    Effect.gen(function* () {
      const m = yield* accept("thunderbird-inline.eml")
      assert.strictEqual(
        m.body,
        [
          "> On 22/11/2026 14.00, Airut wrote:",
          "> Should I use PostgreSQL or SQLite?",
          "",
          "SQLite, please.",
          "",
          "> And should the migration run at start?",
          "",
          "Yes.",
        ].join("\n"),
      )
    }),
  )

  it.effect("plain text: inline answer kept, attribution, trailing quote and signature dropped", () =>
    Effect.gen(function* () {
      const m = yield* accept("plain-reply.eml")
      assert.strictEqual(
        m.body,
        [
          "Yes, go ahead.",
          "",
          "> Shall I also update the changelog?",
          "",
          "Only the unreleased section.",
        ].join("\n"),
      )
      assert.strictEqual(m.sender, "alice@example.com")
      assert.strictEqual(m.senderName, "alice@example.com")
    }),
  )

  it.effect("hostile attachment names become plain names inside the directory", () =>
    Effect.gen(function* () {
      const m = yield* accept("hostile-attachments.eml")
      assert.deepStrictEqual(
        m.attachments.map((a) => a.fileName),
        ["passwd", "evil.bat", "invoice_fdp.exe", "attachment", "bashrc", "résumé.pdf"],
      )
      assert.strictEqual(m.body, "Please look at these files.")
    }),
  )
})

describe("screening", () => {
  it.effect("DMARC fail is refused as unauthenticated", () =>
    Effect.gen(function* () {
      const r = yield* refusal("dmarc-fail.eml")
      assert.strictEqual(r.reason, "unauthenticated")
      assert.match(r.detail, /dmarc=fail/)
      assert.strictEqual(r.sender, "alice@example.com")
    }),
  )

  it.effect("no Authentication-Results header is refused", () =>
    Effect.gen(function* () {
      const r = yield* refusal("no-auth-results.eml")
      assert.strictEqual(r.reason, "unauthenticated")
      assert.match(r.detail, /no Authentication-Results header/)
    }),
  )

  it.effect("a forged pass below the trusted server's fail is ignored", () =>
    Effect.gen(function* () {
      const r = yield* refusal("forged-second-header.eml")
      assert.strictEqual(r.reason, "unauthenticated")
      assert.match(r.detail, /dmarc=fail/)
    }),
  )

  it.effect("dmarc=pass inside a comment or for another domain after a fail does not count", () =>
    Effect.gen(function* () {
      const r = yield* refusal("dmarc-in-comment.eml")
      assert.strictEqual(r.reason, "unauthenticated")
    }),
  )

  it.effect("automatic replies are refused by loop protection", () =>
    Effect.gen(function* () {
      const r = yield* refusal("auto-reply.eml")
      assert.strictEqual(r.reason, "unauthorized")
      assert.match(r.detail, /^automatic mail: Auto-Submitted: auto-replied/)
    }),
  )

  it.effect("two From headers are refused", () =>
    Effect.gen(function* () {
      const r = yield* refusal("two-from.eml")
      assert.strictEqual(r.reason, "unauthenticated")
      assert.match(r.detail, /2 From headers/)
    }),
  )

  it.effect("an authenticated sender outside the allowlist is unauthorized", () =>
    Effect.gen(function* () {
      const mail = yield* parseMail(fixture("gmail-reply.eml"))
      const screened = screen(
        mail,
        { ...policy, authorizedSenders: ["*@corp.example"] },
        Either.right(undefined),
      )
      assert.isTrue(Either.isLeft(screened))
      if (Either.isLeft(screened)) assert.strictEqual(screened.left.reason, "unauthorized")
    }),
  )
})
