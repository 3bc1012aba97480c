import { createServer, type Server } from "node:net"
import { Effect, FiberSet, Ref, type Scope } from "effect"

export interface HostListener {
  readonly port: number
  /** Connections accepted so far. */
  readonly connections: Effect.Effect<number>
}

const listen = (server: Server, host: string) =>
  Effect.async<number, Error>((resume) => {
    const onError = (e: Error) => resume(Effect.fail(e))
    server.once("error", onError)
    server.listen({ port: 0, host }, () => {
      server.off("error", onError)
      const address = server.address()
      resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

/**
 * A TCP listener on every address of the host (dual-stack `::`, or `0.0.0.0` where the host has
 * no IPv6) that greets each connection with `greeting` and counts it: something for the probe
 * to reach, and a witness on the host side if it does. Closed with the scope.
 */
export const hostListener = (greeting: string): Effect.Effect<HostListener, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const count = yield* Ref.make(0)
    const run = yield* FiberSet.makeRuntime<never>()
    const server = yield* Effect.acquireRelease(
      Effect.sync(() =>
        createServer((socket) => {
          socket.on("error", () => socket.destroy())
          socket.end(greeting)
          run(Ref.update(count, (n) => n + 1))
        }),
      ),
      (s) =>
        Effect.async<void>((resume) => {
          s.close(() => resume(Effect.void))
        }).pipe(
          Effect.timeout("2 seconds"),
          Effect.catchTag("TimeoutException", () =>
            Effect.logWarning("the probe's host listener did not close within 2 s"),
          ),
        ),
    )
    // A host without IPv6 refuses `::`; IPv4 alone is then all there is to reach.
    const port = yield* listen(server, "::").pipe(
      Effect.tapError((e) => Effect.logDebug(`no IPv6 listener (${e.message}); listening on IPv4 only`)),
      Effect.orElse(() => listen(server, "0.0.0.0")),
    )
    const listener: HostListener = { port, connections: Ref.get(count) }
    return listener
  })
