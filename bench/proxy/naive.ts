/**
 * A reference point for the proxy bench, run as its own process: the least a Node TLS-terminating
 * forwarder can do (`node --import tsx bench/proxy/naive.ts <cert.pem> <key.pem> <ca.pem>
 * <upstream port>`): no checks, no log, no header rewriting; Node's HTTP server and a keep-alive
 * client agent, the body piped through. Prints its port as the first stdout line.
 */
import { readFileSync } from "node:fs"
import * as https from "node:https"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"

const program = Effect.gen(function* () {
  const [certFile, keyFile, caFile, port] = yield* Effect.sync(() => process.argv.slice(2))
  if (certFile === undefined || keyFile === undefined || caFile === undefined || port === undefined)
    return yield* Effect.fail("usage: naive.ts <cert> <key> <ca> <upstream port>")
  const agent = new https.Agent({ keepAlive: true, maxSockets: 256, ca: readFileSync(caFile) })
  const server = yield* Effect.acquireRelease(
    Effect.async<https.Server>((resume) => {
      const s = https.createServer(
        { cert: readFileSync(certFile), key: readFileSync(keyFile) },
        (req, res) => {
          const out = https.request(
            {
              host: "127.0.0.1",
              port: Number(port),
              servername: "bench.test",
              method: req.method ?? "GET",
              path: req.url ?? "/",
              headers: req.headers,
              agent,
            },
            (upstream) => {
              res.writeHead(upstream.statusCode ?? 502, upstream.headers)
              upstream.pipe(res)
            },
          )
          out.on("error", () => res.destroy())
          req.pipe(out)
        },
      )
      s.keepAliveTimeout = 60_000
      s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
    }),
    (s) => Effect.sync(() => s.close()),
  )
  const address = server.address()
  yield* Console.log(typeof address === "object" && address !== null ? address.port : 0)
  return yield* Effect.never
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
