import { Schema } from "effect"
import { ChannelKind } from "./ChannelKind.js"
import { ConversationId } from "./ConversationId.js"

/**
 * One conversation thread: its checkout, its Claude session and its replies belong to it.
 * Encoded form: epoch milliseconds for times and `null` for absent values, which is both what
 * SQLite stores and plain JSON for the dashboard.
 */
export const Conversation = Schema.Struct({
  id: ConversationId,
  repoId: Schema.String,
  channel: ChannelKind,
  /**
   * Keys that find this conversation from an inbound message (email Message-IDs, Slack
   * thread ts), in the order they were added. Unique per channel and repo.
   */
  threadKeys: Schema.Array(Schema.String),
  model: Schema.String,
  effort: Schema.OptionFromNullOr(Schema.String),
  /** The session the next run resumes (`--resume`): the last reply's, or one set explicitly. */
  sessionId: Schema.OptionFromNullOr(Schema.String),
  createdAt: Schema.DateTimeUtcFromNumber,
  /** Last activity (inbound, task, reply, session); garbage collection goes by it. */
  updatedAt: Schema.DateTimeUtcFromNumber,
}).annotations({ identifier: "Conversation" })
export interface Conversation extends Schema.Schema.Type<typeof Conversation> {}

/** What a caller knows when a conversation starts; the store assigns id and times. */
export const NewConversation = Schema.Struct({
  repoId: Schema.String,
  channel: ChannelKind,
  threadKeys: Schema.Array(Schema.String),
  model: Schema.String,
  effort: Schema.optionalWith(Schema.String, { exact: true }),
}).annotations({ identifier: "NewConversation" })
export interface NewConversation extends Schema.Schema.Type<typeof NewConversation> {}

/** A lookup by thread keys: the first of `keys` that some conversation owns wins. */
export const ThreadKeyQuery = Schema.Struct({
  channel: ChannelKind,
  repoId: Schema.String,
  keys: Schema.Array(Schema.String),
}).annotations({ identifier: "ThreadKeyQuery" })
export interface ThreadKeyQuery extends Schema.Schema.Type<typeof ThreadKeyQuery> {}
