/**
 * Records test/fixtures/claude/*.jsonl: the real Claude Code CLI, run on this host against the
 * scripted fake API (test/support/FakeAnthropic.ts), one scenario per fixture. Each fixture is
 * the CLI's stdout verbatim; `<name>.run.json` beside it holds the exit code, stderr and whether
 * the run resumed a session. The outcome rules are unit-tested on these files.
 *
 *   npx tsx scripts/record-claude-fixtures.ts [scenario ...]
 *
 * The binary comes from the Claude binary cache under AIRUT_TEST_CACHE_DIR
 * (default /var/cache/airut-test), as in the integration tests.
 */
import { type CommandExecutor, FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer, Option, Schema } from "effect"
import { ClaudeBinaryLive } from "../src/layers/ClaudeBinaryLive.js"
import { AirutPaths } from "../src/services/AirutPaths.js"
import { ClaudeBinary } from "../src/services/ClaudeBinary.js"
import { runClaudeOnHost } from "../test/support/ClaudeHost.js"
import {
  bash,
  type FakeAnthropicShape,
  invalidApiKey,
  invalidSession,
  makeFakeAnthropic,
  promptTooLong,
  Turn,
  writeFile,
} from "../test/support/FakeAnthropic.js"

const claudeVersion = "2.1.330"
const fixturesDir = "test/fixtures/claude"
const workRoot = "/tmp/airut-claude-fixtures"

interface Dirs {
  readonly home: string
  readonly workspace: string
  readonly outbox: string
}

interface Scenario {
  readonly description: string
  /** Runs before the recorded run (e.g. the first turn of a session to resume); returns its session. */
  readonly before?: (ctx: Context) => Effect.Effect<string, PlatformError, CommandExecutor.CommandExecutor>
  readonly turns: (dirs: Dirs) => ReadonlyArray<Turn>
  readonly prompt: string
  /** Resume the session `before` returned, or this fixed id (a session that does not exist). */
  readonly resume?: "before" | string
}

interface Context {
  readonly binary: string
  readonly fake: FakeAnthropicShape
  readonly dirs: Dirs
}

const firstSession = (ctx: Context) =>
  Effect.gen(function* () {
    yield* ctx.fake.script([Turn.Text({ text: "Noted: the build uses make." })])
    const run = yield* runClaudeOnHost({
      binary: ctx.binary,
      baseUrl: ctx.fake.url,
      home: ctx.dirs.home,
      cwd: ctx.dirs.workspace,
      prompt: "Remember that the build uses make.",
    })
    const init = run.stdout.map((l) => JSON.parse(l)).find((e) => e.type === "system" && e.subtype === "init")
    if (run.exitCode !== 0 || typeof init?.session_id !== "string") {
      return yield* Effect.dieMessage(`the first run failed: exit ${run.exitCode}\n${run.stderr.join("\n")}`)
    }
    return String(init.session_id)
  })

const scenarios: Readonly<Record<string, Scenario>> = {
  "one-turn": {
    description: "A fresh session answered in one text turn.",
    prompt: "Say hello.",
    turns: () => [Turn.Text({ text: "Hello! How can I help with this repository?" })],
  },
  "multi-turn-write": {
    description: "Write a file into the workspace and one into the outbox, list them (Bash), then answer.",
    prompt: "Create notes.md and put a report into the outbox.",
    turns: (dirs) => [
      writeFile(
        `${dirs.workspace}/notes.md`,
        "# Notes\n\nThe build uses make.\n",
        "I'll create the notes file.",
      ),
      writeFile(`${dirs.outbox}/report.txt`, "All done.\n"),
      bash(`ls ${dirs.workspace} ${dirs.outbox}`),
      Turn.Text({ text: "Created notes.md in the workspace and report.txt in the outbox." }),
    ],
  },
  resume: {
    description: "A second message resumes the first run's session; the API sees the earlier turns.",
    before: firstSession,
    resume: "before",
    prompt: "What does the build use?",
    turns: () => [Turn.Text({ text: "The build uses make." })],
  },
  "resume-rejected": {
    description: "The API answers every call of the resumed session with a 400 invalid_request_error.",
    before: firstSession,
    resume: "before",
    prompt: "And the tests?",
    // A broken transcript is rejected on every call; the CLI makes several before it gives up.
    turns: () => Array.from({ length: 12 }, () => invalidSession()),
  },
  "resume-missing": {
    description: "The session to resume has no transcript in the Claude state directory.",
    resume: "00000000-0000-4000-8000-000000000000",
    prompt: "Continue.",
    turns: () => [],
  },
  "prompt-too-long": {
    description: "A fresh session the API refuses as too long for the context window.",
    prompt: "Summarise everything.",
    turns: () => [promptTooLong()],
  },
  "resume-prompt-too-long": {
    description:
      "A resumed session the API refuses as too long for the context window; the CLI's own compaction attempt is refused too.",
    before: firstSession,
    resume: "before",
    prompt: "Summarise everything so far.",
    turns: () => Array.from({ length: 12 }, () => promptTooLong()),
  },
  "api-error": {
    description: "Every API call is refused with 401 (a wrong key); the CLI retries, then gives up.",
    prompt: "Say hello.",
    turns: () => Array.from({ length: 12 }, () => invalidApiKey()),
  },
}

const CallSummary = Schema.Struct({
  model: Schema.String,
  messages: Schema.Array(Schema.Unknown),
  stream: Schema.optional(Schema.Boolean),
  max_tokens: Schema.optional(Schema.Number),
})

/** What a Messages call asked for, without the (large) prompt itself. */
const describeCall = (json: Option.Option<unknown>) =>
  Option.flatMap(json, Schema.decodeUnknownOption(CallSummary)).pipe(
    Option.match({
      onNone: () => "not a Messages body",
      onSome: (c) =>
        `${c.model}, ${c.messages.length} messages, stream ${c.stream === true}, max_tokens ${c.max_tokens ?? "-"}`,
    }),
  )

const record = (name: string, scenario: Scenario, binary: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const root = path.join(workRoot, name)
      yield* fs.remove(root, { recursive: true, force: true })
      const dirs: Dirs = {
        home: path.join(root, "home"),
        workspace: path.join(root, "workspace"),
        outbox: path.join(root, "outbox"),
      }
      for (const dir of Object.values(dirs)) yield* fs.makeDirectory(dir, { recursive: true })
      const fake = yield* makeFakeAnthropic()
      const ctx: Context = { binary, fake, dirs }
      const before = scenario.before ? yield* scenario.before(ctx) : undefined
      yield* fake.clearRequests
      yield* fake.script(scenario.turns(dirs))
      const sessionId = scenario.resume === "before" ? before : scenario.resume
      const run = yield* runClaudeOnHost({
        binary,
        baseUrl: fake.url,
        home: dirs.home,
        cwd: dirs.workspace,
        prompt: scenario.prompt,
        ...(sessionId === undefined ? {} : { sessionId }),
      })
      const messages = yield* fake.messageRequests
      yield* fs.writeFileString(
        path.join(fixturesDir, `${name}.jsonl`),
        run.stdout.map((l) => `${l}\n`).join(""),
      )
      yield* fs.writeFileString(
        path.join(fixturesDir, `${name}.run.json`),
        `${JSON.stringify(
          {
            description: scenario.description,
            claudeVersion,
            resumed: sessionId ?? null,
            exitCode: run.exitCode,
            stderr: run.stderr,
            apiCalls: messages.map((m) => describeCall(m.json)),
            unusedTurns: yield* fake.remaining,
          },
          null,
          2,
        )}\n`,
      )
      yield* Effect.logInfo(
        `${name}: exit ${run.exitCode}, ${run.stdout.length} lines, ${messages.length} API calls`,
      )
    }),
  )

const program = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const wanted = process.argv.slice(2)
  const binary = yield* Effect.flatMap(ClaudeBinary, (c) => c.ensure(claudeVersion))
  yield* fs.makeDirectory(fixturesDir, { recursive: true })
  for (const [name, scenario] of Object.entries(scenarios)) {
    if (wanted.length > 0 && !wanted.includes(name)) continue
    yield* record(name, scenario, binary.path)
  }
})

const cache = Layer.unwrapEffect(
  Config.string("AIRUT_TEST_CACHE_DIR").pipe(
    Config.withDefault("/var/cache/airut-test"),
    Effect.map((stateDir) =>
      ClaudeBinaryLive().pipe(
        Layer.provide(Layer.succeed(AirutPaths, { configFile: "/nonexistent", stateDir })),
      ),
    ),
  ),
)

program.pipe(Effect.provide(cache), Effect.provide(NodeContext.layer), NodeRuntime.runMain)
