/**
 * Runs curl in the sandbox, once to an allowed URL and once to a blocked one, and prints what
 * each got and what the proxy logged.
 *
 *   npm run build   # the proxy bundle the sidecar runs (dist/proxy.js)
 *   AIRUT_SOCKET=/run/podman/podman.sock npx tsx examples/sandbox-command.ts
 *
 * Settings (environment): AIRUT_SOCKET (the Podman API socket), AIRUT_STATE_DIR (where the proxy
 * CA is kept), AIRUT_PROXY_BUNDLE (default dist/proxy.js), ALLOWED_URL (default https://example.com/), BLOCKED_URL.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Config, Console, Effect, Ref, Stream } from "effect"
import { decodeNetworkAllowlist, type NetworkLogLine, Sandbox, SandboxLayer } from "../src/index.js"

const dockerfile = `FROM localhost/airut-base:bookworm
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
`

const program = Effect.gen(function* () {
  const allowedUrl = yield* Config.string("ALLOWED_URL").pipe(Config.withDefault("https://example.com/"))
  const blockedUrl = yield* Config.string("BLOCKED_URL").pipe(Config.withDefault("https://blocked.example/"))
  const allowedHost = new URL(allowedUrl).hostname
  const sandbox = yield* Sandbox

  const image = yield* sandbox.ensureImage(new Map([["Dockerfile", Buffer.from(dockerfile)]]))
  yield* Console.log(`image ${image.commandTag} (${image.repo})`)
  const task = yield* sandbox.task({
    image,
    workspace: mkdtempSync(join(tmpdir(), "sandbox-example-")),
    network: { kind: "sandboxed", allowlist: yield* decodeNetworkAllowlist(`domains: [${allowedHost}]\n`) },
    limits: { memoryBytes: 512 * 1024 ** 2, pidsLimit: 256 },
  })
  const log = yield* Ref.make<ReadonlyArray<NetworkLogLine>>([])
  yield* task.networkLog.pipe(
    Stream.runForEach((line) => Ref.update(log, (all) => [...all, line])),
    Effect.forkScoped,
  )

  for (const url of [allowedUrl, blockedUrl]) {
    const result = yield* Effect.scoped(
      Effect.gen(function* () {
        const run = yield* task.run(
          ["curl", "-sS", "--max-time", "15", "-o", "/dev/null", "-w", "%{http_code}", url],
          { timeout: "30 seconds" },
        )
        const stdout = yield* Stream.runCollect(run.stdout)
        const stderr = yield* Stream.runCollect(run.stderr)
        const exit = yield* run.exit
        return { status: Chunk.join(stdout, ""), stderr: Chunk.join(stderr, " "), exit: exit.exitCode }
      }),
    )
    yield* Console.log(`${url} -> HTTP ${result.status}, curl exit ${result.exit} ${result.stderr}`.trim())
  }
  for (const line of yield* Ref.get(log)) {
    if (line.kind === "request") {
      yield* Console.log(
        `proxy: ${line.action} ${line.method} ${line.host}${line.path} ${line.status ?? "-"}`,
      )
    }
  }
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
