import { Schema } from "effect"
import { ConversationId } from "./ConversationId.js"
import { TaskId } from "./TaskId.js"

/**
 * One raw stream-json line of an agent run, stored as it arrived. `offset` is a store-wide
 * sequence number: strictly increasing in append order and never reused, so a reader that
 * resumes from a page's `nextOffset` sees every later line exactly once.
 */
export const AgentEventRow = Schema.Struct({
  offset: Schema.NonNegativeInt,
  taskId: TaskId,
  conversationId: ConversationId,
  at: Schema.DateTimeUtcFromNumber,
  line: Schema.String,
}).annotations({ identifier: "AgentEventRow" })
export interface AgentEventRow extends Schema.Schema.Type<typeof AgentEventRow> {}

/** Lines from an offset on; `nextOffset` is where to read next (the same offset when empty). */
export const EventPage = Schema.Struct({
  events: Schema.Array(AgentEventRow),
  nextOffset: Schema.NonNegativeInt,
}).annotations({ identifier: "EventPage" })
export interface EventPage extends Schema.Schema.Type<typeof EventPage> {}
