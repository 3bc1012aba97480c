/**
 * The bench's HTTPS upstream, run as its own process (`node --import tsx bench/proxy/upstream.ts
 * <cert.pem> <key.pem>`) so its CPU is not shared with the proxy's or the load generator's event
 * loop. Answers every request 200 with a 1 KiB body; prints its port as the first stdout line.
 */
import { readFileSync } from "node:fs"
import * as https from "node:https"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"

const body = Buffer.alloc(1024, "x")

const program = Effect.gen(function* () {
  const [certFile, keyFile] = yield* Effect.sync(() => process.argv.slice(2))
  if (certFile === undefined || keyFile === undefined)
    return yield* Effect.fail("usage: upstream.ts <cert> <key>")
  const server = yield* Effect.acquireRelease(
    Effect.async<https.Server>((resume) => {
      const s = https.createServer(
        { cert: readFileSync(certFile), key: readFileSync(keyFile) },
        (req, res) => {
          req.resume()
          req.on("end", () => {
            res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length })
            res.end(body)
          })
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
