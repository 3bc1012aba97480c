import { Schema } from "effect"
import { ChannelKind } from "./ChannelKind.js"
import { ConversationId } from "./ConversationId.js"

/**
 * An accepted inbound message as the store records it before the channel acknowledges it.
 * `(channel, channelMessageId)` is the idempotency key: a redelivered message is recognised
 * and never runs twice. The message text itself lives in the task and reply rows.
 */
export const NewInbound = Schema.Struct({
  channel: ChannelKind,
  /** Email Message-ID or Slack event ts: whatever the channel redelivers unchanged. */
  channelMessageId: Schema.NonEmptyString,
  repoId: Schema.String,
  conversationId: ConversationId,
  sender: Schema.String,
  /** Keys of this message to attach to the conversation (its own id, In-Reply-To, ...). */
  threadKeys: Schema.Array(Schema.String),
}).annotations({ identifier: "NewInbound" })
export interface NewInbound extends Schema.Schema.Type<typeof NewInbound> {}
