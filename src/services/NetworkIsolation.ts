import { Context, type Effect, Schema } from "effect"
import { type IsolationReport, ProbeCheck } from "../schema/IsolationProbe.js"

/**
 * What to do when the probe finds a way out. Said once, here, so `airut check`, the daemon log
 * and a refused task all give the same advice.
 */
export const isolationAdvice =
  "Sandboxed tasks will not run until this is fixed. Airut isolates the agent on an internal network " +
  "made through Podman's own API with DNS off, which has no gateway and no address on the host; " +
  "this needs Podman 4 or newer with netavark. A host firewall, a custom network backend or another " +
  "engine can undo that. Fix the engine's networking, then run `airut check` again. To run a " +
  "repository without the sandbox anyway (open network, masked credentials stop working), set " +
  "network.sandbox_enabled: false for it."

/** The probe got through: the network agents would sit on is not isolated. Fail closed. */
export class NetworkNotIsolated extends Schema.TaggedError<NetworkNotIsolated>()("NetworkNotIsolated", {
  network: Schema.String,
  leaks: Schema.Array(ProbeCheck),
  advice: Schema.String,
}) {
  override get message(): string {
    const reached = this.leaks.map((l) => `${l.description} (${l.outcome})`).join("; ")
    return `the container network is not isolated: a container on ${this.network} reached ${reached}. ${this.advice}`
  }
}

/**
 * The engine cannot make a provably isolated network: Docker, or Podman without the libpod API.
 * Airut refuses to run sandboxed work there rather than trust a network it cannot prove.
 */
export class IsolationUnsupported extends Schema.TaggedError<IsolationUnsupported>()("IsolationUnsupported", {
  engine: Schema.String,
}) {
  override get message(): string {
    return (
      `the container engine is ${this.engine}: airut can only make and prove an isolated network on ` +
      "Podman 4 or newer (its libpod API creates internal networks without a gateway). Docker's internal " +
      "networks keep a gateway on the host. Point container.socket at a Podman service " +
      "(`podman system service`), or set network.sandbox_enabled: false per repository to run without " +
      "the sandbox (not recommended)."
    )
  }
}

/** The probe could not run or its answer could not be read; isolation is unproven. */
export class ProbeFailed extends Schema.TaggedError<ProbeFailed>()("ProbeFailed", {
  detail: Schema.String,
}) {
  override get message(): string {
    return `the network isolation probe could not run: ${this.detail}`
  }
}

export interface NetworkIsolationShape {
  /** Probes a fresh internal network made the way task networks are. */
  readonly probe: Effect.Effect<IsolationReport, IsolationUnsupported | ProbeFailed>
  /**
   * Probes an existing network (the probe container joins it the way an agent would: IPv6 off,
   * no usable DNS server). For tests and diagnosis.
   */
  readonly probeNetwork: (network: string) => Effect.Effect<IsolationReport, ProbeFailed>
  /**
   * Proves isolation once for this layer's lifetime: the first success is kept, a failure is
   * not (the next caller probes again). Fails closed on a leak.
   */
  readonly ensureIsolated: Effect.Effect<
    IsolationReport,
    NetworkNotIsolated | IsolationUnsupported | ProbeFailed
  >
}

export class NetworkIsolation extends Context.Tag("airut/NetworkIsolation")<
  NetworkIsolation,
  NetworkIsolationShape
>() {}
