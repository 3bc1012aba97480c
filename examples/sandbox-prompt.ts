/**
 * One prompt to Claude Code in the sandbox: the container holds only a surrogate API key, the
 * proxy puts the real one in on api.anthropic.com and blocks every other host.
 *
 *   npm run build
 *   ANTHROPIC_API_KEY=sk-ant-... AIRUT_SOCKET=/run/podman/podman.sock npx tsx examples/sandbox-prompt.ts
 *
 * Settings (environment): ANTHROPIC_API_KEY, AIRUT_SOCKET, AIRUT_STATE_DIR (the proxy CA and the
 * Claude Code binaries), AIRUT_PROXY_BUNDLE, CLAUDE_VERSION (default 2.1.330), MODEL, PROMPT.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Redacted, Schema, Stream } from "effect"
import { decodeNetworkAllowlist, MaskedSecret, Sandbox, SandboxLayer } from "../src/index.js"

// What Claude Code calls on api.anthropic.com besides the Messages API (settings, policy, telemetry).
const allowlist = `
url_prefixes:
  - host: api.anthropic.com
    path: /v1/messages*
    methods: [POST]
  - host: api.anthropic.com
    path: /api/*
    methods: [GET, POST]
`

const program = Effect.gen(function* () {
  const apiKey = yield* Config.redacted("ANTHROPIC_API_KEY")
  const claudeVersion = yield* Config.string("CLAUDE_VERSION").pipe(Config.withDefault("2.1.330"))
  const model = yield* Config.string("MODEL").pipe(Config.withDefault("claude-sonnet-4-5"))
  const prompt = yield* Config.string("PROMPT").pipe(
    Config.withDefault("Write hello.txt in the workspace saying hello, then say what you did."),
  )
  const sandbox = yield* Sandbox
  const image = yield* sandbox.ensureImage(
    new Map([["Dockerfile", Buffer.from("FROM localhost/airut-base:bookworm\n")]]),
  )
  const workspace = mkdtempSync(join(tmpdir(), "sandbox-prompt-"))
  const task = yield* sandbox.task({
    image,
    workspace,
    network: {
      kind: "sandboxed",
      allowlist: yield* decodeNetworkAllowlist(allowlist),
      maskedSecrets: {
        ANTHROPIC_API_KEY: yield* Schema.decodeUnknown(MaskedSecret)({
          value: Redacted.value(apiKey),
          scopes: ["api.anthropic.com"],
          headers: ["x-api-key"],
        }),
      },
    },
    limits: { memoryBytes: 2 * 1024 ** 3 },
  })
  const run = yield* task.prompt({ prompt, model, claudeVersion, timeout: "10 minutes" })
  // Events arrive while the agent works (one consumer): here just their kinds.
  yield* run.events.pipe(Stream.runForEach((event) => Console.log(`event: ${event._tag}`)))
  const outcome = yield* run.outcome
  yield* Console.log(`reply: ${outcome.replyText}`)
  yield* Console.log(`session ${outcome.sessionId}, ${outcome.turns} turns, $${outcome.costUsd.toFixed(4)}`)
  yield* Console.log(`workspace: ${workspace}`)
})

const layer = Effect.gen(function* () {
  const socketPath = yield* Config.string("AIRUT_SOCKET").pipe(Config.withDefault("/run/podman/podman.sock"))
  const stateDir = yield* Config.string("AIRUT_STATE_DIR").pipe(
    Config.withDefault(join(tmpdir(), "airut-sandbox-example")),
  )
  const proxyBundle = yield* Config.string("AIRUT_PROXY_BUNDLE").pipe(
    Config.withDefault(fileURLToPath(new URL("../dist/proxy.js", import.meta.url))),
  )
  return SandboxLayer({ socketPath, stateDir, proxyBundle })
})

Effect.flatMap(layer, (live) => program.pipe(Effect.scoped, Effect.provide(live))).pipe(NodeRuntime.runMain)
