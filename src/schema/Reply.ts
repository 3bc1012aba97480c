import { Schema } from "effect"
import { ConversationId } from "./ConversationId.js"
import { TaskId } from "./TaskId.js"

/**
 * Token usage as Claude Code reports it in its `result` event (`input_tokens`,
 * `output_tokens`, cache counters and whatever it adds); kept whole for the dashboard.
 */
export const ReplyUsage = Schema.Record({ key: Schema.String, value: Schema.Unknown })
export type ReplyUsage = typeof ReplyUsage.Type

/** One agent run's summary, as the conversation overview shows it. */
export const Reply = Schema.Struct({
  conversationId: ConversationId,
  taskId: TaskId,
  /** 0 for the first reply of the conversation, then 1, 2, ... */
  index: Schema.NonNegativeInt,
  /** The run's session (from its `result` event, else `system/init`); absent if none started. */
  sessionId: Schema.OptionFromNullOr(Schema.String),
  at: Schema.DateTimeUtcFromNumber,
  durationMs: Schema.NonNegative,
  /** Absent when the run reported no cost (subscription auth). */
  costUsd: Schema.OptionFromNullOr(Schema.NonNegative),
  turns: Schema.NonNegativeInt,
  usage: ReplyUsage,
  requestText: Schema.String,
  responseText: Schema.String,
  /** The `_tag` of the outcome that produced it (`Success`, `TaskTimeout`, ...); not interpreted here. */
  outcome: Schema.String,
}).annotations({ identifier: "Reply" })
export interface Reply extends Schema.Schema.Type<typeof Reply> {}

/** A reply as the task knows it; the store assigns `index` and `at`. */
export const NewReply = Schema.Struct({
  conversationId: ConversationId,
  taskId: TaskId,
  sessionId: Schema.optionalWith(Schema.String, { exact: true }),
  durationMs: Schema.NonNegative,
  costUsd: Schema.optionalWith(Schema.NonNegative, { exact: true }),
  turns: Schema.NonNegativeInt,
  usage: ReplyUsage,
  requestText: Schema.String,
  responseText: Schema.String,
  outcome: Schema.String,
}).annotations({ identifier: "NewReply" })
export interface NewReply extends Schema.Schema.Type<typeof NewReply> {}
