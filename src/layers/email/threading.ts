/**
 * Email threading: which conversation a mail belongs to, and the ids and subjects of our own
 * mails. Our Message-IDs carry the conversation id (`<airut.<conv>.<ms>.<nonce>@domain>`), so a
 * reply to any of our mails finds its conversation even when the subject was edited.
 */
import { Clock, Effect, Option, Random } from "effect"
import { ConversationId } from "../../schema/ConversationId.js"

const ourMessageId = /^<airut\.([0-9a-f]{8})\.[A-Za-z0-9.]+@[^<>@\s]+>$/
const subjectTag = /\[ID:([0-9a-fA-F]{8})\]/

/** `<id@host>` with its angle brackets, or None for something that is no Message-ID. */
export const normalizeMessageId = (raw: string): Option.Option<string> => {
  const trimmed = raw.trim()
  const inner = trimmed.startsWith("<") && trimmed.endsWith(">") ? trimmed.slice(1, -1) : trimmed
  return inner.length > 0 && /^[^<>\s]+@[^<>\s]+$/.test(inner) ? Option.some(`<${inner}>`) : Option.none()
}

/** All Message-IDs in a References / In-Reply-To header value, in order. */
export const messageIdsIn = (value: string): ReadonlyArray<string> =>
  (value.match(/<[^<>\s]+>/g) ?? []).flatMap((id) => Option.toArray(normalizeMessageId(id)))

/**
 * Thread keys in the order they are tried: In-Reply-To first, then References from the newest
 * (last) to the oldest, without repeats.
 */
export const threadKeysOf = (
  inReplyTo: ReadonlyArray<string>,
  references: ReadonlyArray<string>,
): ReadonlyArray<string> => [...new Set([...inReplyTo, ...[...references].reverse()])]

/** The conversation id inside one of our own Message-IDs. */
export const conversationIdOfMessageId = (id: string): Option.Option<ConversationId> => {
  const match = ourMessageId.exec(id)
  return match?.[1] === undefined ? Option.none() : Option.some(ConversationId.make(match[1]))
}

/** The `[ID:xxxxxxxx]` tag of a subject. */
export const conversationIdOfSubject = (subject: string): Option.Option<ConversationId> => {
  const match = subjectTag.exec(subject)
  return match?.[1] === undefined ? Option.none() : Option.some(ConversationId.make(match[1].toLowerCase()))
}

/** Our Message-IDs among the thread keys (in their order) first, then the subject tag. */
export const resolveConversationId = (
  threadKeys: ReadonlyArray<string>,
  subject: string,
): Option.Option<ConversationId> =>
  Option.firstSomeOf([...threadKeys.map(conversationIdOfMessageId), conversationIdOfSubject(subject)])

/** The domain of a From address (`Airut <airut@example.com>` gives `example.com`). */
export const domainOf = (address: string): string => {
  const at = address.lastIndexOf("@")
  const domain = at < 0 ? "" : address.slice(at + 1).replace(/[>\s].*$/, "")
  return /^[A-Za-z0-9.-]+$/.test(domain) ? domain.toLowerCase() : "localhost"
}

/** A fresh Message-ID of ours for a mail of `conversationId`; time from Clock, nonce from Random. */
export const makeMessageId = (conversationId: ConversationId, domain: string): Effect.Effect<string> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const nonce = yield* Random.nextIntBetween(0, 2 ** 32)
    return `<airut.${conversationId}.${now}.${nonce.toString(16).padStart(8, "0")}@${domain}>`
  })

/** A Message-ID for a mail outside any conversation (a notice about a mail that never ran). */
export const makeNoticeMessageId = (domain: string): Effect.Effect<string> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const nonce = yield* Random.nextIntBetween(0, 2 ** 32)
    return `<airut-notice.${now}.${nonce.toString(16).padStart(8, "0")}@${domain}>`
  })

const replyPrefixes = /^\s*((re|aw|sv|vs|antw|odp|ynt|r)\s*(\[\d+\])?\s*[:：]\s*)+/i
const anyTag = /\s*\[ID:[0-9a-fA-F]{8}\]\s*/g

/**
 * `Re: [ID:<conv>] <subject>`: earlier reply prefixes (in several languages, with or without a
 * space after the colon) and tags are removed first, so a long thread does not grow its subject.
 */
export const replySubject = (subject: string, conversationId: Option.Option<ConversationId>): string => {
  const bare = subject.replace(anyTag, " ").replace(replyPrefixes, "").replace(anyTag, " ").trim()
  const tag = Option.match(conversationId, { onNone: () => "", onSome: (id) => ` [ID:${id}]` })
  return `Re:${tag}${bare.length === 0 ? "" : ` ${bare}`}`
}
