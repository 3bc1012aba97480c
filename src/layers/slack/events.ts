/**
 * The Events API payloads the channel reads, decoded from what Socket Mode delivers, and the
 * rule that decides which messages are for us. Only people's new messages count: bot posts
 * (our own included, which stops loops), edits, deletions and other subtypes are ignored;
 * `file_share` is a person's message with files.
 */
import { Option, Schema } from "effect"

export const SlackFile = Schema.Struct({
  id: Schema.String,
  name: Schema.optional(Schema.String),
  mimetype: Schema.optional(Schema.String),
  size: Schema.optional(Schema.Number),
  url_private_download: Schema.optional(Schema.String),
  url_private: Schema.optional(Schema.String),
})
export type SlackFile = typeof SlackFile.Type

/** `message` (DMs, channels, groups) and `app_mention` share this shape. */
export const MessageEvent = Schema.Struct({
  type: Schema.Literal("message", "app_mention"),
  channel: Schema.String,
  user: Schema.optional(Schema.String),
  text: Schema.optionalWith(Schema.String, { default: () => "" }),
  ts: Schema.String,
  thread_ts: Schema.optional(Schema.String),
  subtype: Schema.optional(Schema.String),
  bot_id: Schema.optional(Schema.String),
  channel_type: Schema.optional(Schema.String),
  files: Schema.optionalWith(Schema.Array(SlackFile), { default: () => [] }),
})
export type MessageEvent = typeof MessageEvent.Type

export const AssistantThreadStarted = Schema.Struct({
  type: Schema.Literal("assistant_thread_started"),
  assistant_thread: Schema.Struct({
    user_id: Schema.String,
    channel_id: Schema.String,
    thread_ts: Schema.String,
  }),
})
export type AssistantThreadStarted = typeof AssistantThreadStarted.Type

export const SlackEvent = Schema.Union(MessageEvent, AssistantThreadStarted)
export type SlackEvent = typeof SlackEvent.Type

export const decodeEvent = Schema.decodeUnknownOption(SlackEvent)

/** A direct message with the app (the assistant view or the messages tab). */
export const isDirect = (event: MessageEvent): boolean =>
  event.channel_type === "im" || event.channel.startsWith("D")

/** Why a message is not for us, or none when it is a person's new message. */
export const ignoredBecause = (event: MessageEvent, botUserId: string): Option.Option<string> => {
  if (event.bot_id !== undefined || event.user === undefined) return Option.some("posted by a bot")
  if (event.user === botUserId) return Option.some("our own message")
  if (event.subtype !== undefined && event.subtype !== "file_share") {
    return Option.some(`subtype ${event.subtype}`)
  }
  return Option.none()
}

/** Whether the text mentions the bot (`<@U123>` or `<@U123|name>`). */
export const mentions = (text: string, botUserId: string): boolean =>
  text.includes(`<@${botUserId}>`) || text.includes(`<@${botUserId}|`)

// --- keys ---
// Every key names the thread and the message: `channel:threadTs:ts`. A thread's key is the
// key of its first message (`channel:threadTs:threadTs`), so the thread of any stored key, a
// reply target included, can be read back from the key alone.

export const messageKey = (channel: string, threadTs: string, ts: string): string =>
  `${channel}:${threadTs}:${ts}`

export const threadKeyOf = (event: MessageEvent): string =>
  messageKey(event.channel, event.thread_ts ?? event.ts, event.thread_ts ?? event.ts)

export const messageKeyOf = (event: MessageEvent): string =>
  messageKey(event.channel, event.thread_ts ?? event.ts, event.ts)

export interface ThreadRef {
  readonly channel: string
  readonly threadTs: string
}

export const parseKey = (key: string): Option.Option<ThreadRef> => {
  const m = /^([A-Z0-9]+):(\d+\.\d+):(\d+\.\d+)$/.exec(key)
  return m?.[1] === undefined || m[2] === undefined
    ? Option.none()
    : Option.some({ channel: m[1], threadTs: m[2] })
}
