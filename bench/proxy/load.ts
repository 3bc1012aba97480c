/**
 * The bench's load generator, run as its own process:
 *   node --import tsx bench/proxy/load.ts '<json options>'
 * `keepalive`: `connections` keep-alive connections issue GETs back to back for `seconds`
 * (after `warmupSeconds`); prints requests/s and latency percentiles. `newconn`: `requests`
 * sequential GETs, each on a new TCP+TLS connection without session resumption; `resumed`: the
 * same, resuming the TLS session of the previous connection (a session ticket, as clients with a
 * session cache do); both print latency percentiles. Prints one JSON line.
 *
 * Both modes also report the CPU time (user + system) spent in the measured window by this
 * process and by each process in `cpuPids` (the upstream, the proxy), per request: on a shared
 * 2-core machine that figure does not depend on what else runs, where requests/s does.
 */
import { readFileSync } from "node:fs"
import * as https from "node:https"
import { TLSSocket } from "node:tls"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Schema } from "effect"

const Options = Schema.Struct({
  mode: Schema.Literal("keepalive", "newconn", "resumed"),
  port: Schema.Int,
  servername: Schema.String,
  caPem: Schema.String,
  path: Schema.String,
  connections: Schema.optionalWith(Schema.Int, { default: () => 16 }),
  seconds: Schema.optionalWith(Schema.Number, { default: () => 5 }),
  warmupSeconds: Schema.optionalWith(Schema.Number, { default: () => 1 }),
  requests: Schema.optionalWith(Schema.Int, { default: () => 300 }),
  /** Other processes whose CPU time the window's requests cost (Linux /proc). */
  cpuPids: Schema.optionalWith(Schema.Array(Schema.Int), { default: () => [] }),
  /** Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`). */
  clockTicks: Schema.optionalWith(Schema.Int, { default: () => 100 }),
})
type Options = typeof Options.Type

const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN)

const summary = (latencies: ReadonlyArray<number>) => {
  const sorted = Float64Array.from(latencies).sort()
  return { n: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) }
}

/** CPU milliseconds (user + system) a process has used so far; NaN where /proc is missing. */
const procCpuMs = (pid: number, clockTicks: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name (which may hold spaces), from field 3: utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks
  } catch {
    return Number.NaN
  }
}

const selfCpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** Every watched process's CPU time now; two readings give milliseconds per request. */
const cpuReading = (o: Options) => ({
  self: selfCpuMs(),
  others: o.cpuPids.map((pid) => procCpuMs(pid, o.clockTicks)),
})
const cpuPerRequest = (from: ReturnType<typeof cpuReading>, requests: number, o: Options) => {
  const to = cpuReading(o)
  return {
    loadCpuMs: (to.self - from.self) / requests,
    otherCpuMs: to.others.map((ms, i) => (ms - (from.others[i] ?? Number.NaN)) / requests),
  }
}

interface Cpu {
  /** This process's CPU milliseconds per measured request. */
  readonly loadCpuMs: number
  /** Per `cpuPids` entry, CPU milliseconds per measured request. */
  readonly otherCpuMs: ReadonlyArray<number>
}

const keepAlive = (o: Options) =>
  Effect.gen(function* () {
    const clock = yield* Effect.clock
    const nowMs = () => Number(clock.unsafeCurrentTimeNanos()) / 1e6
    return yield* Effect.async<{ requestsPerSecond: number; p50: number; p99: number; errors: number } & Cpu>(
      (resume) => {
        const agent = new https.Agent({ keepAlive: true, maxSockets: o.connections, ca: o.caPem })
        const latencies: Array<number> = []
        let errors = 0
        const start = nowMs()
        const measureFrom = start + o.warmupSeconds * 1000
        const end = measureFrom + o.seconds * 1000
        let running = o.connections
        let cpuFrom: ReturnType<typeof cpuReading> | undefined
        const loop = () => {
          const t0 = nowMs()
          if (cpuFrom === undefined && t0 >= measureFrom) cpuFrom = cpuReading(o)
          if (t0 >= end) {
            running--
            if (running === 0) {
              agent.destroy()
              const s = summary(latencies)
              const cpu = cpuPerRequest(cpuFrom ?? cpuReading(o), Math.max(1, s.n), o)
              resume(
                Effect.succeed({
                  requestsPerSecond: s.n / o.seconds,
                  p50: s.p50,
                  p99: s.p99,
                  errors,
                  ...cpu,
                }),
              )
            }
            return
          }
          const req = https.request(
            {
              host: "127.0.0.1",
              port: o.port,
              servername: o.servername,
              path: o.path,
              agent,
              headers: { host: o.servername },
            },
            (res) => {
              res.resume()
              res.on("end", () => {
                if (t0 >= measureFrom) latencies.push(nowMs() - t0)
                loop()
              })
            },
          )
          req.on("error", () => {
            errors++
            loop()
          })
          req.end()
        }
        for (let i = 0; i < o.connections; i++) loop()
      },
    )
  })

const newConnections = (o: Options) =>
  Effect.gen(function* () {
    const clock = yield* Effect.clock
    const nowMs = () => Number(clock.unsafeCurrentTimeNanos()) / 1e6
    return yield* Effect.async<{ p50: number; p99: number; errors: number; reused: number } & Cpu>(
      (resume) => {
        const latencies: Array<number> = []
        let errors = 0
        let reused = 0
        let left = o.requests
        // The first 20 requests warm up and are not counted.
        const warmup = Math.min(20, o.requests)
        let cpuFrom: ReturnType<typeof cpuReading> | undefined
        // Resumed mode: one agent, whose session cache offers the last session to each connection.
        const sessionAgent = new https.Agent({ keepAlive: false, maxCachedSessions: 1, ca: o.caPem })
        const one = () => {
          if (cpuFrom === undefined && latencies.length >= warmup) cpuFrom = cpuReading(o)
          if (left-- === 0) {
            const s = summary(latencies.slice(warmup))
            const cpu = cpuPerRequest(cpuFrom ?? cpuReading(o), Math.max(1, s.n), o)
            resume(Effect.succeed({ p50: s.p50, p99: s.p99, errors, reused, ...cpu }))
            return
          }
          const t0 = nowMs()
          // Otherwise a fresh agent per request: new TCP connection, full TLS handshake, no reuse.
          const agent =
            o.mode === "resumed"
              ? sessionAgent
              : new https.Agent({ keepAlive: false, maxCachedSessions: 0, ca: o.caPem })
          const req = https.request(
            {
              host: "127.0.0.1",
              port: o.port,
              servername: o.servername,
              path: o.path,
              agent,
              headers: { host: o.servername, connection: "close" },
            },
            (res) => {
              res.resume()
              if (res.socket instanceof TLSSocket && res.socket.isSessionReused()) reused++
              res.on("end", () => {
                latencies.push(nowMs() - t0)
                agent.destroy()
                one()
              })
            },
          )
          req.on("error", () => {
            errors++
            agent.destroy()
            one()
          })
          req.end()
        }
        one()
      },
    )
  })

const program = Effect.gen(function* () {
  const raw = yield* Effect.sync(() => process.argv[2] ?? "")
  const options = yield* Schema.decodeUnknown(Schema.parseJson(Options))(raw)
  const result = options.mode === "keepalive" ? yield* keepAlive(options) : yield* newConnections(options)
  yield* Console.log(JSON.stringify(result))
})

NodeRuntime.runMain(program)
