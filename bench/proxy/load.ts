/**
 * The bench's load generator, run as its own process:
 *   node --import tsx bench/proxy/load.ts '<json options>'
 * `keepalive`: `connections` keep-alive connections issue GETs back to back for `seconds`
 * (after `warmupSeconds`); prints requests/s and latency percentiles. `newconn`: `requests`
 * sequential GETs, each on a new TCP+TLS connection without session resumption; prints latency
 * percentiles. Prints one JSON line.
 */
import * as https from "node:https"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Schema } from "effect"

const Options = Schema.Struct({
  mode: Schema.Literal("keepalive", "newconn"),
  port: Schema.Int,
  servername: Schema.String,
  caPem: Schema.String,
  path: Schema.String,
  connections: Schema.optionalWith(Schema.Int, { default: () => 16 }),
  seconds: Schema.optionalWith(Schema.Number, { default: () => 5 }),
  warmupSeconds: Schema.optionalWith(Schema.Number, { default: () => 1 }),
  requests: Schema.optionalWith(Schema.Int, { default: () => 300 }),
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

const keepAlive = (o: Options) =>
  Effect.gen(function* () {
    const clock = yield* Effect.clock
    const nowMs = () => Number(clock.unsafeCurrentTimeNanos()) / 1e6
    return yield* Effect.async<{ requestsPerSecond: number; p50: number; p99: number; errors: number }>(
      (resume) => {
        const agent = new https.Agent({ keepAlive: true, maxSockets: o.connections, ca: o.caPem })
        const latencies: Array<number> = []
        let errors = 0
        const start = nowMs()
        const measureFrom = start + o.warmupSeconds * 1000
        const end = measureFrom + o.seconds * 1000
        let running = o.connections
        const loop = () => {
          const t0 = nowMs()
          if (t0 >= end) {
            running--
            if (running === 0) {
              agent.destroy()
              const s = summary(latencies)
              resume(Effect.succeed({ requestsPerSecond: s.n / o.seconds, p50: s.p50, p99: s.p99, errors }))
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
    return yield* Effect.async<{ p50: number; p99: number; errors: number }>((resume) => {
      const latencies: Array<number> = []
      let errors = 0
      let left = o.requests
      const one = () => {
        if (left-- === 0) {
          const s = summary(latencies.slice(Math.min(20, latencies.length)))
          resume(Effect.succeed({ p50: s.p50, p99: s.p99, errors }))
          return
        }
        const t0 = nowMs()
        // A fresh agent per request: new TCP connection, full TLS handshake, no session reuse.
        const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 0, ca: o.caPem })
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
    })
  })

const program = Effect.gen(function* () {
  const raw = yield* Effect.sync(() => process.argv[2] ?? "")
  const options = yield* Schema.decodeUnknown(Schema.parseJson(Options))(raw)
  const result = options.mode === "keepalive" ? yield* keepAlive(options) : yield* newConnections(options)
  yield* Console.log(JSON.stringify(result))
})

NodeRuntime.runMain(program)
