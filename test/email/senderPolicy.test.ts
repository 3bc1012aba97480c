import { assert, describe, it } from "@effect/vitest"
import { Either, Option } from "effect"
import {
  automaticMailReason,
  isAuthorizedSender,
  parseFrom,
  type RawHeader,
} from "../../src/layers/email/senderPolicy.js"

const from = (...values: ReadonlyArray<string>): ReadonlyArray<RawHeader> =>
  values.map((value) => ({ name: "from", value }))

describe("sender policy", () => {
  it("reads exactly one plain From address", () => {
    assert.deepStrictEqual(
      Either.map(parseFrom(from("Alice Example <Alice@Example.COM>")), (s) => s.address),
      Either.right("alice@example.com"),
    )
    assert.deepStrictEqual(
      Either.map(parseFrom(from("alice@example.com")), (s) => s.address),
      Either.right("alice@example.com"),
    )
    for (const bad of [
      "a@x.com, b@y.com",
      "Alice <a@x.com> <b@y.com>",
      "Alice >a@x.com<",
      '"odd local"@x.com',
      "a@x.com (comment)",
      "<>",
      "",
      "Alice <a@x.com>, Bob <b@y.com>",
    ]) {
      assert.isTrue(Either.isLeft(parseFrom(from(bad))), bad)
    }
    assert.isTrue(Either.isLeft(parseFrom(from("a@x.com", "b@y.com"))))
    assert.isTrue(Either.isLeft(parseFrom([])))
  })

  it("authorizes exact addresses and whole domains, case-insensitively", () => {
    const list = ["Alice@Example.com", "*@Corp.example"]
    assert.isTrue(isAuthorizedSender("alice@example.com", list))
    assert.isTrue(isAuthorizedSender("anyone@corp.example", list))
    assert.isFalse(isAuthorizedSender("bob@example.com", list))
    assert.isFalse(isAuthorizedSender("x@sub.corp.example", list))
    assert.isFalse(isAuthorizedSender("x@evilcorp.example", list))
    assert.isFalse(isAuthorizedSender("alice@example.com", []))
  })

  it("recognises automatic mail", () => {
    const h = (name: string, value: string): RawHeader => ({ name, value })
    const reason = (headers: ReadonlyArray<RawHeader>, sender = "alice@example.com") =>
      automaticMailReason(headers, sender, "airut@example.com")
    assert.isTrue(Option.isSome(reason([h("auto-submitted", "auto-generated")])))
    assert.isTrue(Option.isNone(reason([h("auto-submitted", "no")])))
    assert.isTrue(Option.isSome(reason([h("precedence", "Bulk")])))
    assert.isTrue(Option.isSome(reason([h("list-id", "<dev.lists.example>")])))
    assert.isTrue(Option.isSome(reason([h("return-path", "<>")])))
    assert.isTrue(Option.isSome(reason([h("content-type", "multipart/report; report-type=delivery-status")])))
    assert.isTrue(Option.isSome(reason([], "mailer-daemon@example.com")))
    assert.isTrue(Option.isSome(reason([], "airut@example.com")))
    assert.isTrue(Option.isNone(reason([h("precedence", "first-class")])))
  })
})
