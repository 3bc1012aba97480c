import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import { AgentEvent, parseAgentLine, resultTextOf, textOf } from "../../src/schema/AgentEvent.js"
import { fixtureNames, loadFixture } from "../support/claudeFixtures.js"

describe("parseAgentLine", () => {
  it.effect("every line the real CLI printed decodes to a known event kind", () =>
    Effect.gen(function* () {
      for (const name of fixtureNames) {
        const fixture = yield* loadFixture(name)
        assert.isAbove(fixture.events.length, 0, name)
        for (const [i, event] of fixture.events.entries()) {
          assert.notInclude(["UnknownEvent", "RawLine"], event._tag, `${name} line ${i + 1}`)
          // The typed view validates against the event schema.
          assert.isTrue(Schema.is(AgentEvent)(event), `${name} line ${i + 1}`)
        }
      }
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("system/init carries the session, model, cwd and version; unnamed fields are kept", () =>
    Effect.gen(function* () {
      const { events } = yield* loadFixture("one-turn")
      const init = events[0]
      assert.strictEqual(init?._tag, "SystemInit")
      if (init?._tag !== "SystemInit") return
      assert.match(init.session_id, /^[0-9a-f-]{36}$/)
      assert.strictEqual(init.model, "claude-sonnet-4-5")
      assert.strictEqual(init.claude_code_version, "2.1.330")
      assert.strictEqual(init.permissionMode, "bypassPermissions")
      assert.include(init.tools ?? [], "Write")
      // Fields the schema does not name (slash_commands, plugins, ...) stay on the event.
      assert.property(init, "slash_commands")
      assert.property(init, "mcp_servers")
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("assistant text and tool_use blocks, user tool_result blocks", () =>
    Effect.gen(function* () {
      const { events } = yield* loadFixture("multi-turn-write")
      const toolUses = events.flatMap((e) =>
        e._tag === "AssistantEvent" && typeof e.message.content !== "string"
          ? e.message.content.flatMap((b) => (b.type === "tool_use" && "name" in b ? [b.name] : []))
          : [],
      )
      assert.deepStrictEqual(toolUses, ["Write", "Write", "Bash"])
      const results = events.flatMap((e) =>
        e._tag === "UserEvent" && typeof e.message.content !== "string"
          ? e.message.content.filter((b) => b.type === "tool_result")
          : [],
      )
      assert.strictEqual(results.length, 3)
      const texts = events.flatMap((e) => (e._tag === "AssistantEvent" ? textOf(e.message.content) : []))
      assert.deepStrictEqual(texts, [
        "I'll create the notes file.",
        "Created notes.md in the workspace and report.txt in the outbox.",
      ])
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("result: session, duration, turns, cost, usage, is_error, subtype, terminal reason", () =>
    Effect.gen(function* () {
      const { events } = yield* loadFixture("multi-turn-write")
      const result = events.at(-1)
      assert.strictEqual(result?._tag, "ResultEvent")
      if (result?._tag !== "ResultEvent") return
      assert.strictEqual(result.subtype, "success")
      assert.isFalse(result.is_error)
      assert.strictEqual(result.num_turns, 4)
      assert.isAbove(result.duration_ms ?? 0, 0)
      assert.isAbove(result.total_cost_usd ?? 0, 0)
      assert.isAbove(result.usage?.input_tokens ?? 0, 0)
      assert.strictEqual(result.terminal_reason, "completed")
      assert.strictEqual(
        Option.getOrNull(resultTextOf(result)),
        "Created notes.md in the workspace and report.txt in the outbox.",
      )
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it("a synthetic API error message carries its status and type", () => {
    const event = parseAgentLine(
      JSON.stringify({
        type: "assistant",
        message: { model: "<synthetic>", content: [{ type: "text", text: "API Error: 401" }] },
        error: "authentication_failed",
        is_api_error_message: true,
        api_error_status: 401,
        api_error_type: "authentication_error",
      }),
    )
    assert.strictEqual(event._tag, "AssistantEvent")
    if (event._tag !== "AssistantEvent") return
    assert.strictEqual(event.api_error_status, 401)
    assert.isTrue(event.is_api_error_message)
  })

  it("a line that is not a JSON object is Raw; blank and arrays too", () => {
    for (const line of ["Error: something broke", "", "[1,2]", "42", "{not json"]) {
      const event = parseAgentLine(line)
      assert.strictEqual(event._tag, "RawLine", line)
      if (event._tag === "RawLine") assert.strictEqual(event.line, line)
    }
  })

  it("unknown kinds and known kinds of an unexpected shape are Unknown, with the JSON kept", () => {
    const streamEvent = parseAgentLine('{"type":"stream_event","event":{"type":"message_start"}}')
    assert.strictEqual(streamEvent._tag, "UnknownEvent")
    if (streamEvent._tag === "UnknownEvent") {
      assert.strictEqual(streamEvent.type, "stream_event")
      assert.deepStrictEqual(streamEvent.json, { type: "stream_event", event: { type: "message_start" } })
    }
    // A result without its required fields is not trusted as a result.
    assert.strictEqual(parseAgentLine('{"type":"result","subtype":"success"}')._tag, "UnknownEvent")
    assert.strictEqual(parseAgentLine('{"no_type":true}')._tag, "UnknownEvent")
  })

  it("system lines other than init and api_retry keep their subtype", () => {
    const event = parseAgentLine('{"type":"system","subtype":"compact_boundary","session_id":"s"}')
    assert.strictEqual(event._tag, "SystemEvent")
    if (event._tag === "SystemEvent") assert.strictEqual(event.subtype, "compact_boundary")
    const retry = parseAgentLine(
      '{"type":"system","subtype":"api_retry","attempt":2,"max_retries":10,"error_status":401,"error":"authentication_failed"}',
    )
    assert.strictEqual(retry._tag, "SystemApiRetry")
  })

  it("an older CLI's result object with text blocks gives its text", () => {
    const event = parseAgentLine(
      JSON.stringify({
        type: "result",
        subtype: "success",
        is_error: false,
        session_id: "s",
        result: { content: [{ type: "text", text: "Done." }] },
      }),
    )
    assert.strictEqual(event._tag, "ResultEvent")
    if (event._tag === "ResultEvent") assert.strictEqual(Option.getOrNull(resultTextOf(event)), "Done.")
  })
})
