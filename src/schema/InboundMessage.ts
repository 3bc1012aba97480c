import { Schema } from "effect"
import { ChannelKind } from "./ChannelKind.js"
import { ConversationId } from "./ConversationId.js"
import { SafeFileName } from "./FileName.js"

/**
 * What a channel needs back to settle a message (`Channel.acknowledge`). Opaque to everyone
 * else: `key` means something only to the channel that made it (an IMAP UIDVALIDITY:UID pair,
 * a Slack event id).
 */
export const MessageReceipt = Schema.Struct({
  channel: ChannelKind,
  repoId: Schema.String,
  key: Schema.String,
}).annotations({ identifier: "MessageReceipt" })
export interface MessageReceipt extends Schema.Schema.Type<typeof MessageReceipt> {}

/** A file that came with a message; `fileName` is already made safe for a directory. */
export const InboundAttachment = Schema.Struct({
  fileName: SafeFileName,
  contentType: Schema.String,
  size: Schema.NonNegativeInt,
  content: Schema.Uint8ArrayFromSelf,
}).annotations({ identifier: "InboundAttachment" })
export interface InboundAttachment extends Schema.Schema.Type<typeof InboundAttachment> {}

/**
 * One message from a person, the same shape for every channel. A channel emits only messages
 * whose sender it authenticated and authorized; refused ones it records itself and never
 * emits (see `Channel`). In-memory only: `Option`, `DateTime.Utc` and bytes are kept as they are.
 */
export const InboundMessage = Schema.Struct({
  channel: ChannelKind,
  repoId: Schema.String,
  /** What the channel redelivers unchanged (email Message-ID with its angle brackets, Slack ts). */
  channelMessageId: Schema.NonEmptyString,
  /** The authenticated sender: a lower-case email address or a Slack user id. */
  sender: Schema.String,
  /** How to address the sender in a prompt; the address when there is no display name. */
  senderName: Schema.String,
  /** The email subject or a Slack thread title; may be empty. */
  subject: Schema.String,
  /** The new text of the message, quoted history removed; may be empty (see `subject`). */
  body: Schema.String,
  /**
   * Keys that may find the conversation in the store, most telling first (email: In-Reply-To,
   * then References newest first; Slack: the thread ts).
   */
  threadKeys: Schema.Array(Schema.String),
  /** A conversation named by the message itself (our Message-IDs, an `[ID:xxxxxxxx]` subject tag). */
  conversationId: Schema.OptionFromSelf(ConversationId),
  attachments: Schema.Array(InboundAttachment),
  /** A model the sender asked for, already mapped through the configured aliases; new conversations only. */
  modelHint: Schema.OptionFromSelf(Schema.String),
  receivedAt: Schema.DateTimeUtcFromSelf,
  receipt: MessageReceipt,
}).annotations({ identifier: "InboundMessage" })
export interface InboundMessage extends Schema.Schema.Type<typeof InboundMessage> {}
