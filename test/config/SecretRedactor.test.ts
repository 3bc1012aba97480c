import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { makeSecretRedactor } from "../../src/layers/SecretRedactorLive.js"

describe("SecretRedactor", () => {
  it.effect("hides registered values wherever they occur, and nothing else", () =>
    Effect.gen(function* () {
      const redactor = yield* makeSecretRedactor
      assert.strictEqual(redactor.redact("nothing registered: s3cret"), "nothing registered: s3cret")
      yield* redactor.register(["s3cret", Redacted.make("tok-123"), ""])
      assert.strictEqual(
        redactor.redact("a s3cret, tok-123 and s3cret again"),
        "a <redacted>, <redacted> and <redacted> again",
      )
      assert.strictEqual(redactor.redact("plain text"), "plain text")
    }),
  )

  it.effect("a secret containing another is hidden whole", () =>
    Effect.gen(function* () {
      const redactor = yield* makeSecretRedactor
      yield* redactor.register(["abc-123", "abc-123-xyz"])
      assert.strictEqual(redactor.redact("[abc-123-xyz]"), "[<redacted>]")
    }),
  )

  it.effect("covers the JSON-escaped and URL-encoded forms and each line of a key", () =>
    Effect.gen(function* () {
      const redactor = yield* makeSecretRedactor
      const key =
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----"
      const password = 'p@ss "word"/x'
      yield* redactor.register([key, password])
      assert.notInclude(redactor.redact(JSON.stringify({ key })), "MIIEvQ")
      assert.notInclude(redactor.redact("line: BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"), "BKcwgg")
      assert.strictEqual(redactor.redact(JSON.stringify({ password })), '{"password":"<redacted>"}')
      assert.strictEqual(
        redactor.redact(`https://u:${encodeURIComponent(password)}@example.com`),
        "https://u:<redacted>@example.com",
      )
    }),
  )

  it.effect("each instance keeps its own secrets", () =>
    Effect.gen(function* () {
      const one = yield* makeSecretRedactor
      const two = yield* makeSecretRedactor
      yield* one.register(["only-in-one"])
      assert.strictEqual(one.redact("only-in-one"), "<redacted>")
      assert.strictEqual(two.redact("only-in-one"), "only-in-one")
    }),
  )
})
