import { Schema } from "effect"

/**
 * How a channel's connection is doing, for the dashboard: `Starting` until the first
 * connection, `Connected`, `Degraded` while it reconnects, `Failed` when it has been down for
 * longer than its retry budget (it keeps trying; `Failed` says a person should look).
 */
export const ChannelHealth = Schema.Union(
  Schema.TaggedStruct("Starting", {}),
  Schema.TaggedStruct("Connected", {}),
  Schema.TaggedStruct("Degraded", { reason: Schema.String }),
  Schema.TaggedStruct("Failed", { reason: Schema.String }),
).annotations({ identifier: "ChannelHealth" })
export type ChannelHealth = typeof ChannelHealth.Type
