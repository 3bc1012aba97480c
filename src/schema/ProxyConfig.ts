/**
 * The network proxy's configuration file: everything one proxy instance needs, written by the
 * daemon for one task (mode 0600, mounted read-only into the sidecar) and read by
 * `node proxy.js <config.json>`. It holds real secrets and the CA key, so it never leaves the
 * host and the sidecar, and its decoded form keeps them `Redacted`.
 */
import { Schema } from "effect"
import { NetworkAllowlist } from "./NetworkAllowlist.js"

const optional = <A, I>(schema: Schema.Schema<A, I>) => Schema.optionalWith(schema, { exact: true })

export const ListenAddress = Schema.Struct({
  /** Address to bind: `0.0.0.0` in the sidecar, `127.0.0.1` in process. */
  host: Schema.String,
  /** Port to bind; 0 picks a free one (the bound ports are in the `start` log line). */
  port: Schema.Int.pipe(Schema.between(0, 65535)),
})
export type ListenAddress = typeof ListenAddress.Type

const Ipv4 = Schema.String.pipe(
  Schema.filter((s) => /^(\d{1,3})(\.\d{1,3}){3}$/.test(s) && s.split(".").every((n) => Number(n) <= 255)),
  Schema.annotations({ description: "an IPv4 address" }),
)

/** `addr:port` or `[v6addr]:port`. */
export const UpstreamAddress = Schema.String.pipe(
  Schema.filter((s) => /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$/.test(s)),
  Schema.annotations({ description: "address:port" }),
)

/** One masked secret: the surrogate the container holds and the real value the proxy swaps in. */
export const ProxyMaskedSecret = Schema.Struct({
  /** The container's environment variable; named in logs, never the value. */
  name: Schema.String,
  surrogate: Schema.String.pipe(Schema.minLength(1)),
  value: Schema.Redacted(Schema.String.pipe(Schema.minLength(1))),
  /** Host patterns where the swap happens. */
  scopes: Schema.Array(Schema.String),
  /** Header names or patterns (case-insensitive) in which the surrogate is replaced. */
  headers: Schema.Array(Schema.String),
  allowForeignCredentials: Schema.Boolean,
})
export type ProxyMaskedSecret = typeof ProxyMaskedSecret.Type

const SurrogatePair = Schema.Struct({
  surrogate: Schema.String.pipe(Schema.minLength(1)),
  value: Schema.Redacted(Schema.String.pipe(Schema.minLength(1))),
})

/** An AWS key pair: requests signed with the surrogate key id are re-signed with the real key. */
export const ProxySigningCredential = Schema.Struct({
  name: Schema.String,
  scopes: Schema.Array(Schema.String),
  accessKeyId: SurrogatePair,
  /** Only the real secret: the proxy never needs the surrogate secret the container signs with. */
  secretAccessKey: Schema.Redacted(Schema.String.pipe(Schema.minLength(1))),
  sessionToken: optional(SurrogatePair),
})
export type ProxySigningCredential = typeof ProxySigningCredential.Type

export const ProxyConfig = Schema.Struct({
  version: Schema.Literal(1),
  /** The DNS responder; absent means none (e.g. a test that only needs HTTP). */
  dns: optional(
    Schema.Struct({
      listen: ListenAddress,
      /** The address every A query is answered with: the proxy's own, as the agent sees it. */
      answer: Ipv4,
    }),
  ),
  http: ListenAddress,
  https: ListenAddress,
  /** The installation CA, signing one leaf certificate per intercepted host. */
  ca: Schema.Struct({
    certPem: Schema.String,
    keyPem: Schema.Redacted(Schema.String),
  }),
  allowlist: NetworkAllowlist,
  maskedSecrets: Schema.Array(ProxyMaskedSecret),
  signingCredentials: Schema.Array(ProxySigningCredential),
  /** Host → `addr:port` to connect to instead; TLS still verifies the host's name. Operator-only. */
  upstreamOverrides: Schema.Record({ key: Schema.String, value: UpstreamAddress }),
  /** Extra CA certificates (PEM) trusted for upstream TLS, besides the system roots. */
  upstreamCaPem: optional(Schema.String),
  /** DNS servers for upstream names; the system resolver when absent. */
  upstreamDns: optional(Schema.Array(Schema.String)),
}).annotations({ identifier: "ProxyConfig" })
export type ProxyConfig = typeof ProxyConfig.Type

/** Decodes the config file's text (JSON) and reports every problem. */
export const decodeProxyConfigJson = Schema.decodeUnknown(Schema.parseJson(ProxyConfig), {
  errors: "all",
  onExcessProperty: "error",
})

export const encodeProxyConfigJson = Schema.encode(Schema.parseJson(ProxyConfig))

/**
 * The variables that make common clients trust the proxy CA: Node, OpenSSL-based tools and
 * Python's requests, and curl.
 */
export const caTrustEnv = (caPath: string): Readonly<Record<string, string>> => ({
  NODE_EXTRA_CA_CERTS: caPath,
  SSL_CERT_FILE: caPath,
  REQUESTS_CA_BUNDLE: caPath,
  CURL_CA_BUNDLE: caPath,
})
