/**
 * Connections to the real destinations. One keep-alive pool per scheme (the agent's many short
 * requests to the same API reuse warm TLS connections), upstream certificates always verified
 * against the host's name, and `upstream_overrides` routing a host to another address without
 * changing the name TLS checks.
 */
import { Resolver } from "node:dns"
import * as http from "node:http"
import * as https from "node:https"
import type { LookupFunction } from "node:net"
import { finished } from "node:stream"
import { createSecureContext, rootCertificates } from "node:tls"
import { Effect } from "effect"
import type { ProxyConfig } from "../../schema/ProxyConfig.js"

export interface UpstreamRequest {
  readonly scheme: "http" | "https"
  /** Normalized host name: where to connect (unless overridden) and the name TLS verifies. */
  readonly host: string
  readonly isIp: boolean
  readonly method: string
  /** Origin-form target. */
  readonly target: string
  /** Raw header list, hop-by-hop headers already removed. */
  readonly headers: ReadonlyArray<string>
  /** A buffered (possibly rewritten) body, or the agent's request stream to pipe through. */
  readonly body: Uint8Array | NodeJS.ReadableStream
}

export interface Upstream {
  /**
   * Sends a request; `onResponse` gets the answer's head (its body still to stream),
   * `onError` a failure before it. Callback-level on purpose: it runs once per request on the
   * hot path, inside the one Effect.async the handler spends on the whole exchange.
   */
  readonly send: (
    r: UpstreamRequest,
    onResponse: (response: http.IncomingMessage) => void,
    onError: (detail: string) => void,
  ) => http.ClientRequest
  readonly destroy: Effect.Effect<void>
}

const parseAddress = (address: string): { host: string; port: number } => {
  const colon = address.lastIndexOf(":")
  const host = address.slice(0, colon)
  return { host: host.startsWith("[") ? host.slice(1, -1) : host, port: Number(address.slice(colon + 1)) }
}

// Name resolution through the configured servers instead of the sidecar's resolv.conf.
const lookupVia = (servers: ReadonlyArray<string>): LookupFunction => {
  const resolver = new Resolver()
  resolver.setServers([...servers])
  return (hostname, options, callback) => {
    resolver.resolve4(hostname, (error, addresses) => {
      if (error !== null || addresses.length === 0) {
        callback(error ?? new Error(`no address for ${hostname}`), "", 4)
      } else if (options.all === true) {
        callback(
          null,
          addresses.map((address) => ({ address, family: 4 })),
        )
      } else {
        callback(null, addresses[0] ?? "", 4)
      }
    })
  }
}

export const makeUpstream = (config: ProxyConfig): Upstream => {
  const overrides = new Map(
    Object.entries(config.upstreamOverrides).map(([h, a]) => [h.toLowerCase(), parseAddress(a)]),
  )
  const lookup = config.upstreamDns === undefined ? undefined : lookupVia(config.upstreamDns)
  const common = {
    keepAlive: true,
    keepAliveMsecs: 30_000,
    maxSockets: 256,
    maxFreeSockets: 64,
    scheduling: "lifo" as const,
    noDelay: true,
    ...(lookup === undefined ? {} : { lookup }),
  }
  const httpAgent = new http.Agent(common)
  // Extra CAs go in through a prepared context, not the `ca` option: the agent concatenates
  // `ca` into its pool key on every request, which for the whole root store costs more than
  // the rest of the proxying together.
  const httpsAgent = new https.Agent({
    ...common,
    ...(config.upstreamCaPem === undefined
      ? {}
      : { secureContext: createSecureContext({ ca: [...rootCertificates, config.upstreamCaPem] }) }),
  })

  const send: Upstream["send"] = (r, onResponse, onError) => {
    const override = overrides.get(r.host)
    const destination = override ?? { host: r.host, port: r.scheme === "https" ? 443 : 80 }
    const options: https.RequestOptions = {
      host: destination.host,
      port: destination.port,
      method: r.method,
      path: r.target,
      // The raw list as is (Node takes the rawHeaders form since long before 18): it is written
      // out directly, where an object goes through setHeader's per-name validation and map.
      headers: r.headers,
      setHost: false,
      agent: r.scheme === "https" ? httpsAgent : httpAgent,
      ...(r.scheme === "https" && !r.isIp ? { servername: r.host } : {}),
    }
    const outgoing =
      r.scheme === "https" ? https.request(options, onResponse) : http.request(options, onResponse)
    outgoing.on("error", (error) => onError(`${r.host}: ${error.message}`))
    if (r.body instanceof Uint8Array) {
      outgoing.end(r.body)
    } else {
      // pipe() does not pass on an agent that disconnects mid-body; without this the upstream
      // request would wait for the rest forever.
      const body = r.body
      finished(body, (error) => {
        if (error) outgoing.destroy(new Error("the agent closed the connection while sending the body"))
      })
      body.pipe(outgoing)
    }
    return outgoing
  }

  return {
    send,
    destroy: Effect.sync(() => {
      httpAgent.destroy()
      httpsAgent.destroy()
    }),
  }
}
