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
 * `mitmdump`, when installed, runs in the same table as a reverse proxy (what the original used),
 * and a naive Node forwarder (bench/proxy/naive.ts: no checks, no log) always does, as the floor
 * of what a Node proxy costs.
 *
 * Fairness. The three processes share this machine's 2 cores (and other work on it): direct,
 * load generator and upstream have a core each; through a proxy, three processes share two,
 * which is what a proxy costs on one host, so requests/s is reported as measured. Nothing else
 * of the bench runs during a measurement: the proxy's log lines go to a file (not through this
 * process, which would spend CPU only on proxied runs), and rounds interleave the targets so a
 * busy moment of the machine hits them alike. Because other engineers' work moves requests/s
 * from run to run, every run also reports the CPU time each process spent per request in the
 * measured window (Linux /proc): the proxy's own cost, independent of what else runs.
 */

const settings = Effect.all({
  seconds: Config.number("AIRUT_BENCH_PROXY_SECONDS").pipe(Config.withDefault(5)),
  rounds: Config.integer("AIRUT_BENCH_PROXY_ROUNDS").pipe(Config.withDefault(3)),
  connections: Config.integer("AIRUT_BENCH_PROXY_CONNECTIONS").pipe(Config.withDefault(16)),
  newConnections: Config.integer("AIRUT_BENCH_PROXY_NEW_CONNECTIONS").pipe(Config.withDefault(300)),
  profileDir: Config.option(Config.string("AIRUT_BENCH_PROXY_PROFILE_DIR")),
})

const Cpu = {
  loadCpuMs: Schema.Number,
  otherCpuMs: Schema.Array(Schema.Number),
}
const KeepAliveResult = Schema.parseJson(
  Schema.Struct({
    requestsPerSecond: Schema.Number,
    p50: Schema.Number,
    p99: Schema.Number,
    errors: Schema.Number,
    ...Cpu,
  }),
)
const NewConnResult = Schema.parseJson(
  Schema.Struct({
    p50: Schema.Number,
    p99: Schema.Number,
    errors: Schema.Number,
    reused: Schema.Number,
    ...Cpu,
  }),
)
const StartLine = Schema.parseJson(Schema.Struct({ kind: Schema.Literal("start"), https: Schema.Int }))

interface Target {
  readonly name: string
  readonly port: number
  readonly caPem: string
  /** Processes serving this target besides the upstream (the proxy), for CPU accounting. */
  readonly pids: ReadonlyArray<number>
}

const tsx = (script: string, ...args: ReadonlyArray<string>) =>
  Command.make("node", "--import", "tsx", script, ...args)

/** Starts a process for the scope; its pid and its first stdout line (the rest is drained). */
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
    const line = yield* Deferred.await(first).pipe(
      Effect.timeoutFail({
        duration: "60 seconds",
        onTimeout: () => new Error("the process printed nothing"),
      }),
    )
    return { pid: Number(proc.pid), line }
  })

/**
 * Starts the proxy bundle for the scope with its log channel (stdout) going to `logFile`;
 * its pid and its start line, read back from that file.
 */
const startProxy = (bundle: string, configFile: string, logFile: string, profileDir: Option.Option<string>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const profile = Option.match(profileDir, {
      onNone: () => "",
      onSome: (d) => `--cpu-prof --cpu-prof-dir='${d}' `,
    })
    // `exec`: the pid is the proxy's own, for CPU accounting and for the scope to stop it.
    const proc = yield* Command.start(
      Command.make("sh", "-c", `exec node ${profile}'${bundle}' '${configFile}' > '${logFile}'`),
    )
    const line = yield* fs.readFileString(logFile).pipe(
      Effect.map((text) => text.split("\n")[0] ?? ""),
      Effect.filterOrFail((first) => first !== ""),
      Effect.retry({ times: 300, schedule: Schedule.spaced("100 millis") }),
    )
    return { pid: Number(proc.pid), line }
  })

const load = (target: Target, upstreamPid: number, clockTicks: number, options: Record<string, unknown>) =>
  Command.string(
    tsx(
      "bench/proxy/load.ts",
      JSON.stringify({
        port: target.port,
        servername: "bench.test",
        caPem: target.caPem,
        path: "/item",
        cpuPids: [upstreamPid, ...target.pids],
        clockTicks,
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
    const proc = yield* Command.start(
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
    return Option.some({
      name: "mitmdump",
      port,
      caPem: yield* fs.readFileString(caFile),
      pids: [Number(proc.pid)],
    })
  })

const run = Effect.gen(function* () {
  const { seconds, rounds, connections, newConnections, profileDir } = yield* settings
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
  const upstream = yield* startProcess(
    tsx("bench/proxy/upstream.ts", join(dir, "upstream.crt"), join(dir, "upstream.key")),
  )
  const upstreamPort = Number(upstream.line)
  const clockTicks = Number(
    (yield* Command.string(Command.make("getconf", "CLK_TCK")).pipe(
      Effect.orElseSucceed(() => "100"),
    )).trim(),
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
  const logFile = join(dir, "proxy.log")
  const proxy = yield* startProxy(bundle, join(dir, "proxy.json"), logFile, profileDir)
  const proxyPort = (yield* Schema.decodeUnknown(StartLine)(proxy.line)).https

  const direct: Target = { name: "direct", port: upstreamPort, caPem: pki.caPem, pids: [] }
  const ours: Target = { name: "airut proxy", port: proxyPort, caPem, pids: [proxy.pid] }
  writeFileSync(join(dir, "upstream-ca.crt"), pki.caPem)
  const naive = yield* startProcess(
    tsx(
      "bench/proxy/naive.ts",
      join(dir, "upstream.crt"),
      join(dir, "upstream.key"),
      join(dir, "upstream-ca.crt"),
      String(upstreamPort),
    ),
  )
  const floor: Target = {
    name: "naive forwarder",
    port: Number(naive.line),
    caPem: pki.caPem,
    pids: [naive.pid],
  }
  const mitm = yield* startMitmdump(upstreamPort)
  const targets = [direct, ours, floor, ...Option.toArray(mitm)]

  const keepAlive = (t: Target) =>
    Effect.flatMap(
      load(t, upstream.pid, clockTicks, { mode: "keepalive", connections, seconds }),
      Schema.decodeUnknown(KeepAliveResult),
    )
  const newConn = (t: Target, mode: "newconn" | "resumed") =>
    Effect.flatMap(
      load(t, upstream.pid, clockTicks, { mode, requests: newConnections }),
      Schema.decodeUnknown(NewConnResult),
    )

  // Rounds interleave the targets, so a busy moment of the (shared) machine hits them alike;
  // each figure is the median over rounds.
  const kept = new Map<string, Array<typeof KeepAliveResult.Type>>(targets.map((t) => [t.name, []]))
  const fresh = new Map<string, Array<typeof NewConnResult.Type>>(targets.map((t) => [t.name, []]))
  const resumed = new Map<string, Array<typeof NewConnResult.Type>>(targets.map((t) => [t.name, []]))
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) kept.get(t.name)?.push(yield* keepAlive(t))
    for (const t of targets) fresh.get(t.name)?.push(yield* newConn(t, "newconn"))
    for (const t of targets) resumed.get(t.name)?.push(yield* newConn(t, "resumed"))
  }
  // CPU per request in microseconds: the load generator, the upstream, the proxy (0 direct).
  const cpu = (results: ReadonlyArray<{ loadCpuMs: number; otherCpuMs: ReadonlyArray<number> }>) => {
    const load = 1000 * median(results.map((r) => r.loadCpuMs))
    const upstream = 1000 * median(results.map((r) => r.otherCpuMs[0] ?? Number.NaN))
    const proxy = 1000 * median(results.map((r) => r.otherCpuMs.slice(1).reduce((a, b) => a + b, 0)))
    return { load, upstream, proxy, total: load + upstream + proxy }
  }
  const ka = (name: string) => {
    const results = kept.get(name) ?? []
    return {
      rps: median(results.map((r) => r.requestsPerSecond)),
      p50: median(results.map((r) => r.p50)),
      p99: median(results.map((r) => r.p99)),
      errors: results.reduce((sum, r) => sum + r.errors, 0),
      cpu: cpu(results),
    }
  }
  const nc = (name: string, from: typeof fresh = fresh) => {
    const results = from.get(name) ?? []
    return {
      p50: median(results.map((r) => r.p50)),
      p99: median(results.map((r) => r.p99)),
      errors: results.reduce((sum, r) => sum + r.errors, 0),
      reused: results.reduce((sum, r) => sum + r.reused, 0),
      cpu: cpu(results),
    }
  }
  const us = (n: number) => n.toFixed(0)
  const d = ka("direct")
  const dn = nc("direct")
  const dr = nc("direct", resumed)
  const rows: Array<BenchResult> = []
  for (const t of targets.slice(1)) {
    const k = ka(t.name)
    const n = nc(t.name)
    const r = nc(t.name, resumed)
    const share = (100 * k.rps) / d.rps
    // What the share would be with the machine's cores all busy with this bench and nothing
    // else: direct and proxied requests each cost the CPU time of every process they pass.
    const cpuShare = (100 * d.cpu.total) / k.cpu.total
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
        name: `keep-alive CPU per request, all processes (load ${us(k.cpu.load)} + upstream ${us(k.cpu.upstream)} + proxy ${us(k.cpu.proxy)} us vs ${us(d.cpu.load)} + ${us(d.cpu.upstream)} us; CPU-bound share ${cpuShare.toFixed(1)}%)${label}`,
        ours: k.cpu.total / 1000,
        samples: rounds,
        baseline: { name: "direct HTTPS", ms: d.cpu.total / 1000 },
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
      {
        name: `new TLS connection per request, session resumed, p50 (${r.reused} of ${rounds * newConnections} resumed, direct ${dr.reused})${label}`,
        ours: r.p50,
        samples: rounds * newConnections,
        baseline: { name: "direct HTTPS", ms: dr.p50 },
      },
      {
        name: `new TLS connection CPU per request, all processes (load ${us(n.cpu.load)} + upstream ${us(n.cpu.upstream)} + proxy ${us(n.cpu.proxy)} us vs ${us(dn.cpu.load)} + ${us(dn.cpu.upstream)} us)${label}`,
        ours: n.cpu.total / 1000,
        samples: rounds,
        baseline: { name: "direct HTTPS", ms: dn.cpu.total / 1000 },
      },
    )
    yield* Console.error(
      `bench: proxy: ${t.name}: keep-alive ${share.toFixed(1)}% of direct throughput (goal >= 50%; ${cpuShare.toFixed(1)}% when CPU-bound by CPU time per request), new connection ${(n.p50 / dn.p50).toFixed(2)}x direct (goal <= 1.3x); errors ${k.errors + n.errors + r.errors} (direct ${d.errors + dn.errors + dr.errors})`,
    )
  }
  // The proxy logged as in the sidecar: one line per request (a check that it was not idle).
  const logged = (yield* fs.readFileString(logFile)).split("\n").filter((l) => l.includes('"kind":"request"'))
  yield* Console.error(`bench: proxy: the proxy wrote ${logged.length} request log lines`)
  return rows
})

// Profile the proxy with AIRUT_BENCH_PROXY_PROFILE_DIR=<dir> (node --cpu-prof; the profile is
// written when the proxy stops). On a busy machine its times are wall-clock-like: a write to
// loopback that wakes another process is charged the time this one waited for a core.
const bench: BenchModule = { name: "proxy", run: Effect.scoped(run) }

export default bench
