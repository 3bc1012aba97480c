/**
 * One request through the proxy: where it goes (Host, SNI, target), whether the allowlist lets
 * it, what its body may do (GraphQL operations, Anthropic server tools), which credentials go
 * in, then forwarding and streaming the answer back, and one log line whatever happened.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Effect, Either, Option } from "effect"
import type { RequestLogLine } from "../../schema/NetworkLogLine.js"
import {
  allowsSiteWideGet,
  type CompiledAllowlist,
  decide,
  deniedRequest,
  entryLines,
  howToAdd,
} from "./allowlist.js"
import { isMessagesRequest, messagesBodyLimit, trimServerTools } from "./anthropicTools.js"
import { type MaskedSecrets, swapMaskedSecrets } from "./credentials.js"
import { Blocked, ClientGone, UpstreamFailed } from "./errors.js"
import { checkGraphql, type GraphqlOperations, graphqlBodyLimit } from "./graphql.js"
import type { Run } from "./http.js"
import type { LogSink } from "./log.js"
import { type NormalizedHost, normalizeHost, parseTarget, type RequestTarget } from "./requestTarget.js"
import { detectSigV4, needsBody, resign, type SigningEntry, type SigV4Match } from "./sigv4.js"
import type { Upstream, UpstreamExchange, UpstreamRequest } from "./upstream.js"

export interface ProxyCore {
  readonly allowlist: CompiledAllowlist
  readonly masked: MaskedSecrets
  readonly signing: ReadonlyArray<SigningEntry>
  readonly upstream: Upstream
  readonly emit: LogSink
  /** The Clock service's time, read synchronously (two effects per request saved). */
  readonly now: () => number
}

export type Scheme = "http" | "https"

/** What the log line reports beyond the request itself, filled in as the request proceeds. */
interface Note {
  host: string
  swapped: number
  stripped: number
  graphql?: string
  toolDomains?: string
}

interface Relayed {
  readonly status: number
  readonly bytes: number
  /** Set when the exchange broke after the status was sent. */
  readonly error?: string
}

// Connection-level headers (RFC 9110 7.6.1) are not forwarded; Host is re-added once, checked.
const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
  "host",
])

const headerValues = (raw: ReadonlyArray<string>, lowerName: string): Array<string> => {
  const values: Array<string> = []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] ?? "").toLowerCase() === lowerName) values.push(raw[i + 1] ?? "")
  }
  return values
}

const forwardHeaders = (raw: ReadonlyArray<string>, host: string): Array<string> => {
  const connection = headerValues(raw, "connection")
  // Usually only `keep-alive` or `close`; the set is built only when the header names more.
  const named =
    connection.length === 0
      ? undefined
      : new Set(connection.flatMap((v) => v.split(",").map((t) => t.trim().toLowerCase())))
  const out: Array<string> = ["Host", host]
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? ""
    const lower = name.toLowerCase()
    if (!hopByHop.has(lower) && (named === undefined || !named.has(lower))) out.push(name, raw[i + 1] ?? "")
  }
  return out
}

const withContentLength = (raw: ReadonlyArray<string>, length: number): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] ?? "").toLowerCase() !== "content-length") out.push(raw[i] ?? "", raw[i + 1] ?? "")
  }
  out.push("Content-Length", String(length))
  return out
}

const responseHopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "trailer",
])

const responseHeaders = (raw: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!responseHopByHop.has((raw[i] ?? "").toLowerCase())) out.push(raw[i] ?? "", raw[i + 1] ?? "")
  }
  return out
}

const noBody = new Uint8Array(0)

/** Answers of a known length up to this are relayed whole rather than streamed. */
const smallAnswerBytes = 64 * 1024

const hasBody = (req: IncomingMessage) =>
  req.headers["transfer-encoding"] !== undefined ||
  (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0")

/** Reads the whole request body, refusing one over `limit` bytes. */
const readBody = (req: IncomingMessage, limit: number) =>
  Effect.async<Uint8Array, Blocked | ClientGone>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const cleanup = () => {
      req.off("data", onData)
      req.off("end", onEnd)
      req.off("error", onError)
      req.off("aborted", onAborted)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        resume(
          Effect.fail(
            new Blocked({
              status: 413,
              code: "request_too_large",
              explanation: `The request body is over ${limit} bytes, more than the proxy inspects for this endpoint.`,
              reason: "body too large to inspect",
            }),
          ),
        )
      } else {
        chunks.push(chunk)
      }
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(Buffer.concat(chunks, size)))
    }
    const onError = (error: Error) => {
      cleanup()
      resume(Effect.fail(new ClientGone({ detail: error.message })))
    }
    const onAborted = () => onError(new Error("the agent closed the connection"))
    req.on("data", onData)
    req.on("end", onEnd)
    req.on("error", onError)
    req.on("aborted", onAborted)
    return Effect.sync(cleanup)
  })

/**
 * Sends the request upstream and streams the answer back, counting body bytes. Plain callbacks:
 * it runs once per request on the hot path (see handleRequest); `relayed` gets the outcome once
 * the answer is complete or broke off, `unreachable` a failure before any answer was sent.
 */
const relay = (
  core: ProxyCore,
  res: ServerResponse,
  request: UpstreamRequest,
  relayed: (r: Relayed) => void,
  unreachable: (detail: string) => void,
): UpstreamExchange => {
  let settled = false
  let status = 502
  let bytes = 0
  // Small answers of a known length are collected and leave in one write with their head (one
  // TLS record, one syscall); others stream, paused while the agent's socket is full.
  let collected: Array<Buffer> | undefined
  const done = (error?: string) => {
    if (settled) return
    settled = true
    relayed(error === undefined ? { status, bytes } : { status, bytes, error })
  }
  const exchange = core.upstream.send(request, {
    onHead: (code, text, rawHeaders) => {
      try {
        res.writeHead(code, text, responseHeaders(rawHeaders))
      } catch (error) {
        // An answer Node will not write (a status like 000): this callback runs outside any
        // fiber, so a throw here would stop the whole proxy; the agent gets a 502 instead.
        if (!settled) {
          settled = true
          unreachable(
            `its answer cannot be relayed: ${error instanceof Error ? error.message : String(error)}`,
          )
        }
        return false
      }
      status = code
      const length = Number(headerValues(rawHeaders, "content-length")[0] ?? Number.NaN)
      if (Number.isInteger(length) && length >= 0 && length <= smallAnswerBytes) collected = []
      res.on("finish", () => done())
      return true
    },
    onData: (chunk, resume) => {
      bytes += chunk.length
      if (collected !== undefined) {
        collected.push(chunk)
        return true
      }
      if (res.write(chunk)) return true
      res.once("drain", resume)
      return false
    },
    onEnd: () => {
      if (collected === undefined) res.end()
      else res.end(collected.length === 1 ? collected[0] : Buffer.concat(collected, bytes))
    },
    onError: (detail) => {
      if (settled) return
      if (res.headersSent) {
        res.destroy()
        done(`upstream broke off: ${detail}`)
        return
      }
      settled = true
      unreachable(detail)
    },
  })
  // The agent hung up, before the answer or during it: nothing more goes either way.
  res.on("close", () => {
    if (res.writableFinished) return
    exchange.abort()
    done("the agent closed the connection")
  })
  return exchange
}

/** relay as an effect, for the inspecting path: interruption stops both sides. */
const exchange = (core: ProxyCore, res: ServerResponse, request: UpstreamRequest) =>
  Effect.async<Relayed, UpstreamFailed>((resume) => {
    const outgoing = relay(
      core,
      res,
      request,
      (r) => resume(Effect.succeed(r)),
      (detail) => resume(Effect.fail(new UpstreamFailed({ detail }))),
    )
    return Effect.sync(() => {
      outgoing.abort()
      res.destroy()
    })
  })

const respondJson = (res: ServerResponse, status: number, body: Record<string, string>) => {
  if (res.headersSent || res.destroyed) {
    res.destroy()
    return
  }
  const text = `${JSON.stringify(body)}\n`
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  })
  res.end(text)
}

/** The SNI name of a TLS connection (Node sets `servername` on server sockets; @types/node omits it). */
const serverNameOf = (socket: unknown): string | undefined =>
  typeof socket === "object" &&
  socket !== null &&
  "servername" in socket &&
  typeof socket.servername === "string"
    ? socket.servername
    : undefined

const refuse = (status: 400 | 403, code: string, explanation: string, reason: string) =>
  new Blocked({ status, code, explanation, reason })

/** What the synchronous checks decided about a request the allowlist lets through. */
interface Prepared {
  readonly host: NormalizedHost
  readonly hostHeader: string
  readonly method: string
  readonly target: RequestTarget
  /** GraphQL rules the body must satisfy (one of them). */
  readonly graphql: ReadonlyArray<GraphqlOperations>
  readonly messages: boolean
  readonly signature: Option.Option<SigV4Match>
}

/**
 * The checks that need nothing but the request head, done synchronously: most requests need
 * nothing else, and skip the Effect steps of the body and signing path.
 */
const prepare = (
  core: ProxyCore,
  req: IncomingMessage,
  scheme: Scheme,
  note: Note,
): Either.Either<Prepared, Blocked> => {
  const method = req.method ?? ""
  if (method === "CONNECT") {
    return Either.left(refuse(403, "connect_not_allowed", connectExplanation, "CONNECT refused"))
  }
  const hosts = headerValues(req.rawHeaders, "host")
  const hostHeader = hosts[0]
  if (hosts.length !== 1 || hostHeader === undefined) {
    return Either.left(
      refuse(400, "bad_request", "The request must carry exactly one Host header.", "Host header count"),
    )
  }
  const parsedHost = normalizeHost(hostHeader)
  if (Option.isNone(parsedHost)) {
    return Either.left(
      refuse(
        400,
        "bad_request",
        `The Host header ${JSON.stringify(hostHeader)} is not a host name.`,
        "bad Host",
      ),
    )
  }
  const host = parsedHost.value
  note.host = host.name
  if (scheme === "https") {
    const sni = serverNameOf(req.socket)
    const sniHost = sni === undefined ? Option.none() : normalizeHost(sni)
    if (Option.isNone(sniHost) || sniHost.value.name !== host.name) {
      const opened = Option.isSome(sniHost) ? sniHost.value.name : "no name"
      return Either.left(
        refuse(
          403,
          "blocked_by_network_allowlist",
          `The Host header names ${host.name} but this TLS connection was opened for ${opened}; a connection may only carry requests for the host it was opened for.`,
          "Host does not match SNI",
        ),
      )
    }
  }
  const target = parseTarget(req.url ?? "", host)
  if (Either.isLeft(target)) return Either.left(target.left)
  const decision = decide(core.allowlist, host, method, target.right.match)
  if (decision._tag === "Denied") {
    return Either.left(
      deniedRequest(
        decision.what,
        host.name,
        method,
        target.right.decodedPath,
        target.right.rawQuery !== undefined,
      ),
    )
  }
  return Either.right({
    host,
    hostHeader,
    method,
    target: target.right,
    graphql: decision.graphql,
    messages: isMessagesRequest(host.name, target.right.decodedPath, method),
    signature: Option.filter(detectSigV4(core.signing, req.rawHeaders, target.right.rawQuery), (m) =>
      m.entry.scopes.some((g) => g.test(host.name)),
    ),
  })
}

/** The request as it goes upstream, masked secrets swapped. */
const upstreamRequest = (
  core: ProxyCore,
  req: IncomingMessage,
  scheme: Scheme,
  p: Prepared,
  note: Note,
): UpstreamRequest => {
  const swap = swapMaskedSecrets(core.masked, p.host.name, forwardHeaders(req.rawHeaders, p.hostHeader))
  note.swapped += swap.swapped
  note.stripped += swap.stripped
  return {
    scheme,
    host: p.host.name,
    isIp: p.host.isIp,
    method: p.method,
    target: p.target.raw,
    headers: swap.headers,
    // A request without a body is sent complete at once, skipping the stream plumbing.
    body: hasBody(req) ? req : noBody,
  }
}

/** The slow path: the body is read and checked or rewritten, or an AWS signature redone. */
const inspect = (core: ProxyCore, req: IncomingMessage, scheme: Scheme, p: Prepared, note: Note) =>
  Effect.gen(function* () {
    const { host, method, target } = p
    const signatureNeedsBody = Option.isSome(p.signature) && needsBody(p.signature.value, req.rawHeaders)
    let body: Uint8Array | undefined
    if (p.graphql.length > 0 || p.messages || signatureNeedsBody) {
      const encoding = req.headers["content-encoding"]
      if (hasBody(req) && encoding !== undefined && encoding.toLowerCase() !== "identity") {
        return yield* refuse(
          403,
          "encoded_body_not_allowed",
          `The proxy must read this request's body and cannot with Content-Encoding ${encoding}; send it uncompressed.`,
          "compressed body to inspect",
        )
      }
      body = hasBody(req)
        ? yield* readBody(
            req,
            Math.max(
              p.messages ? messagesBodyLimit : 0,
              signatureNeedsBody ? messagesBodyLimit : 0,
              graphqlBodyLimit + 1,
            ),
          )
        : noBody
    }

    if (p.graphql.length > 0) {
      const verdict = checkGraphql(p.graphql, body, target.rawQuery)
      if (Either.isLeft(verdict)) {
        const refused = verdict.left.verdict
        if (refused !== undefined) note.graphql = refused.operation
        return yield* new Blocked({
          status: 403,
          code: "graphql_operation_blocked",
          explanation:
            refused === undefined
              ? `The GraphQL request to ${host.name}${target.decodedPath} was refused: ${verdict.left.detail}.`
              : `The GraphQL ${verdict.left.detail} by the network allowlist for ${host.name}${target.decodedPath}. ${howToAdd}`,
          reason: `graphql: ${verdict.left.detail}`,
          ...(refused === undefined
            ? {}
            : { add: entryLines(host.name, target.decodedPath, method, refused) }),
        })
      }
      note.graphql = verdict.right.operation
    }

    if (p.messages && body !== undefined) {
      const trimmed = yield* trimServerTools(body, (name) =>
        Option.match(normalizeHost(name), {
          onNone: () => false,
          onSome: (h) => allowsSiteWideGet(core.allowlist, h),
        }),
      )
      body = trimmed.body
      if (Option.isSome(trimmed.note)) note.toolDomains = trimmed.note.value
    }

    const base = upstreamRequest(core, req, scheme, p, note)
    let headers = base.headers
    let outTarget = base.target
    if (Option.isSome(p.signature)) {
      const resigned = yield* resign(p.signature.value, {
        method,
        host: p.hostHeader,
        rawPath: target.rawPath,
        rawQuery: target.rawQuery,
        rawHeaders: headers,
        body,
      }).pipe(
        Effect.catchTag("SigningFailed", (e) =>
          Effect.fail(
            refuse(
              403,
              "aws_signing_failed",
              `The AWS request could not be re-signed: ${e.detail}.`,
              e.detail,
            ),
          ),
        ),
      )
      headers = resigned.rawHeaders
      outTarget = resigned.rawQuery === undefined ? target.rawPath : `${target.rawPath}?${resigned.rawQuery}`
      note.swapped += 1
    }
    return body === undefined
      ? { ...base, headers, target: outTarget }
      : { ...base, headers: withContentLength(headers, body.length), target: outTarget, body }
  })

export const connectExplanation =
  "CONNECT is not allowed: the sandbox has no tunnels. Send plain HTTP or HTTPS requests to the host; the proxy checks each one against the network allowlist."

type Outcome =
  | { readonly action: "allowed"; readonly relayed: Relayed }
  | { readonly action: "blocked"; readonly blocked: Blocked }
  | { readonly action: "error"; readonly status?: number; readonly reason: string }

/**
 * The request handler for one listener. Never throws: every outcome is answered and logged.
 *
 * Plain synchronous code, not an Effect, on the path most requests take (head checks, then
 * relaying): it runs once per request, and a fiber per request (its creation, scheduling and
 * the FiberSet bookkeeping) cost more CPU than all the checks together, which on a busy agent
 * halved what the proxy could carry. The decisions are pure functions of the request head; the
 * resources they touch (listeners, upstream pools, the log writer) are still acquired and
 * released by Effect scopes, and closing a listener destroys its connections and so every
 * request in flight. Requests whose body must be read (GraphQL, Anthropic tools, AWS
 * re-signing) go through `inspect` as an Effect in the proxy's FiberSet (`run`).
 */
export const handleRequest = (
  core: ProxyCore,
  req: IncomingMessage,
  res: ServerResponse,
  scheme: Scheme,
  run: Run,
): void => {
  const started = core.now()
  const method = req.method ?? ""
  const path = req.url ?? ""
  const note: Note = { host: "", swapped: 0, stripped: 0 }
  const log = (outcome: Outcome) => core.emit(logLine(outcome, note, started, core.now(), method, path))
  // The body names the request first, then says why and (for allowlist misses) what to add.
  const answer = (status: number, error: string, message: string, add?: string) =>
    respondJson(res, status, {
      error,
      host: note.host,
      path,
      method,
      message,
      ...(add === undefined ? {} : { add }),
    })
  const blocked = (b: Blocked) => {
    answer(b.status, b.code, b.explanation, b.add)
    log({ action: "blocked", blocked: b })
  }
  const allowed = (relayed: Relayed) => log({ action: "allowed", relayed })
  const unreachable = (detail: string) => {
    answer(502, "upstream_unreachable", `The proxy could not reach ${note.host}: ${detail}`)
    log({ action: "error", status: 502, reason: detail })
  }
  const defect = (cause: unknown) => {
    answer(500, "proxy_error", "The proxy failed while handling this request.")
    log({ action: "error", status: 500, reason: `proxy defect: ${String(cause)}` })
  }

  try {
    const prepared = prepare(core, req, scheme, note)
    if (Either.isLeft(prepared)) {
      blocked(prepared.left)
      return
    }
    const p = prepared.right
    if (p.graphql.length === 0 && !p.messages && Option.isNone(p.signature)) {
      relay(core, res, upstreamRequest(core, req, scheme, p, note), allowed, unreachable)
      return
    }
    run(
      inspect(core, req, scheme, p, note).pipe(
        Effect.flatMap((request) => exchange(core, res, request)),
        Effect.matchEffect({
          onSuccess: (relayed) => Effect.sync(() => allowed(relayed)),
          onFailure: (e) =>
            Effect.sync(() => {
              switch (e._tag) {
                case "Blocked":
                  return blocked(e)
                case "UpstreamFailed":
                  return unreachable(e.detail)
                case "ClientGone":
                  return log({ action: "error", reason: e.detail })
              }
            }),
        }),
        Effect.catchAllDefect((cause) => Effect.sync(() => defect(cause))),
      ),
    )
  } catch (cause) {
    // A bug in the checks: the agent gets a 500 and the log says why; the proxy keeps serving.
    defect(cause)
  }
}

const logLine = (
  outcome: Outcome,
  note: Note,
  started: number,
  ended: number,
  method: string,
  path: string,
): typeof RequestLogLine.Encoded => {
  const common = {
    kind: "request" as const,
    time: new Date(started).toISOString(),
    method,
    host: note.host,
    path,
    durationMs: ended - started,
    swapped: note.swapped,
    ...(note.stripped > 0 ? { stripped: note.stripped } : {}),
    ...(note.graphql === undefined ? {} : { graphql: note.graphql }),
    ...(note.toolDomains === undefined ? {} : { toolDomains: note.toolDomains }),
  }
  switch (outcome.action) {
    case "allowed": {
      const { relayed } = outcome
      return {
        ...common,
        action: relayed.error === undefined ? "allowed" : "error",
        status: relayed.status,
        bytes: relayed.bytes,
        ...(relayed.error === undefined ? {} : { reason: relayed.error }),
      }
    }
    case "blocked":
      return { ...common, action: "blocked", status: outcome.blocked.status, reason: outcome.blocked.reason }
    case "error":
      return {
        ...common,
        action: "error",
        ...(outcome.status === undefined ? {} : { status: outcome.status }),
        reason: outcome.reason,
      }
  }
}
