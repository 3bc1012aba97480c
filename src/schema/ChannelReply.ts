import { Option, Schema } from "effect"
import { ConversationId } from "./ConversationId.js"
import { SafeFileName } from "./FileName.js"
import type { InboundMessage } from "./InboundMessage.js"

/**
 * Where a reply goes. Email: `recipient` is the address, `inReplyTo`/`references` the thread's
 * Message-IDs. Slack: `recipient` the channel id, `inReplyTo` the thread ts. A scheduled
 * delivery starts a thread: no `inReplyTo`, no references.
 */
export const ReplyTarget = Schema.Struct({
  conversationId: ConversationId,
  recipient: Schema.String,
  subject: Schema.String,
  inReplyTo: Schema.OptionFromSelf(Schema.String),
  /** Earlier message ids of the thread, oldest first. */
  references: Schema.Array(Schema.String),
}).annotations({ identifier: "ReplyTarget" })
export interface ReplyTarget extends Schema.Schema.Type<typeof ReplyTarget> {}

/** The target answering `message` in `conversationId`. */
export const replyTargetOf = (message: InboundMessage, conversationId: ConversationId): ReplyTarget => {
  // threadKeys are newest first; a References header lists oldest first.
  const earlier = [...new Set(message.threadKeys)].reverse().filter((k) => k !== message.channelMessageId)
  return {
    conversationId,
    recipient: message.sender,
    subject: message.subject,
    inReplyTo: Option.some(message.channelMessageId),
    references: [...earlier, message.channelMessageId],
  }
}

/** A file of the conversation's outbox to send along. */
export const OutboxFile = Schema.Struct({
  /** Absolute path on the host. */
  path: Schema.String,
  fileName: SafeFileName,
}).annotations({ identifier: "OutboxFile" })
export interface OutboxFile extends Schema.Schema.Type<typeof OutboxFile> {}

export const ReplyContent = Schema.Struct({
  /** The agent's answer, Markdown. */
  text: Schema.String,
  /** A short line under the answer (cost, turns), Markdown. */
  footer: Schema.OptionFromSelf(Schema.String),
  outboxFiles: Schema.Array(OutboxFile),
}).annotations({ identifier: "ReplyContent" })
export interface ReplyContent extends Schema.Schema.Type<typeof ReplyContent> {}

/** What a sent reply left behind: its own message id (a thread key) and the files not attached. */
export const SentReply = Schema.Struct({
  messageId: Schema.String,
  unattached: Schema.Array(SafeFileName),
}).annotations({ identifier: "SentReply" })
export interface SentReply extends Schema.Schema.Type<typeof SentReply> {}
