/**
 * The plain HTTP listener (port 80 in the sidecar), and what both listeners share: wiring a
 * Node server to the request handler, refusing CONNECT and protocol upgrades, binding, and a
 * bounded close.
 */
import * as http from "node:http"
import type { Server as NetServer } from "node:net"
import type { Duplex } from "node:stream"
import { Data, Effect, type Fiber, Option } from "effect"
import type { ListenAddress } from "../../schema/ProxyConfig.js"
import { connectExplanation, handleRequest, type ProxyCore, type Scheme } from "./forward.js"
import { emitLine, isoNow } from "./log.js"
import { normalizeHost } from "./requestTarget.js"

export class ListenFailed extends Data.TaggedError("ListenFailed")<{
  readonly address: string
  readonly detail: string
}> {}

/** Runs an effect from a Node callback, in the proxy's scope (FiberSet.makeRuntime). */
export type Run = <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>

// Answers on the raw socket: CONNECT and upgrade requests never reach a ServerResponse.
const refuseOnSocket = (socket: Duplex, status: string, body: Record<string, string>) => {
  const text = `${JSON.stringify(body)}\n`
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  )
}

const refuseTunnel = (
  core: ProxyCore,
  req: http.IncomingMessage,
  socket: Duplex,
  code: string,
  explanation: string,
  reason: string,
) =>
  Effect.gen(function* () {
    const method = req.method ?? ""
    const path = req.url ?? ""
    const named = method === "CONNECT" ? path : (req.headers.host ?? "")
    const host = Option.match(normalizeHost(named), { onNone: () => named, onSome: (h) => h.name })
    const time = yield* isoNow
    refuseOnSocket(socket, "403 Forbidden", { error: code, host, path, method, message: explanation })
    yield* emitLine(core.emit, {
      kind: "request",
      time,
      action: "blocked",
      method,
      host,
      path,
      status: 403,
      durationMs: 0,
      swapped: 0,
      reason,
    })
  })

/** Sends requests to the handler; CONNECT and upgrades are answered 403 and logged. */
export const wireServer = (server: http.Server, core: ProxyCore, scheme: Scheme, run: Run) => {
  // Generous keep-alive: agents make bursts of requests to the same API. No overall request
  // timeout: a streamed upload or a long SSE answer may legitimately take minutes.
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 60_000
  server.requestTimeout = 0
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    handleRequest(core, req, res, scheme, run)
  })
  // A refused client may reset its socket while we answer; without a listener that error would
  // be thrown and take the whole proxy down.
  const quietly = (socket: Duplex) =>
    socket.on("error", (error: Error) => {
      run(Effect.logDebug(`refused connection: ${error.message}`))
    })
  server.on("connect", (req: http.IncomingMessage, socket: Duplex) => {
    quietly(socket)
    run(refuseTunnel(core, req, socket, "connect_not_allowed", connectExplanation, "CONNECT refused"))
  })
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex) => {
    quietly(socket)
    run(
      refuseTunnel(
        core,
        req,
        socket,
        "upgrade_not_allowed",
        "Protocol upgrades (WebSocket, h2c) are not supported through the sandbox proxy.",
        "upgrade refused",
      ),
    )
  })
}

const closeServer = (server: NetServer & { closeAllConnections?: () => void }) =>
  Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
    server.closeAllConnections?.()
  }).pipe(
    Effect.timeoutOption("5 seconds"),
    Effect.flatMap((closed) =>
      Option.isNone(closed)
        ? Effect.logWarning("a proxy listener did not close within 5 seconds")
        : Effect.void,
    ),
  )

/** Binds `server` for the scope's lifetime; the bound port (for port 0). */
export const listenScoped = (server: NetServer, at: ListenAddress) =>
  Effect.acquireRelease(
    Effect.async<number, ListenFailed>((resume) => {
      const onError = (error: Error) =>
        resume(Effect.fail(new ListenFailed({ address: `${at.host}:${at.port}`, detail: error.message })))
      server.once("error", onError)
      server.listen(at.port, at.host, () => {
        server.off("error", onError)
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : at.port))
      })
    }),
    () => closeServer(server),
  )

export const serveHttp = (core: ProxyCore, at: ListenAddress, run: Run) =>
  Effect.gen(function* () {
    const server = http.createServer()
    wireServer(server, core, "http", run)
    return yield* listenScoped(server, at)
  })
