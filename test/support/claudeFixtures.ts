import { FileSystem } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import { type AgentEvent, parseAgentLine } from "../../src/schema/AgentEvent.js"
import { emptySummary, type RunExit, type RunSummary, summarize } from "../../src/services/AgentClassifier.js"

/** The fixtures scripts/record-claude-fixtures.ts recorded from the real CLI. */
export const fixtureNames = [
  "one-turn",
  "multi-turn-write",
  "resume",
  "resume-rejected",
  "resume-missing",
  "prompt-too-long",
  "resume-prompt-too-long",
  "api-error",
] as const
export type FixtureName = (typeof fixtureNames)[number]

const RunInfo = Schema.parseJson(
  Schema.Struct({
    description: Schema.String,
    claudeVersion: Schema.String,
    resumed: Schema.NullOr(Schema.String),
    exitCode: Schema.Number,
    stderr: Schema.Array(Schema.String),
    apiCalls: Schema.Array(Schema.String),
  }),
)

export interface Fixture {
  readonly name: FixtureName
  readonly description: string
  readonly lines: ReadonlyArray<string>
  readonly events: ReadonlyArray<AgentEvent>
  readonly summary: RunSummary
  readonly exit: RunExit
}

export const loadFixture = (name: FixtureName) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const base = new URL(`../fixtures/claude/${name}`, import.meta.url).pathname
    const text = yield* fs.readFileString(`${base}.jsonl`)
    const info = yield* Schema.decodeUnknown(RunInfo)(yield* fs.readFileString(`${base}.run.json`))
    const lines = text.split("\n").filter((l) => l !== "")
    const events = lines.map(parseAgentLine)
    const fixture: Fixture = {
      name,
      description: info.description,
      lines,
      events,
      summary: events.reduce(summarize, emptySummary),
      exit: {
        exitCode: info.exitCode,
        stderrTail: info.stderr,
        resumed: Option.fromNullable(info.resumed),
      },
    }
    return fixture
  })
