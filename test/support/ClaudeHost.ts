import { Command, CommandExecutor } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Chunk, Effect, Stream } from "effect"
import { claudeArgs } from "../../src/services/AgentExecutor.js"

/**
 * Runs the real Claude Code binary on this host (not in a container) against a fake API: how the
 * fixtures in test/fixtures/claude are recorded, and how tests check them against the CLI. The
 * environment is exactly the one given here, nothing inherited from the test process.
 */

export interface HostRunOptions {
  readonly binary: string
  /** The fake API, as ANTHROPIC_BASE_URL. */
  readonly baseUrl: string
  /** HOME and CLAUDE_CONFIG_DIR (`<home>/.claude`, where session transcripts go). */
  readonly home: string
  readonly cwd: string
  readonly prompt: string
  readonly model?: string
  readonly effort?: string
  readonly sessionId?: string
  readonly apiKey?: string
  /**
   * Turn off the CLI's calls to api.anthropic.com that ANTHROPIC_BASE_URL does not redirect
   * (settings, policy limits, telemetry). Without it a host with no route there waits on them.
   */
  readonly quiet?: boolean
  readonly extraEnv?: Readonly<Record<string, string>>
}

export interface HostRun {
  readonly exitCode: number
  readonly stdout: ReadonlyArray<string>
  readonly stderr: ReadonlyArray<string>
}

export const testApiKey = "sk-ant-api03-test-0000000000000000000000000000000000000000"

export const runClaudeOnHost = (
  options: HostRunOptions,
): Effect.Effect<HostRun, PlatformError, CommandExecutor.CommandExecutor> =>
  Effect.scoped(
    Effect.gen(function* () {
      const executor = yield* CommandExecutor.CommandExecutor
      const env: Record<string, string> = {
        PATH: "/usr/local/bin:/usr/bin:/bin",
        HOME: options.home,
        CLAUDE_CONFIG_DIR: `${options.home}/.claude`,
        ANTHROPIC_BASE_URL: options.baseUrl,
        ANTHROPIC_API_KEY: options.apiKey ?? testApiKey,
        IS_SANDBOX: "1",
        CLAUDE_CODE_DISABLE_BACKGROUND_TASKS: "1",
        ...(options.quiet === false ? {} : { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" }),
        ...options.extraEnv,
      }
      const args = claudeArgs({
        model: options.model ?? "claude-sonnet-4-5",
        ...(options.effort === undefined ? {} : { effort: options.effort }),
        ...(options.sessionId === undefined ? {} : { sessionId: options.sessionId }),
      })
      const command = Command.make(options.binary, ...args).pipe(
        Command.env(env, { extendEnv: false }),
        Command.workingDirectory(options.cwd),
        Command.feed(options.prompt),
      )
      const proc = yield* executor.start(command)
      const lines = (stream: Stream.Stream<Uint8Array, PlatformError>) =>
        stream.pipe(Stream.decodeText(), Stream.splitLines, Stream.runCollect, Effect.map(Chunk.toArray))
      const [stdout, stderr, exitCode] = yield* Effect.all(
        [lines(proc.stdout), lines(proc.stderr), proc.exitCode],
        {
          concurrency: 3,
        },
      )
      const run: HostRun = { exitCode, stdout, stderr }
      return run
    }),
  )
