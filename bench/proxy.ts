import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Command, FileSystem } from "@effect/platform"
import type { NodeContext } from "@effect/platform-node"
import {
  Config,
  Console,
  Deferred,
  Effect,
  Layer,
  Option,
  Schedule,
  Schema,
  type Scope,
  Stream,
} from "effect"
import { bundleProxy } from "../scripts/proxyBundle.js"
import { ProxyCaLive } from "../src/layers/ProxyCaLive.js"
import { AirutPaths } from "../src/services/AirutPaths.js"
import { ProxyCa } from "../src/services/ProxyCa.js"
import { makeTestPki } from "../test/proxy/support.js"
import { type BenchModule, type BenchResult, median } from "./Bench.js"

/**
 * The network proxy against no proxy: a load generator (its own process) sends HTTPS GETs to a
 * loopback upstream (its own process), directly and through the bundled proxy program
 * (the bundle dist/proxy.js ships, its own process, logging every request as in the sidecar).
 * - keep-alive: requests/s over 16 connections and p50/p99 latency (goal: at least 50% of the
 *   direct throughput);
 * - a new TCP+TLS connection per request, no session resumption (goal: at most 1.3x direct).
 * `mitmdump`, when installed, runs in the same table as a reverse proxy (what the original used).
 */

const settings = Effect.all({
  seconds: Config.number("AIRUT_BENCH_PROXY_SECONDS").pipe(Config.withDefault(5)),
  rounds: Config.integer("AIRUT_BENCH_PROXY_ROUNDS").pipe(Config.withDefault(3)),
  connections: Config.integer("AIRUT_BENCH_PROXY_CONNECTIONS").pipe(Config.withDefault(16)),
  newConnections: Config.integer("AIRUT_BENCH_PROXY_NEW_CONNECTIONS").pipe(Config.withDefault(300)),
})

const KeepAliveResult = Schema.parseJson(
  Schema.Struct({
    requestsPerSecond: Schema.Number,
    p50: Schema.Number,
    p99: Schema.Number,
    errors: Schema.Number,
  }),
)
const NewConnResult = Schema.parseJson(
  Schema.Struct({ p50: Schema.Number, p99: Schema.Number, errors: Schema.Number }),
)
const StartLine = Schema.parseJson(Schema.Struct({ kind: Schema.Literal("start"), https: Schema.Int }))

interface Target {
  readonly name: string
  readonly port: number
  readonly caPem: string
}

const tsx = (script: string, ...args: ReadonlyArray<string>) =>
  Command.make("node", "--import", "tsx", script, ...args)

/** Starts a process for the scope; resolves with its first stdout line, and keeps draining the rest. */
const startProcess = (command: Command.Command) =>
  Effect.gen(function* () {
    const proc = yield* Command.start(command)
    const first = yield* Deferred.make<string>()
    yield* proc.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => Deferred.succeed(first, line)),
      Effect.forkScoped,
    )
    return yield* Deferred.await(first).pipe(
      Effect.timeoutFail({
        duration: "60 seconds",
        onTimeout: () => new Error("the process printed nothing"),
      }),
    )
  })

const load = (target: Target, options: Record<string, unknown>) =>
  Command.string(
    tsx(
      "bench/proxy/load.ts",
      JSON.stringify({
        port: target.port,
        servername: "bench.test",
        caPem: target.caPem,
        path: "/item",
        ...options,
      }),
    ),
  )

const freePort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    server.close(() =>
      resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0)),
    )
  })
})

/** mitmdump as a reverse proxy in front of the same upstream, when it is installed. */
const startMitmdump = (
  upstreamPort: number,
): Effect.Effect<Option.Option<Target>, unknown, Scope.Scope | NodeContext.NodeContext> =>
  Effect.gen(function* () {
    const found = yield* Command.exitCode(Command.make("sh", "-c", "command -v mitmdump")).pipe(
      Effect.catchAll(() => Effect.succeed(1)),
    )
    if (found !== 0) {
      yield* Console.error("bench: proxy: mitmdump is not installed; leaving it out")
      return Option.none()
    }
    const fs = yield* FileSystem.FileSystem
    const confdir = mkdtempSync(join(tmpdir(), "airut-bench-mitm-"))
    const port = yield* freePort
    yield* Command.start(
      Command.make(
        "mitmdump",
        "-q",
        "--mode",
        `reverse:https://127.0.0.1:${upstreamPort}/`,
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        String(port),
        "--set",
        `confdir=${confdir}`,
        "--set",
        "ssl_insecure=true",
      ),
    )
    const caFile = join(confdir, "mitmproxy-ca-cert.pem")
    yield* fs.exists(caFile).pipe(
      Effect.filterOrFail((exists) => exists),
      Effect.retry({ times: 100, schedule: Schedule.spaced("100 millis") }),
    )
    yield* Effect.sleep("2 seconds")
    return Option.some({ name: "mitmdump", port, caPem: yield* fs.readFileString(caFile) })
  })

const run = Effect.gen(function* () {
  const { seconds, rounds, connections, newConnections } = yield* settings
  const fs = yield* FileSystem.FileSystem

  const dir = mkdtempSync(join(tmpdir(), "airut-bench-proxy-"))
  // The bundle the sidecar runs, built the way `npm run build` builds it.
  const bundle = join(dir, "proxy.mjs")
  yield* Effect.tryPromise({
    try: () => bundleProxy(bundle),
    catch: (cause) => new Error(`bundling the proxy failed: ${String(cause)}`),
  })
  const pki = yield* makeTestPki(["bench.test"])
  writeFileSync(join(dir, "upstream.crt"), pki.certPem)
  writeFileSync(join(dir, "upstream.key"), pki.keyPem, { mode: 0o600 })
  const upstreamPort = Number(
    yield* startProcess(tsx("bench/proxy/upstream.ts", join(dir, "upstream.crt"), join(dir, "upstream.key"))),
  )

  // The proxy's CA, made by the same code as `airut init`.
  const ca = yield* Effect.flatMap(ProxyCa, (c) => c.ensure).pipe(
    Effect.provide(
      ProxyCaLive.pipe(
        Layer.provide(Layer.succeed(AirutPaths, { configFile: join(dir, "airut.yaml"), stateDir: dir })),
      ),
    ),
  )
  const caPem = yield* fs.readFileString(ca.certPath)
  const config = {
    version: 1,
    http: { host: "127.0.0.1", port: 0 },
    https: { host: "127.0.0.1", port: 0 },
    ca: { certPem: caPem, keyPem: yield* fs.readFileString(ca.keyPath) },
    allowlist: { domains: ["bench.test"], url_prefixes: [] },
    maskedSecrets: [],
    signingCredentials: [],
    upstreamOverrides: { "bench.test": `127.0.0.1:${upstreamPort}` },
    upstreamCaPem: pki.caPem,
  }
  writeFileSync(join(dir, "proxy.json"), JSON.stringify(config), { mode: 0o600 })
  const start = yield* startProcess(Command.make("node", bundle, join(dir, "proxy.json")))
  const proxyPort = (yield* Schema.decodeUnknown(StartLine)(start)).https

  const direct: Target = { name: "direct", port: upstreamPort, caPem: pki.caPem }
  const ours: Target = { name: "airut proxy", port: proxyPort, caPem }
  const mitm = yield* startMitmdump(upstreamPort)
  const targets = [direct, ours, ...Option.toArray(mitm)]

  const keepAlive = (t: Target) =>
    Effect.flatMap(
      load(t, { mode: "keepalive", connections, seconds }),
      Schema.decodeUnknown(KeepAliveResult),
    )
  const newConn = (t: Target) =>
    Effect.flatMap(
      load(t, { mode: "newconn", requests: newConnections }),
      Schema.decodeUnknown(NewConnResult),
    )

  // Rounds interleave the targets, so a busy moment of the (shared) machine hits them alike;
  // each figure is the median over rounds.
  const kept = new Map<string, Array<typeof KeepAliveResult.Type>>(targets.map((t) => [t.name, []]))
  const fresh = new Map<string, Array<typeof NewConnResult.Type>>(targets.map((t) => [t.name, []]))
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) kept.get(t.name)?.push(yield* keepAlive(t))
    for (const t of targets) fresh.get(t.name)?.push(yield* newConn(t))
  }
  const ka = (name: string) => {
    const results = kept.get(name) ?? []
    return {
      rps: median(results.map((r) => r.requestsPerSecond)),
      p50: median(results.map((r) => r.p50)),
      p99: median(results.map((r) => r.p99)),
      errors: results.reduce((sum, r) => sum + r.errors, 0),
    }
  }
  const nc = (name: string) => {
    const results = fresh.get(name) ?? []
    return {
      p50: median(results.map((r) => r.p50)),
      p99: median(results.map((r) => r.p99)),
      errors: results.reduce((sum, r) => sum + r.errors, 0),
    }
  }
  const d = ka("direct")
  const dn = nc("direct")
  const rows: Array<BenchResult> = []
  for (const t of targets.slice(1)) {
    const k = ka(t.name)
    const n = nc(t.name)
    const share = (100 * k.rps) / d.rps
    const label = t === ours ? "" : ` [${t.name}]`
    rows.push(
      {
        name: `keep-alive, ${connections} conns: ms/request = 1/throughput (${k.rps.toFixed(0)} vs ${d.rps.toFixed(0)} req/s = ${share.toFixed(1)}% of direct)${label}`,
        ours: 1000 / k.rps,
        samples: rounds,
        baseline: { name: "direct HTTPS", ms: 1000 / d.rps },
      },
      {
        name: `keep-alive latency p50${label}`,
        ours: k.p50,
        samples: rounds,
        baseline: { name: "direct HTTPS", ms: d.p50 },
      },
      {
        name: `keep-alive latency p99${label}`,
        ours: k.p99,
        samples: rounds,
        baseline: { name: "direct HTTPS", ms: d.p99 },
      },
      {
        name: `new TLS connection per request, p50${label}`,
        ours: n.p50,
        samples: rounds * newConnections,
        baseline: { name: "direct HTTPS", ms: dn.p50 },
      },
      {
        name: `new TLS connection per request, p99${label}`,
        ours: n.p99,
        samples: rounds * newConnections,
        baseline: { name: "direct HTTPS", ms: dn.p99 },
      },
    )
    yield* Console.error(
      `bench: proxy: ${t.name}: keep-alive ${share.toFixed(1)}% of direct throughput (goal >= 50%), new connection ${(n.p50 / dn.p50).toFixed(2)}x direct (goal <= 1.3x); errors ${k.errors + n.errors} (direct ${d.errors + dn.errors})`,
    )
  }
  return rows
})

const bench: BenchModule = { name: "proxy", run: Effect.scoped(run) }

export default bench
