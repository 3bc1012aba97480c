import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Clock, Config, Console, Effect, Layer } from "effect"
import { decodeNetworkAllowlist } from "../src/schema/NetworkAllowlist.js"
import { Sandbox } from "../src/services/Sandbox.js"
import { claudeBinaryPath, claudeVersion, TestClaudeBinary } from "../test/integration/support/claude.js"
import {
  allowlistYaml,
  dockerfile,
  makeSandboxRig,
  Rig,
  rigNetwork,
} from "../test/integration/support/sandboxRig.js"
import { runClaudeOnHost } from "../test/support/ClaudeHost.js"
import { makeFakeAnthropic, Turn } from "../test/support/FakeAnthropic.js"
import { type BenchModule, type BenchResult, elapsedSince, median, sample } from "./Bench.js"

/**
 * The real Claude Code CLI completing a one-turn task against the scripted fake Anthropic API:
 * - ours: `task.promptToEnd` in a sandboxed task of the Sandbox library on Podman (agent
 *   container on the isolated network, the proxy sidecar terminating TLS for api.anthropic.com
 *   and forwarding to the fake on the egress gateway), the task already up; the task's setup
 *   (isolation probe and sidecar) is its own row;
 * - direct: the same binary on the host against the fake over loopback HTTP.
 * A sandboxed run near 18 s would mean a TLS retry storm (api.anthropic.com going unanswered
 * through the proxy: issue 11).
 */

const settings = Config.integer("AIRUT_BENCH_AGENT_N").pipe(Config.withDefault(3))

const reply = "Hello from the bench."
const prompt = "Say hello."
const model = "claude-sonnet-4-5"

const tempDir = (name: string) =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), name))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
  )

const oneTurn = Turn.Text({ text: reply })

const sandboxed = (n: number) => {
  const { realKey, TestLayer } = makeSandboxRig()
  return Effect.scoped(
    Effect.gen(function* () {
      const rig = yield* Rig
      const { fake, workspace } = rig
      const sandbox = yield* Sandbox
      const image = yield* sandbox.ensureImage(new Map([["Dockerfile", Buffer.from(dockerfile)]]))
      const allowlist = yield* decodeNetworkAllowlist(allowlistYaml)
      const start = yield* Clock.currentTimeNanos
      const task = yield* sandbox.task({
        image,
        workspace,
        network: rigNetwork(rig, realKey, allowlist),
        limits: { memoryBytes: 2 * 1024 ** 3, pidsLimit: 512 },
        name: "bench-agent",
      })
      const setupMs = yield* elapsedSince(start)
      const once = Effect.gen(function* () {
        yield* fake.script([oneTurn])
        const started = yield* Clock.currentTimeNanos
        const outcome = yield* task.promptToEnd({ prompt, model, claudeVersion, timeout: "3 minutes" })
        const ms = yield* elapsedSince(started)
        if (outcome.replyText !== reply) {
          return yield* Effect.dieMessage(`sandboxed run answered ${JSON.stringify(outcome.replyText)}`)
        }
        return ms
      })
      const runs = yield* sample(n, 1, once)
      yield* Console.error(
        `bench: agent: sandboxed setup ${setupMs.toFixed(0)} ms, runs ${runs.map((r) => r.toFixed(0)).join(", ")} ms`,
      )
      return { setupMs, runs }
    }),
  ).pipe(Effect.provide(Layer.fresh(TestLayer)))
}

const direct = (n: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { path: binary } = yield* claudeBinaryPath
      const fake = yield* makeFakeAnthropic()
      const once = Effect.scoped(
        Effect.gen(function* () {
          const home = yield* tempDir("airut-bench-agent-home-")
          const cwd = yield* tempDir("airut-bench-agent-cwd-")
          yield* fake.script([oneTurn])
          const started = yield* Clock.currentTimeNanos
          const result = yield* runClaudeOnHost({ binary, baseUrl: fake.url, home, cwd, prompt, model })
          const ms = yield* elapsedSince(started)
          const answered = result.stdout.some((line) => line.includes(reply))
          if (result.exitCode !== 0 || !answered) {
            return yield* Effect.dieMessage(
              `direct run: exit ${result.exitCode}, stderr ${result.stderr.join("\n").slice(0, 2000)}`,
            )
          }
          return ms
        }),
      )
      const runs = yield* sample(n, 1, once)
      yield* Console.error(`bench: agent: direct runs ${runs.map((r) => r.toFixed(0)).join(", ")} ms`)
      return runs
    }),
  ).pipe(Effect.provide(TestClaudeBinary))

const run = Effect.gen(function* () {
  const n = yield* settings
  const baseline = yield* direct(n)
  const ours = yield* sandboxed(n)
  const results: ReadonlyArray<BenchResult> = [
    {
      name: "one-turn prompt, task up (promptToEnd)",
      ours: median(ours.runs),
      samples: ours.runs.length,
      baseline: { name: "same CLI on the host, fake API on loopback", ms: median(baseline) },
    },
    { name: "sandboxed task setup (isolation probe + sidecar)", ours: ours.setupMs, samples: 1 },
  ]
  return results
})

const agent: BenchModule = { name: "agent", run }
export default agent
