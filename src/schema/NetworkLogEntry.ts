import { Schema } from "effect"
import { ConversationId } from "./ConversationId.js"
import { TaskId } from "./TaskId.js"

export const NetworkVerdict = Schema.Literal("allowed", "blocked")
export type NetworkVerdict = typeof NetworkVerdict.Type

/** One request the task's proxy saw, as the network log viewer shows it. */
export const NetworkLogEntry = Schema.Struct({
  /** Store-wide sequence number, like `AgentEventRow.offset`. */
  offset: Schema.NonNegativeInt,
  taskId: TaskId,
  conversationId: ConversationId,
  at: Schema.DateTimeUtcFromNumber,
  verdict: NetworkVerdict,
  method: Schema.String,
  host: Schema.String,
  path: Schema.String,
  /** Absent when no upstream answer came (blocked, or the connection failed). */
  status: Schema.OptionFromNullOr(Schema.Int),
  bytes: Schema.OptionFromNullOr(Schema.NonNegativeInt),
  durationMs: Schema.OptionFromNullOr(Schema.NonNegative),
  /** How many surrogate credentials the proxy replaced with real ones in this request. */
  swappedSecrets: Schema.NonNegativeInt,
}).annotations({ identifier: "NetworkLogEntry" })
export interface NetworkLogEntry extends Schema.Schema.Type<typeof NetworkLogEntry> {}

/** An entry as the proxy reports it; the store adds offset, task and conversation. */
export const NewNetworkLogEntry = Schema.Struct({
  at: Schema.DateTimeUtcFromNumber,
  verdict: NetworkVerdict,
  method: Schema.String,
  host: Schema.String,
  path: Schema.String,
  status: Schema.optionalWith(Schema.Int, { exact: true }),
  bytes: Schema.optionalWith(Schema.NonNegativeInt, { exact: true }),
  durationMs: Schema.optionalWith(Schema.NonNegative, { exact: true }),
  swappedSecrets: Schema.NonNegativeInt,
}).annotations({ identifier: "NewNetworkLogEntry" })
export interface NewNetworkLogEntry extends Schema.Schema.Type<typeof NewNetworkLogEntry> {}

/** Entries from an offset on; `nextOffset` is where to read next (the same offset when empty). */
export const NetworkPage = Schema.Struct({
  entries: Schema.Array(NetworkLogEntry),
  nextOffset: Schema.NonNegativeInt,
}).annotations({ identifier: "NetworkPage" })
export interface NetworkPage extends Schema.Schema.Type<typeof NetworkPage> {}
