import { assert, describe, it } from "@effect/vitest"
import { Redacted } from "effect"
import { compileMaskedSecrets, swapMaskedSecrets } from "../../src/programs/proxy/credentials.js"

const real = "ghp_REALrealREAL0123456789abcdefABCDEF"
const surrogate = "ghp_SURRsurrSURR9876543210zyxwvuZYXWVU"
const apiReal = "sk-ant-api03-REALKEY"
const apiSurrogate = "sk-ant-api03-SURRKEY"

const masked = compileMaskedSecrets([
  {
    name: "GH_TOKEN",
    surrogate,
    value: Redacted.make(real),
    scopes: ["api.github.com", "*.githubusercontent.com"],
    headers: ["Authorization"],
    allowForeignCredentials: false,
  },
  {
    name: "ANTHROPIC_API_KEY",
    surrogate: apiSurrogate,
    value: Redacted.make(apiReal),
    scopes: ["api.anthropic.com"],
    headers: ["x-api-key", "x-*-token"],
    allowForeignCredentials: true,
  },
])

const value = (headers: ReadonlyArray<string>, name: string) => {
  for (let i = 0; i < headers.length; i += 2) if (headers[i]?.toLowerCase() === name) return headers[i + 1]
  return undefined
}

describe("masked secrets", () => {
  it("swap the surrogate for the real value in a listed header on an in-scope host", () => {
    const r = swapMaskedSecrets(masked, "api.github.com", [
      "authorization",
      `Bearer ${surrogate}`,
      "Accept",
      "*/*",
    ])
    assert.strictEqual(value(r.headers, "authorization"), `Bearer ${real}`)
    assert.strictEqual(value(r.headers, "accept"), "*/*")
    assert.strictEqual(r.swapped, 1)
    const wildcard = swapMaskedSecrets(masked, "raw.githubusercontent.com", [
      "Authorization",
      `token ${surrogate}`,
    ])
    assert.strictEqual(value(wildcard.headers, "authorization"), `token ${real}`)
  })

  it("leave a surrogate sent to any other host unchanged", () => {
    const r = swapMaskedSecrets(masked, "evil.test", ["Authorization", `Bearer ${surrogate}`])
    assert.strictEqual(value(r.headers, "authorization"), `Bearer ${surrogate}`)
    assert.strictEqual(r.swapped, 0)
    const wrongSecret = swapMaskedSecrets(masked, "api.anthropic.com", ["x-api-key", surrogate])
    assert.strictEqual(value(wrongSecret.headers, "x-api-key"), surrogate)
  })

  it("leave unlisted headers, bodies' stand-ins, alone", () => {
    const r = swapMaskedSecrets(masked, "api.github.com", ["X-Token", surrogate])
    assert.strictEqual(value(r.headers, "x-token"), surrogate)
  })

  it("swap inside Authorization: Basic", () => {
    const basic = Buffer.from(`x-access-token:${surrogate}`).toString("base64")
    const r = swapMaskedSecrets(masked, "api.github.com", ["Authorization", `Basic ${basic}`])
    const sent = value(r.headers, "authorization") ?? ""
    assert.match(sent, /^Basic /)
    assert.strictEqual(Buffer.from(sent.slice(6), "base64").toString("utf8"), `x-access-token:${real}`)
    assert.strictEqual(r.swapped, 1)
  })

  it("strip a foreign credential from an exactly-named header on a scoped host", () => {
    const r = swapMaskedSecrets(masked, "api.github.com", [
      "Authorization",
      "Bearer ghp_agentsOwnToken",
      "Accept",
      "x",
    ])
    assert.isUndefined(value(r.headers, "authorization"))
    assert.strictEqual(r.stripped, 1)
    assert.strictEqual(value(r.headers, "accept"), "x")
  })

  it("keep foreign values when allowed, and never strip by a wildcard header pattern", () => {
    const r = swapMaskedSecrets(masked, "api.anthropic.com", [
      "x-api-key",
      "sk-ant-own",
      "x-session-token",
      "abc",
    ])
    assert.strictEqual(value(r.headers, "x-api-key"), "sk-ant-own")
    assert.strictEqual(value(r.headers, "x-session-token"), "abc")
    assert.strictEqual(r.stripped, 0)
    const swapped = swapMaskedSecrets(masked, "api.anthropic.com", ["X-Session-Token", apiSurrogate])
    assert.strictEqual(value(swapped.headers, "x-session-token"), apiReal)
  })

  it("handle every copy of a repeated header", () => {
    const r = swapMaskedSecrets(masked, "api.github.com", [
      "Authorization",
      `Bearer ${surrogate}`,
      "authorization",
      "Bearer someone-else",
    ])
    assert.deepStrictEqual(r.headers, ["Authorization", `Bearer ${real}`])
    assert.strictEqual(r.swapped, 1)
    assert.strictEqual(r.stripped, 1)
  })
})
