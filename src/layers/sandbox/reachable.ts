import { createSocket } from "node:dgram"
import { connect, isIP } from "node:net"
import { connect as connectTls } from "node:tls"
import { Duration, Effect } from "effect"

/**
 * Does something answer there? For the daemon's readiness check of a proxy sidecar: a TCP
 * connection that opens, a TLS handshake that verifies, a DNS query that gets any reply.
 * Failures are the reason, as text.
 */

const attemptTimeout = Duration.seconds(1)

const bounded = <A>(what: string, effect: Effect.Effect<A, string>) =>
  effect.pipe(
    Effect.timeoutFail({ duration: attemptTimeout, onTimeout: () => `${what}: no answer within 1 s` }),
  )

export const answersTcp = (host: string, port: number): Effect.Effect<void, string> =>
  bounded(
    `${host}:${port}`,
    Effect.async<void, string>((resume) => {
      if (isIP(host) === 0) {
        resume(Effect.fail(`${host}:${port}: not an address`))
        return
      }
      const socket = connect({ host, port }, () => {
        socket.destroy()
        resume(Effect.void)
      })
      socket.on("error", (e) => resume(Effect.fail(`${host}:${port}: ${e.message}`)))
      return Effect.sync(() => socket.destroy())
    }),
  )

/**
 * A TLS handshake for `servername` that verifies the certificate against `caPem`: the listener
 * answers and signs leaf certificates with the installation CA.
 */
export const answersTls = (
  host: string,
  port: number,
  servername: string,
  caPem: string,
): Effect.Effect<void, string> =>
  bounded(
    `TLS ${host}:${port}`,
    Effect.async<void, string>((resume) => {
      if (isIP(host) === 0) {
        resume(Effect.fail(`TLS ${host}:${port}: not an address`))
        return
      }
      const socket = connectTls({ host, port, servername, ca: caPem }, () => {
        socket.end()
        resume(Effect.void)
      })
      socket.on("error", (e) => resume(Effect.fail(`TLS ${host}:${port}: ${e.message}`)))
      return Effect.sync(() => socket.destroy())
    }),
  )

// A query for `airut-ready.invalid` A, recursion desired: the proxy answers every A query.
const readyQuery = Buffer.from([
  0x41,
  0x52,
  0x01,
  0x00,
  0x00,
  0x01,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x0b,
  ...Buffer.from("airut-ready"),
  0x07,
  ...Buffer.from("invalid"),
  0x00,
  0x00,
  0x01,
  0x00,
  0x01,
])

export const answersDns = (host: string, port: number): Effect.Effect<void, string> =>
  bounded(
    `DNS ${host}:${port}`,
    Effect.async<void, string>((resume) => {
      if (isIP(host) !== 4) {
        resume(Effect.fail(`DNS ${host}:${port}: not an IPv4 address`))
        return
      }
      const socket = createSocket("udp4")
      const close = () => {
        try {
          socket.close()
        } catch {
          // Already closed by the answer that came first.
        }
      }
      socket.on("message", () => {
        close()
        resume(Effect.void)
      })
      socket.on("error", (e) => {
        close()
        resume(Effect.fail(`DNS ${host}:${port}: ${e.message}`))
      })
      socket.send(readyQuery, port, host)
      return Effect.sync(close)
    }),
  )
