import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import { parseAgentLine } from "../../src/schema/AgentEvent.js"
import { classify, emptySummary, type RunExit, summarize } from "../../src/services/AgentClassifier.js"
import { type FixtureName, loadFixture } from "../support/claudeFixtures.js"

/** Each rule, on the fixture recorded from the real CLI that shows it. */

const judged = (name: FixtureName) =>
  Effect.map(loadFixture(name), (f) => ({ fixture: f, verdict: classify(f.summary, f.exit) }))

const fresh: Pick<RunExit, "resumed"> = { resumed: Option.none() }

describe("classify", () => {
  it.effect("one-turn: success with the result text, session, cost, turns and usage", () =>
    Effect.gen(function* () {
      const { fixture, verdict } = yield* judged("one-turn")
      assert.isTrue(Either.isRight(verdict))
      if (Either.isLeft(verdict)) return
      const outcome = verdict.right
      assert.strictEqual(outcome.replyText, "Hello! How can I help with this repository?")
      assert.strictEqual(outcome.sessionId, Option.getOrThrow(fixture.summary.initSessionId))
      assert.strictEqual(outcome.turns, 1)
      assert.isAbove(outcome.costUsd, 0)
      assert.isAbove(outcome.durationMs, 0)
      assert.isAbove(outcome.usage.inputTokens, 0)
      assert.isAbove(outcome.usage.outputTokens, 0)
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("multi-turn-write: the reply is the final result, not the first assistant words", () =>
    Effect.gen(function* () {
      const { verdict } = yield* judged("multi-turn-write")
      assert.isTrue(Either.isRight(verdict))
      if (Either.isLeft(verdict)) return
      assert.strictEqual(
        verdict.right.replyText,
        "Created notes.md in the workspace and report.txt in the outbox.",
      )
      assert.strictEqual(verdict.right.turns, 4)
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("resume: success in the same session it resumed", () =>
    Effect.gen(function* () {
      const { fixture, verdict } = yield* judged("resume")
      assert.isTrue(Either.isRight(verdict))
      if (Either.isLeft(verdict)) return
      assert.strictEqual(verdict.right.sessionId, Option.getOrThrow(fixture.exit.resumed))
      assert.strictEqual(verdict.right.replyText, "The build uses make.")
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("resume-rejected: a 400 from the API on a resumed session is SessionCorrupted", () =>
    Effect.gen(function* () {
      const { fixture, verdict } = yield* judged("resume-rejected")
      assert.isTrue(Either.isLeft(verdict))
      if (Either.isRight(verdict)) return
      assert.strictEqual(verdict.left._tag, "SessionCorrupted")
      if (verdict.left._tag !== "SessionCorrupted") return
      assert.strictEqual(verdict.left.sessionId, Option.getOrThrow(fixture.exit.resumed))
      assert.include(verdict.left.detail, "API Error: 400")
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("the same 400 on a fresh session is not a session problem: ContainerFailed", () =>
    Effect.gen(function* () {
      const fixture = yield* loadFixture("resume-rejected")
      const verdict = classify(fixture.summary, { ...fixture.exit, ...fresh })
      assert.strictEqual(Either.isLeft(verdict) && verdict.left._tag, "ContainerFailed")
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("resume-missing: no transcript for the session is SessionCorrupted", () =>
    Effect.gen(function* () {
      const { fixture, verdict } = yield* judged("resume-missing")
      assert.isTrue(Either.isLeft(verdict))
      if (Either.isRight(verdict)) return
      assert.strictEqual(verdict.left._tag, "SessionCorrupted")
      assert.include(verdict.left.message, "No conversation found")
      assert.strictEqual(fixture.exit.exitCode, 1)
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("prompt-too-long and resume-prompt-too-long: PromptTooLong, decided by terminal_reason", () =>
    Effect.gen(function* () {
      for (const name of ["prompt-too-long", "resume-prompt-too-long"] as const) {
        const { fixture, verdict } = yield* judged(name)
        assert.isTrue(Either.isLeft(verdict), name)
        if (Either.isRight(verdict)) continue
        assert.strictEqual(verdict.left._tag, "PromptTooLong", name)
        if (verdict.left._tag !== "PromptTooLong") continue
        assert.include(verdict.left.detail, "Prompt is too long", name)
        assert.deepStrictEqual(verdict.left.sessionId, fixture.summary.initSessionId, name)
      }
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("api-error: a 401, even on a resumed session, is ContainerFailed and keeps the session", () =>
    Effect.gen(function* () {
      const { fixture, verdict } = yield* judged("api-error")
      for (const v of [
        verdict,
        classify(fixture.summary, { ...fixture.exit, resumed: Option.some("s-1") }),
      ]) {
        assert.isTrue(Either.isLeft(v))
        if (Either.isRight(v)) continue
        assert.strictEqual(v.left._tag, "ContainerFailed")
        if (v.left._tag !== "ContainerFailed") continue
        assert.strictEqual(v.left.exitCode, 1)
        assert.include(v.left.detail, "Invalid API key")
        assert.deepStrictEqual(v.left.sessionId, fixture.summary.initSessionId)
        assert.isAbove(v.left.lastLines.length, 0)
      }
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("an error result with exit code 0 is still a failure (the original called it success)", () =>
    Effect.gen(function* () {
      const fixture = yield* loadFixture("api-error")
      const verdict = classify(fixture.summary, { ...fixture.exit, exitCode: 0 })
      assert.strictEqual(Either.isLeft(verdict) && verdict.left._tag, "ContainerFailed")
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.effect("a run killed before its result: ContainerFailed with the init session and the last words", () =>
    Effect.gen(function* () {
      const { lines } = yield* loadFixture("multi-turn-write")
      // Cut after the first assistant text, as a kill would.
      const summary = lines.slice(0, 2).map(parseAgentLine).reduce(summarize, emptySummary)
      const verdict = classify(summary, { exitCode: 137, stderrTail: [], ...fresh })
      assert.isTrue(Either.isLeft(verdict))
      if (Either.isRight(verdict) || verdict.left._tag !== "ContainerFailed") return assert.fail("not failed")
      assert.strictEqual(verdict.left.exitCode, 137)
      assert.include(verdict.left.detail, "killed")
      assert.isTrue(Option.isSome(verdict.left.sessionId))
      assert.deepStrictEqual(verdict.left.lastLines, ["I'll create the notes file."])
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it("a run the kernel killed for memory says so", () => {
    const verdict = classify(emptySummary, { exitCode: 137, oomKilled: true, stderrTail: [], ...fresh })
    assert.isTrue(Either.isLeft(verdict))
    if (Either.isLeft(verdict)) assert.include(verdict.left.message, "ran out of memory")
  })

  describe("text is consulted only without a result, and narrowly", () => {
    const run = (stdout: ReadonlyArray<string>, exit: Partial<RunExit> = {}) =>
      classify(stdout.map(parseAgentLine).reduce(summarize, emptySummary), {
        exitCode: 1,
        stderrTail: [],
        resumed: Option.none(),
        ...exit,
      })
    const tagOf = (v: ReturnType<typeof run>) => (Either.isLeft(v) ? v.left._tag : "Success")

    it("a raw 'Prompt is too long' line is PromptTooLong", () => {
      assert.strictEqual(tagOf(run(["Prompt is too long"])), "PromptTooLong")
    })

    it("the same words inside a tool result decide nothing", () => {
      const toolOutput = JSON.stringify({
        type: "user",
        message: {
          content: [{ type: "tool_result", tool_use_id: "t", content: "Prompt is too long\nAPI Error: 400" }],
        },
      })
      assert.strictEqual(tagOf(run([toolOutput], { resumed: Option.some("s") })), "ContainerFailed")
    })

    it("'API Error: 400' on stderr while resuming is SessionCorrupted; 401, 429 are not", () => {
      assert.strictEqual(
        tagOf(run([], { stderrTail: ["API Error: 400 - Bad Request"], resumed: Option.some("s") })),
        "SessionCorrupted",
      )
      for (const status of ["401", "403", "429"]) {
        assert.strictEqual(
          tagOf(run([], { stderrTail: [`API Error: ${status} - denied`], resumed: Option.some("s") })),
          "ContainerFailed",
          status,
        )
      }
      assert.strictEqual(tagOf(run([], { stderrTail: ["API Error: 400 - Bad Request"] })), "ContainerFailed")
    })

    it("a line merely containing the words elsewhere does not count", () => {
      assert.strictEqual(tagOf(run(["warning: Prompt is too long maybe"])), "ContainerFailed")
      assert.strictEqual(
        tagOf(run([], { stderrTail: ["retrying after API Error: 400"], resumed: Option.some("s") })),
        "ContainerFailed",
      )
    })

    it("the failure carries the last lines of stderr", () => {
      const lines = Array.from({ length: 15 }, (_, i) => `line ${i + 1}`)
      const verdict = run([], { exitCode: 2, stderrTail: lines })
      assert.isTrue(Either.isLeft(verdict))
      if (Either.isRight(verdict) || verdict.left._tag !== "ContainerFailed") return assert.fail("not failed")
      assert.deepStrictEqual(verdict.left.lastLines, lines.slice(-10))
      assert.include(verdict.left.detail, "exited with 2")
    })
  })

  it("a success result without text falls back to the last assistant text", () => {
    const lines = [
      JSON.stringify({ type: "system", subtype: "init", session_id: "s1" }),
      JSON.stringify({ type: "assistant", message: { content: [{ type: "text", text: "First." }] } }),
      JSON.stringify({ type: "assistant", message: { content: [{ type: "text", text: "Final words." }] } }),
      JSON.stringify({
        type: "assistant",
        parent_tool_use_id: "task-1",
        message: { content: [{ type: "text", text: "subagent chatter" }] },
      }),
      JSON.stringify({ type: "result", subtype: "success", is_error: false, session_id: "s1", result: "" }),
    ]
    const verdict = classify(lines.map(parseAgentLine).reduce(summarize, emptySummary), {
      exitCode: 0,
      stderrTail: [],
      resumed: Option.none(),
    })
    assert.strictEqual(Either.isRight(verdict) && verdict.right.replyText, "Final words.")
  })
})
