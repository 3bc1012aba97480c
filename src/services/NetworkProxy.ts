import { Context, type Effect, type Option, Schema, type Scope, type Stream } from "effect"
import type { ConversationId } from "../schema/ConversationId.js"
import type { MaskedSecret, SigningCredential } from "../schema/Credentials.js"
import type { NetworkAllowlist } from "../schema/NetworkAllowlist.js"
import type { NetworkLogLine } from "../schema/NetworkLogLine.js"
import type { TaskId } from "../schema/TaskId.js"

/**
 * The task's network proxy could not be brought up, or stopped being healthy. The task fails
 * closed: no agent runs without its proxy. `reason` says which stage.
 */
export class ProxyFailed extends Schema.TaggedError<ProxyFailed>()("ProxyFailed", {
  reason: Schema.Literal("ca", "config", "listen", "network", "unhealthy"),
  detail: Schema.String,
}) {
  override get message(): string {
    return `network proxy failed (${this.reason}): ${this.detail}`
  }
}

/** What one task's proxy enforces. Real secret values are here; they stay inside the proxy. */
export interface ProxySpec {
  readonly taskId: TaskId
  readonly conversationId: ConversationId
  /** From the repository's default branch. */
  readonly allowlist: NetworkAllowlist
  /** Environment variable → masked secret (real value, scopes, headers). */
  readonly maskedSecrets: Readonly<Record<string, MaskedSecret>>
  /** Credential name → AWS signing credential (real values). */
  readonly signingCredentials: Readonly<Record<string, SigningCredential>>
  /** Server config `network.upstream_overrides`: host → `addr:port`. Operator-only. */
  readonly upstreamOverrides: Readonly<Record<string, string>>
  /** Extra CA certificates (PEM) trusted for upstream TLS, e.g. a test upstream's CA. */
  readonly upstreamCaPem?: string
  /** Server config `network.upstream_dns`: resolvers for upstream names; the system's when absent. */
  readonly upstreamDns?: ReadonlyArray<string>
}

export interface ProxyEndpoint {
  readonly host: string
  readonly port: number
}

/** Everything the agent's container needs to use its proxy. */
export interface ProxyHandle {
  /** The agent's only DNS server (HostConfig.Dns); every name resolves to the proxy. */
  readonly dnsServer: string
  /** The network the agent joins; none for the in-process proxy. */
  readonly network: Option.Option<string>
  /** The CA certificate to mount read-only, and where it appears in the container. */
  readonly caCert: { readonly hostPath: string; readonly containerPath: string }
  /**
   * Environment for the container: each secret's surrogate under its variable name, and
   * NODE_EXTRA_CA_CERTS / SSL_CERT_FILE / REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE pointing at the CA.
   */
  readonly env: Readonly<Record<string, string>>
  /** Where the proxy answers, as seen by the agent (in process: loopback ephemeral ports). */
  readonly endpoints: {
    readonly dns: ProxyEndpoint
    readonly http: ProxyEndpoint
    readonly https: ProxyEndpoint
  }
  /** Every line the proxy logs (requests, DNS queries, TLS failures), in order, once each. */
  readonly log: Stream.Stream<NetworkLogLine>
}

export interface NetworkProxyShape {
  /** Starts a proxy for one task; it stops (and its secrets file goes) when the scope closes. */
  readonly start: (spec: ProxySpec) => Effect.Effect<ProxyHandle, ProxyFailed, Scope.Scope>
}

/** The per-task network proxy: allowlist, DNS, TLS interception and credential swap. */
export class NetworkProxy extends Context.Tag("airut/NetworkProxy")<NetworkProxy, NetworkProxyShape>() {}
