/**
 * What the network proxy writes: one JSON object per line on stdout, for every request, DNS
 * query and failed TLS handshake, plus one line when it starts listening. The daemon decodes
 * them (`decodeNetworkLogLine`), stores request lines per conversation and streams them to the
 * dashboard. No line ever holds a real secret: paths are logged as the agent sent them, and
 * credentials are only counted.
 */
import { Schema } from "effect"

const optional = <A, I>(schema: Schema.Schema<A, I>) => Schema.optionalWith(schema, { exact: true })

export const RequestAction = Schema.Literal("allowed", "blocked", "error")
export type RequestAction = typeof RequestAction.Type

export const RequestLogLine = Schema.Struct({
  kind: Schema.Literal("request"),
  time: Schema.DateTimeUtc,
  action: RequestAction,
  method: Schema.String,
  host: Schema.String,
  /** The request target as the agent sent it (path and query, still percent-encoded). */
  path: Schema.String,
  /** The status sent to the agent: the upstream's, or ours for a block (403) or failure (502). */
  status: optional(Schema.Int),
  /** Response body bytes delivered to the agent. */
  bytes: optional(Schema.NonNegativeInt),
  durationMs: Schema.NonNegative,
  /** Surrogates replaced by real credentials (masked secrets and re-signed AWS requests). */
  swapped: Schema.NonNegativeInt,
  /** Foreign credentials removed from listed headers. */
  stripped: optional(Schema.NonNegativeInt),
  /** The GraphQL operation checked, e.g. `mutation/createIssue`. */
  graphql: optional(Schema.String),
  /** How Anthropic server tools' `allowed_domains` were trimmed. */
  toolDomains: optional(Schema.String),
  /** Why the request was blocked or failed. */
  reason: optional(Schema.String),
}).annotations({ identifier: "RequestLogLine" })
export type RequestLogLine = typeof RequestLogLine.Type

export const DnsLogLine = Schema.Struct({
  kind: Schema.Literal("dns"),
  time: Schema.DateTimeUtc,
  name: Schema.String,
  /** Query type: `A`, `AAAA`, `MX`, ... */
  type: Schema.String,
  /** The proxy's IP for A queries, `NOTIMP` for everything else. */
  answer: Schema.String,
}).annotations({ identifier: "DnsLogLine" })
export type DnsLogLine = typeof DnsLogLine.Type

/** A TLS handshake that failed (no SNI, an unusable name, the client rejected our certificate). */
export const TlsLogLine = Schema.Struct({
  kind: Schema.Literal("tls"),
  time: Schema.DateTimeUtc,
  /** The SNI the client sent, empty when none. */
  host: Schema.String,
  reason: Schema.String,
}).annotations({ identifier: "TlsLogLine" })
export type TlsLogLine = typeof TlsLogLine.Type

/** Written once, when every listener is bound: the proxy is ready. */
export const StartLogLine = Schema.Struct({
  kind: Schema.Literal("start"),
  time: Schema.DateTimeUtc,
  http: Schema.Int,
  https: Schema.Int,
  dns: optional(Schema.Int),
  /** Upstream overrides in effect (host → address): said loudly, since they reroute traffic. */
  upstreamOverrides: Schema.Record({ key: Schema.String, value: Schema.String }),
}).annotations({ identifier: "StartLogLine" })
export type StartLogLine = typeof StartLogLine.Type

export const NetworkLogLine = Schema.Union(RequestLogLine, DnsLogLine, TlsLogLine, StartLogLine).annotations({
  identifier: "NetworkLogLine",
})
export type NetworkLogLine = typeof NetworkLogLine.Type
/** The JSON shape of a line, as written. */
export type NetworkLogLineJson = typeof NetworkLogLine.Encoded

/** Decodes one line of the proxy's output. */
export const decodeNetworkLogLine = Schema.decodeUnknown(Schema.parseJson(NetworkLogLine))
export const decodeNetworkLogLineJson = Schema.decodeUnknown(NetworkLogLine)
