/**
 * The network isolation probe: what a probe container on a fresh internal network tries to
 * reach (the host's addresses, the bridge, `host.containers.internal`, IPv6 link-local, public
 * addresses, DNS servers, an outside name), what it reports back (one JSON line on stdout) and
 * the report `airut check` prints and the daemon keeps.
 */
import { Schema } from "effect"

const optional = <A, I>(schema: Schema.Schema<A, I>) => Schema.optionalWith(schema, { exact: true })

const Port = Schema.Int.pipe(Schema.between(1, 65535))

const common = {
  /** Joins a result to its target. */
  id: Schema.String,
  /** What the target is, for people: "host address 192.0.2.2 (eth0), port 40123". */
  description: Schema.String,
}

/**
 * A TCP connection. `greeting`: the target is our host-side listener, which writes this text
 * first. `local`: the address is also the container's own (127.0.0.1, ::1), so only the greeting
 * proves the host was reached; anywhere else a connection or a refusal (an answer from the far
 * side) counts as reached.
 */
export const TcpTarget = Schema.Struct({
  kind: Schema.Literal("tcp"),
  ...common,
  host: Schema.String,
  port: Port,
  greeting: optional(Schema.String),
  local: Schema.Boolean,
})

/** Resolve a name inside the container (its /etc/hosts and resolver), then connect to each address. */
export const TcpNameTarget = Schema.Struct({
  kind: Schema.Literal("tcp-name"),
  ...common,
  name: Schema.String,
  port: Port,
  greeting: optional(Schema.String),
})

/** An IPv6 link-local address of the host, tried through every interface of the container. */
export const LinkLocalTarget = Schema.Struct({
  kind: Schema.Literal("tcp-link-local"),
  ...common,
  address: Schema.String,
  port: Port,
  greeting: optional(Schema.String),
})

/** A DNS query over UDP straight to a server: any answer at all means names can leave. */
export const DnsTarget = Schema.Struct({
  kind: Schema.Literal("dns"),
  ...common,
  server: Schema.String,
  port: Port,
  name: Schema.String,
})

/** The same query to every nameserver in the container's /etc/resolv.conf. */
export const ResolvConfTarget = Schema.Struct({
  kind: Schema.Literal("dns-resolv-conf"),
  ...common,
  name: Schema.String,
})

/** Resolve an outside name through the container's resolver; any address is a leak. */
export const ResolveTarget = Schema.Struct({
  kind: Schema.Literal("resolve"),
  ...common,
  name: Schema.String,
})

/** Any IPv6 address on a non-loopback interface: IPv6 was not turned off. */
export const Ipv6Target = Schema.Struct({
  kind: Schema.Literal("ipv6-addresses"),
  ...common,
})

/**
 * The positive control: a listener inside the container, connected to the way every TCP target
 * is. If this is not reached the probe itself is broken and proves nothing.
 */
export const ControlTarget = Schema.Struct({
  kind: Schema.Literal("control"),
  ...common,
})

export const ProbeTarget = Schema.Union(
  TcpTarget,
  TcpNameTarget,
  LinkLocalTarget,
  DnsTarget,
  ResolvConfTarget,
  ResolveTarget,
  Ipv6Target,
  ControlTarget,
)
export type ProbeTarget = typeof ProbeTarget.Type

/** What the probe container gets (as its one argument, JSON). */
export const ProbeInput = Schema.Struct({
  /** Per target; all targets are tried at once. */
  timeoutMs: Schema.Int.pipe(Schema.positive()),
  targets: Schema.Array(ProbeTarget),
})
export type ProbeInput = typeof ProbeInput.Type

export const ProbeResult = Schema.Struct({
  id: Schema.String,
  reached: Schema.Boolean,
  /** What happened: "connected to the probe listener", "ENETUNREACH", "no answer", ... */
  outcome: Schema.String,
  ms: Schema.NonNegative,
})
export type ProbeResult = typeof ProbeResult.Type

/** The probe container's one line of output. */
export const ProbeOutput = Schema.Struct({ results: Schema.Array(ProbeResult) })
export type ProbeOutput = typeof ProbeOutput.Type

export const decodeProbeOutput = Schema.decodeUnknown(Schema.parseJson(ProbeOutput))

/** One thing tried, with its outcome. */
export const ProbeCheck = Schema.Struct({
  description: Schema.String,
  reached: Schema.Boolean,
  outcome: Schema.String,
  ms: Schema.NonNegative,
}).annotations({ identifier: "ProbeCheck" })
export type ProbeCheck = typeof ProbeCheck.Type

export const IsolationReport = Schema.Struct({
  /** The network probed. */
  network: Schema.String,
  /** "podman 4.3.1". */
  engine: Schema.String,
  checks: Schema.Array(ProbeCheck),
  /** The checks that got through, plus connections the host-side listener saw. */
  leaks: Schema.Array(ProbeCheck),
  durationMs: Schema.NonNegative,
}).annotations({ identifier: "IsolationReport" })
export type IsolationReport = typeof IsolationReport.Type
