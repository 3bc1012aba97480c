/**
 * The HTTPS listener (port 443 in the sidecar): TLS terminated with a leaf certificate for the
 * name the client asked for (SNI), signed by the installation CA. A handshake without a usable
 * name fails; a failed handshake is logged.
 */
import * as https from "node:https"
import type { SecureContext } from "node:tls"
import { Cause, Effect, Exit, Option } from "effect"
import type { ListenAddress } from "../../schema/ProxyConfig.js"
import type { ProxyCore } from "./forward.js"
import { listenScoped, type Run, wireServer } from "./http.js"
import type { LeafCerts } from "./leafCerts.js"
import { emitLine, isoNow } from "./log.js"
import { normalizeHost } from "./requestTarget.js"

export const serveHttps = (core: ProxyCore, certs: LeafCerts, at: ListenAddress, run: Run) =>
  Effect.gen(function* () {
    const sniCallback = (
      servername: string,
      done: (error: Error | null, context?: SecureContext) => void,
    ) => {
      const host = normalizeHost(servername)
      if (Option.isNone(host) || host.value.isIp) {
        done(new Error(`unusable server name ${JSON.stringify(servername)}`))
        return
      }
      const ready = certs.ready(host.value.name)
      if (ready !== undefined) {
        done(null, ready)
        return
      }
      run(certs.contextFor(host.value.name)).addObserver((exit) => {
        if (Exit.isSuccess(exit)) done(null, exit.value)
        else {
          // The handshake fails; tlsClientError logs this message as the reason.
          const why = Option.match(Cause.failureOption(exit.cause), {
            onNone: () => "interrupted",
            onSome: (e) => e.detail,
          })
          done(new Error(`no certificate for ${host.value.name}: ${why}`))
        }
      })
    }
    const server = https.createServer({
      SNICallback: sniCallback,
      minVersion: "TLSv1.2",
      ALPNProtocols: ["http/1.1"],
    })
    wireServer(server, core, "https", run)
    server.on("tlsClientError", (error: Error, socket: { servername?: string | false | null }) => {
      const sni = typeof socket.servername === "string" ? socket.servername : ""
      run(
        Effect.flatMap(isoNow, (time) =>
          emitLine(core.emit, { kind: "tls", time, host: sni, reason: error.message.slice(0, 300) }),
        ),
      )
    })
    return yield* listenScoped(server, at)
  })
