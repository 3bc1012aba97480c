import { assert, describe, it } from "@effect/vitest"
import { Either, Option } from "effect"
import { isMessagesRequest, trimServerTools } from "../../src/programs/proxy/anthropicTools.js"

const permits = (host: string) => host === "docs.test" || host === "wiki.test"
const trim = (value: unknown) => trimServerTools(Buffer.from(JSON.stringify(value)), permits)
const parsed = (value: unknown): unknown => {
  const r = trim(value)
  if (Either.isLeft(r)) throw new Error(r.left.reason)
  return JSON.parse(Buffer.from(r.right.body).toString("utf8"))
}

describe("Anthropic server-tool domains", () => {
  it("applies to POST /v1/messages and below on api.anthropic.com only", () => {
    assert.isTrue(isMessagesRequest("api.anthropic.com", "/v1/messages", "POST"))
    assert.isTrue(isMessagesRequest("api.anthropic.com", "/v1/messages/batches", "POST"))
    assert.isFalse(isMessagesRequest("api.anthropic.com", "/v1/messagesx", "POST"))
    assert.isFalse(isMessagesRequest("api.anthropic.com", "/v1/messages", "GET"))
    assert.isFalse(isMessagesRequest("other.test", "/v1/messages", "POST"))
  })

  it("trims allowed_domains to permitted hosts and injects an empty list where there is none", () => {
    const out = parsed({
      model: "m",
      tools: [
        {
          type: "web_fetch_20250910",
          name: "web_fetch",
          allowed_domains: ["docs.test", "evil.test", "wiki.test/page"],
        },
        { type: "web_search_20250305", name: "web_search" },
        { name: "Bash", input_schema: { type: "object" } },
      ],
    })
    assert.deepStrictEqual(out, {
      model: "m",
      tools: [
        { type: "web_fetch_20250910", name: "web_fetch", allowed_domains: ["docs.test", "wiki.test/page"] },
        // Empty stays empty: search restricted to nothing, never unrestricted.
        { type: "web_search_20250305", name: "web_search", allowed_domains: [] },
        { name: "Bash", input_schema: { type: "object" } },
      ],
    })
    const r = trim({ tools: [{ type: "web_fetch_20250910", allowed_domains: ["docs.test", "evil.test"] }] })
    assert.isTrue(Either.isRight(r))
    if (Either.isRight(r))
      assert.include(
        Option.getOrElse(r.right.note, () => ""),
        "dropped evil.test",
      )
  })

  it("covers message batches", () => {
    const out = parsed({
      requests: [{ custom_id: "a", params: { tools: [{ type: "web_fetch_20250910" }] } }],
    })
    assert.deepStrictEqual(out, {
      requests: [
        { custom_id: "a", params: { tools: [{ type: "web_fetch_20250910", allowed_domains: [] }] } },
      ],
    })
  })

  it("refuses blocked_domains, wildcard or malformed entries, and bodies that are not JSON", () => {
    const code = (value: unknown) => {
      const r = trim(value)
      return Either.isLeft(r) ? r.left.code : "passed"
    }
    assert.strictEqual(
      code({ tools: [{ type: "web_search_20250305", blocked_domains: ["x.test"] }] }),
      "server_tool_domains_blocked",
    )
    assert.strictEqual(
      code({ tools: [{ type: "web_fetch_20250910", allowed_domains: ["*.docs.test"] }] }),
      "server_tool_domains_blocked",
    )
    assert.strictEqual(
      code({ tools: [{ type: "web_fetch_20250910", allowed_domains: [".docs.test"] }] }),
      "server_tool_domains_blocked",
    )
    assert.strictEqual(
      code({ tools: [{ type: "web_fetch_20250910", allowed_domains: [7] }] }),
      "server_tool_domains_blocked",
    )
    assert.isTrue(Either.isLeft(trimServerTools(Buffer.from("{nope"), permits)))
  })

  it("re-serializes, so Anthropic reads exactly the tools we checked", () => {
    // A duplicate key: JSON.parse keeps the last one, another parser might keep the first.
    const raw =
      '{"tools":[{"type":"web_fetch_20250910","allowed_domains":["evil.test"]}],"tools":[{"type":"web\\u005ffetch_20250910"}]}'
    const r = trimServerTools(Buffer.from(raw), permits)
    assert.isTrue(Either.isRight(r))
    if (Either.isRight(r)) {
      assert.strictEqual(
        Buffer.from(r.right.body).toString("utf8"),
        '{"tools":[{"type":"web_fetch_20250910","allowed_domains":[]}]}',
      )
    }
  })
})
