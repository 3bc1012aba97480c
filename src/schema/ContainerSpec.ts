import { Schema } from "effect"

/**
 * What a container is made from, in engine-neutral terms. The Docker/Podman layer maps it onto
 * the Engine API's create body; the run policy (RunPolicy.ts) produces the one agents get.
 */

const optional = <A, I>(schema: Schema.Schema<A, I>) => Schema.optionalWith(schema, { exact: true })

/** A host path bound into the container. Only bind mounts: named volumes would outlive the task. */
export const BindMount = Schema.Struct({
  source: Schema.String,
  target: Schema.String,
  readOnly: Schema.Boolean,
})
export type BindMount = typeof BindMount.Type

/** Attachment to a network at create time; `ipv4Address` pins the address (the proxy sidecar). */
export const NetworkAttachment = Schema.Struct({
  name: Schema.String,
  ipv4Address: optional(Schema.String),
  aliases: optional(Schema.Array(Schema.String)),
})
export type NetworkAttachment = typeof NetworkAttachment.Type

export const StringMap = Schema.Record({ key: Schema.String, value: Schema.String })
export type StringMap = typeof StringMap.Type

export const ContainerSpec = Schema.Struct({
  image: Schema.String,
  /** Container name; engines pick one when absent. */
  name: optional(Schema.String),
  /** Replaces the image's CMD (arguments to the entrypoint). */
  command: optional(Schema.Array(Schema.String)),
  /** Replaces the image's ENTRYPOINT. */
  entrypoint: optional(Schema.Array(Schema.String)),
  env: optional(StringMap),
  labels: optional(StringMap),
  mounts: optional(Schema.Array(BindMount)),
  workingDir: optional(Schema.String),
  capDrop: optional(Schema.Array(Schema.String)),
  capAdd: optional(Schema.Array(Schema.String)),
  securityOpt: optional(Schema.Array(Schema.String)),
  /** Memory limit in bytes. */
  memoryBytes: optional(Schema.Number),
  /** Memory + swap in bytes; equal to `memoryBytes` means no swap. */
  memorySwapBytes: optional(Schema.Number),
  /** CPU share as a number of CPUs (0.5 = half a core). */
  cpus: optional(Schema.Number),
  pidsLimit: optional(Schema.Number),
  network: optional(NetworkAttachment),
  dns: optional(Schema.Array(Schema.String)),
  sysctls: optional(StringMap),
  /** Keep stdin open so a caller can attach and write to it (closed by the caller: EOF). */
  openStdin: optional(Schema.Boolean),
})
export type ContainerSpec = typeof ContainerSpec.Type

export const NetworkSpec = Schema.Struct({
  name: Schema.String,
  /**
   * No route out. On Podman this is a libpod network with DNS off, which has no gateway and no
   * host-side address; a plain "internal" network still reaches the host (DESIGN.md).
   */
  internal: Schema.Boolean,
  labels: optional(StringMap),
  /** CIDR, e.g. "10.89.7.0/24"; the engine picks a free one when absent. */
  subnet: optional(Schema.String),
})
export type NetworkSpec = typeof NetworkSpec.Type
