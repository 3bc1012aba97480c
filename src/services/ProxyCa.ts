import { Context, Data, type Effect } from "effect"

/**
 * The installation's certificate authority: the proxy signs a leaf certificate per intercepted
 * host with it, and the agent container trusts its certificate. Made once (`airut init`, or the
 * first daemon start) and kept in the state dir; the key never leaves the host and the proxy.
 */
export interface CaFiles {
  readonly certPath: string
  readonly keyPath: string
  /** SHA-256 fingerprint of the DER certificate, colon-separated hex, for `airut check`. */
  readonly fingerprint: string
  readonly notAfter: Date
}

export class CaError extends Data.TaggedError("CaError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `${this.path}: ${this.reason}`
  }
}

export interface ProxyCaShape {
  /** The existing CA, or a new one written with the key at mode 0600. `created` says which. */
  readonly ensure: Effect.Effect<CaFiles & { readonly created: boolean }, CaError>
  /** The existing CA; fails when it is missing, unreadable, expired or its key is readable by others. */
  readonly inspect: Effect.Effect<CaFiles, CaError>
}

export class ProxyCa extends Context.Tag("airut/ProxyCa")<ProxyCa, ProxyCaShape>() {}
