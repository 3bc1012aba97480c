import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import {
  conversationIdOfMessageId,
  makeMessageId,
  messageIdsIn,
  replySubject,
  resolveConversationId,
  threadKeysOf,
} from "../../src/layers/email/threading.js"
import { ConversationId } from "../../src/schema/ConversationId.js"

const conv = ConversationId.make("0a1b2c3d")

describe("threading", () => {
  it("thread keys: In-Reply-To, then References newest first, without repeats", () => {
    assert.deepStrictEqual(threadKeysOf(["<c@x>"], ["<a@x>", "<b@x>", "<c@x>"]), ["<c@x>", "<b@x>", "<a@x>"])
    assert.deepStrictEqual(messageIdsIn("<a@x>\r\n <b@y> junk <not an id>"), ["<a@x>", "<b@y>"])
  })

  it("resolves by In-Reply-To, then References, then the subject tag", () => {
    const ours = (id: string) => `<airut.${id}.1795338000000.deadbeef@example.com>`
    assert.deepStrictEqual(
      resolveConversationId([ours("11111111"), ours("22222222")], "[ID:33333333]"),
      Option.some(ConversationId.make("11111111")),
    )
    assert.deepStrictEqual(
      resolveConversationId(["<theirs@gmail.com>", ours("22222222")], "[ID:33333333]"),
      Option.some(ConversationId.make("22222222")),
    )
    assert.deepStrictEqual(
      resolveConversationId(["<theirs@gmail.com>"], "Re: [ID:3333AAAA] x"),
      Option.some(ConversationId.make("3333aaaa")),
    )
    assert.deepStrictEqual(resolveConversationId(["<theirs@gmail.com>"], "Re: hello"), Option.none())
    // Look-alikes of our ids do not count.
    assert.deepStrictEqual(conversationIdOfMessageId("<xairut.11111111.1.a@x>"), Option.none())
  })

  it.effect("our Message-IDs carry the conversation id and are unique", () =>
    Effect.gen(function* () {
      const a = yield* makeMessageId(conv, "example.com")
      const b = yield* makeMessageId(conv, "example.com")
      assert.notStrictEqual(a, b)
      assert.deepStrictEqual(conversationIdOfMessageId(a), Option.some(conv))
    }),
  )

  it("reply subjects do not grow", () => {
    assert.strictEqual(replySubject("Fix it", Option.some(conv)), "Re: [ID:0a1b2c3d] Fix it")
    assert.strictEqual(
      replySubject("RE: Re:[ID:0a1b2c3d] Fix it", Option.some(conv)),
      "Re: [ID:0a1b2c3d] Fix it",
    )
    assert.strictEqual(replySubject("AW: Fix it", Option.some(conv)), "Re: [ID:0a1b2c3d] Fix it")
    assert.strictEqual(replySubject("", Option.some(conv)), "Re: [ID:0a1b2c3d]")
    assert.strictEqual(replySubject("Research plan", Option.none()), "Re: Research plan")
  })
})
