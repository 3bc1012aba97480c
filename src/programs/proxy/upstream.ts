/**
 * Connections to the real destinations. One keep-alive pool per origin (the agent's many short
 * requests to the same API reuse warm TLS connections), upstream certificates always verified
 * against the host's name, and `upstream_overrides` routing a host to another address without
 * changing the name TLS checks.
 *
 * The client is undici's dispatcher, not Node's `http.request`: measured in the proxy bench, a
 * forwarder on it spends about 150 µs of CPU per keep-alive request where the same forwarder on
 * `http.request` spends about 220 µs. It is undici 6 (the `undici-node18` alias) because the
 * sidecar runs Debian's Node 18; undici 7 needs Node 20.18.
 */
import { Resolver } from "node:dns"
import { isIP, type LookupFunction } from "node:net"
import { finished, type Readable } from "node:stream"
import { createSecureContext, rootCertificates } from "node:tls"
import { Effect } from "effect"
import { Agent, buildConnector, type Dispatcher } from "undici-node18"
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
  readonly body: Uint8Array | Readable
}

/** What the relay does with an answer, as it arrives. */
export interface AnswerHandler {
  /** The status line and raw header list; false if the answer cannot be relayed (then aborted). */
  readonly onHead: (status: number, statusText: string, rawHeaders: Array<string>) => boolean
  /** A piece of the body; false asks for a pause until `resume` is called. */
  readonly onData: (chunk: Buffer, resume: () => void) => boolean
  readonly onEnd: () => void
  /** The exchange failed: before the head (nothing was relayed) or during the body. */
  readonly onError: (detail: string) => void
}

export interface UpstreamExchange {
  /** Stops the exchange (the agent went away); no handler is called after it. */
  readonly abort: () => void
}

export interface Upstream {
  /**
   * Sends a request. Callback-level on purpose: it runs once per request on the hot path,
   * inside the one Effect.async the handler spends on the whole exchange.
   */
  readonly send: (r: UpstreamRequest, answer: AnswerHandler) => UpstreamExchange
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

const latin1 = (b: Buffer | string): string => (typeof b === "string" ? b : b.toString("latin1"))

export const makeUpstream = (config: ProxyConfig): Upstream => {
  const overrides = new Map(
    Object.entries(config.upstreamOverrides).map(([h, a]) => [h.toLowerCase(), parseAddress(a)]),
  )
  const lookup = config.upstreamDns === undefined ? undefined : lookupVia(config.upstreamDns)
  const connector = buildConnector({
    // One prepared context for every connection: given as `ca`, each new connection would parse
    // the whole root store again (measured: the largest cost of a new upstream connection).
    secureContext: createSecureContext(
      config.upstreamCaPem === undefined ? {} : { ca: [...rootCertificates, config.upstreamCaPem] },
    ),
    ...(lookup === undefined ? {} : { lookup }),
    rejectUnauthorized: true,
    noDelay: true,
  })
  const agent = new Agent({
    connections: 256,
    keepAliveTimeout: 30_000,
    // No limits of its own: the agent's task has a timeout, and a model's answer may take long.
    headersTimeout: 0,
    bodyTimeout: 0,
    // An override changes where to connect, never the name TLS verifies (the request's host).
    connect: (options, callback) => {
      const override = overrides.get(options.hostname)
      // No SNI for an IP address; otherwise the request's host name.
      const servername =
        options.servername ||
        (options.protocol === "https:" && isIP(options.hostname) === 0 ? options.hostname : undefined)
      const { servername: _, ...rest } = options
      connector(
        {
          ...rest,
          ...(override === undefined ? {} : { hostname: override.host, port: String(override.port) }),
          ...(servername === undefined ? {} : { servername }),
        },
        callback,
      )
    },
  })

  const send: Upstream["send"] = (r, answer) => {
    let done = false
    let abortWith: ((reason: Error) => void) | undefined
    let aborted = false
    const handler: Dispatcher.DispatchHandlers = {
      onConnect: (abort) => {
        if (aborted) abort(new Error("aborted"))
        else abortWith = abort
      },
      onHeaders: (status, rawHeaders, resume, statusText) => {
        if (done) return false
        const headers: Array<string> = []
        for (const h of rawHeaders ?? []) headers.push(latin1(h))
        if (!answer.onHead(status, statusText, headers)) {
          done = true
          abortWith?.(new Error("answer not relayed"))
          return false
        }
        resumeAnswer = resume
        return true
      },
      onData: (chunk) => (done ? false : answer.onData(chunk, resumeAnswer)),
      onComplete: () => {
        if (done) return
        done = true
        answer.onEnd()
      },
      onError: (error) => {
        if (done) return
        done = true
        answer.onError(`${r.host}: ${error.message}`)
      },
    }
    let resumeAnswer: () => void = () => {}
    const body = r.body
    if (!(body instanceof Uint8Array)) {
      // An agent that disconnects mid-body must end the upstream request too, or it would wait
      // for the rest forever.
      finished(body, (error) => {
        if (error && !done) abortWith?.(new Error("the agent closed the connection while sending the body"))
      })
    }
    const port = r.scheme === "https" ? 443 : 80
    agent.dispatch(
      {
        origin: `${r.scheme}://${r.isIp && r.host.includes(":") ? `[${r.host}]` : r.host}:${port}`,
        path: r.target,
        method: r.method as Dispatcher.HttpMethod,
        headers: [...r.headers],
        body: body instanceof Uint8Array && body.byteLength === 0 ? null : body,
      },
      handler,
    )
    return {
      abort: () => {
        if (done) return
        done = true
        aborted = true
        abortWith?.(new Error("the agent went away"))
      },
    }
  }

  return {
    send,
    destroy: Effect.promise(() => agent.destroy()),
  }
}
