import { Schema } from "effect"
import { AgentEventRow } from "./AgentEventRow.js"
import { NetworkLogEntry } from "./NetworkLogEntry.js"

/** `GET /api/conversations/:id/events?offset=N`: raw stream-json lines, secrets redacted. */
export const EventsPayload = Schema.Struct({
  events: Schema.Array(AgentEventRow),
  /** Ask again from here for what comes next. */
  nextOffset: Schema.NonNegativeInt,
  /** True while a task of the conversation is unfinished: more lines may come. */
  running: Schema.Boolean,
}).annotations({ identifier: "EventsPayload" })
export interface EventsPayload extends Schema.Schema.Type<typeof EventsPayload> {}

/** A network log entry; a blocked one carries the allowlist entry that would allow it. */
export const DashboardNetworkEntry = Schema.Struct({
  ...NetworkLogEntry.fields,
  allowlistEntry: Schema.OptionFromNullOr(Schema.String),
}).annotations({ identifier: "DashboardNetworkEntry" })
export interface DashboardNetworkEntry extends Schema.Schema.Type<typeof DashboardNetworkEntry> {}

/** `GET /api/conversations/:id/network?offset=N&blocked=true`. */
export const NetworkPayload = Schema.Struct({
  entries: Schema.Array(DashboardNetworkEntry),
  nextOffset: Schema.NonNegativeInt,
  running: Schema.Boolean,
}).annotations({ identifier: "NetworkPayload" })
export interface NetworkPayload extends Schema.Schema.Type<typeof NetworkPayload> {}
