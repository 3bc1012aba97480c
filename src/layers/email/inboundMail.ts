/**
 * From raw MIME to an `InboundMessage`: parse, screen the sender (From, DMARC, loop
 * protection, allowlist), then extract thread keys, body, attachments and model hint.
 */
import { createHash } from "node:crypto"
import { Data, type DateTime, Effect, Either, Option } from "effect"
import { type AddressObject, type ParsedMail, simpleParser } from "mailparser"
import { sanitizeFileName } from "../../schema/FileName.js"
import type { InboundAttachment, InboundMessage, MessageReceipt } from "../../schema/InboundMessage.js"
import type { RejectionReason } from "../../schema/Rejection.js"
import { dmarcVerdict } from "./authResults.js"
import { htmlBodyText, plainBodyText } from "./body.js"
import {
  automaticMailReason,
  headerValues,
  isAuthorizedSender,
  parseFrom,
  type RawHeader,
  type Sender,
} from "./senderPolicy.js"
import { messageIdsIn, normalizeMessageId, resolveConversationId, threadKeysOf } from "./threading.js"

export class MailUnreadable extends Data.TaggedError("MailUnreadable")<{ readonly cause: unknown }> {}

/** What screening and extraction need from the repository's email settings. */
export interface MailPolicy {
  readonly repoId: string
  /** Our own address (lower-case), from `account.from`. */
  readonly ownAddress: string
  readonly authorizedSenders: ReadonlyArray<string>
  readonly trustedAuthservId: string
  readonly modelAliases: Readonly<Record<string, string>>
}

export interface Mail {
  readonly parsed: ParsedMail
  readonly headers: ReadonlyArray<RawHeader>
}

export const parseMail = (raw: Uint8Array): Effect.Effect<Mail, MailUnreadable> =>
  Effect.tryPromise({
    try: () =>
      simpleParser(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength), {
        skipHtmlToText: true,
        skipTextToHtml: true,
        skipTextLinks: true,
        skipImageLinks: true,
      }),
    catch: (cause) => new MailUnreadable({ cause }),
  }).pipe(
    Effect.map((parsed) => ({
      parsed,
      headers: parsed.headerLines.map((h) => ({
        name: h.key.toLowerCase(),
        value: h.line
          .slice(h.line.indexOf(":") + 1)
          .replace(/\r?\n[ \t]+/g, " ")
          .trim(),
      })),
    })),
  )

/** A refused message: recorded for the dashboard, never answered. */
export interface Refusal {
  readonly reason: RejectionReason
  readonly detail: string
  /** The From address when one could be read, else the raw header (for the record only). */
  readonly sender: string
}

/** The Authentication-Results values of a mail, topmost first. */
export const authenticationResultsOf = (mail: Mail): ReadonlyArray<string> =>
  headerValues(mail.headers, "authentication-results")

/**
 * Decides whether a mail may reach the agent. `authentication` is the DMARC verdict from the
 * receiving server's header (`dmarcVerdict`) or from a local check. Loop protection answers
 * to "unauthorized" with an `automatic mail:` detail: automatic mail is never allowed to start
 * or continue a task, whoever sent it.
 */
export const screen = (
  mail: Mail,
  policy: MailPolicy,
  authentication: Either.Either<void, string>,
): Either.Either<Sender, Refusal> => {
  const from = parseFrom(mail.headers)
  const rawFrom = headerValues(mail.headers, "from").join(", ").slice(0, 200)
  if (Either.isLeft(from))
    return Either.left({ reason: "unauthenticated", detail: from.left, sender: rawFrom })
  const sender = from.right
  if (Either.isLeft(authentication)) {
    return Either.left({
      reason: "unauthenticated",
      detail: `DMARC not passed: ${authentication.left}`,
      sender: sender.address,
    })
  }
  const automatic = automaticMailReason(mail.headers, sender.address, policy.ownAddress)
  if (Option.isSome(automatic)) {
    return Either.left({
      reason: "unauthorized",
      detail: `automatic mail: ${automatic.value}`,
      sender: sender.address,
    })
  }
  if (!isAuthorizedSender(sender.address, policy.authorizedSenders)) {
    return Either.left({
      reason: "unauthorized",
      detail: "sender not in authorized_senders",
      sender: sender.address,
    })
  }
  return Either.right(sender)
}

/** The verdict from the receiving server's Authentication-Results header. */
export const headerAuthentication = (mail: Mail, policy: MailPolicy): Either.Either<void, string> =>
  dmarcVerdict(authenticationResultsOf(mail), policy.trustedAuthservId)

/**
 * The Message-ID, or one made from the content when the mail has none: the store recognises a
 * redelivery by it, so it must be the same every time the same mail is read.
 */
export const channelMessageIdOf = (mail: Mail, raw: Uint8Array): string => {
  const own = Option.fromNullable(mail.parsed.messageId).pipe(Option.flatMap(normalizeMessageId))
  return Option.getOrElse(
    own,
    () => `<${createHash("sha256").update(raw).digest("hex").slice(0, 32)}@no-message-id.airut>`,
  )
}

const addressesOf = (value: AddressObject | Array<AddressObject> | undefined): ReadonlyArray<string> => {
  if (value === undefined) return []
  const objects = Array.isArray(value) ? value : [value]
  return objects.flatMap((o) =>
    o.value.flatMap((a) => (a.address === undefined ? [] : [a.address.toLowerCase()])),
  )
}

/**
 * The model asked for with `local+alias@domain` in To or Cc, where `local@domain` is our own
 * address; mapped through `model_aliases`. An unknown alias gives None (the caller logs it).
 */
export const subaddressOf = (mail: Mail, ownAddress: string): Option.Option<string> => {
  const at = ownAddress.lastIndexOf("@")
  const local = ownAddress.slice(0, at)
  const domain = ownAddress.slice(at + 1)
  for (const address of [...addressesOf(mail.parsed.to), ...addressesOf(mail.parsed.cc)]) {
    const m = /^([^+@]+)\+([^@]+)@(.+)$/.exec(address)
    if (m !== null && m[1] === local && m[3] === domain && m[2] !== undefined)
      return Option.some(m[2].toLowerCase())
  }
  return Option.none()
}

export const attachmentsOf = (mail: Mail): ReadonlyArray<InboundAttachment> =>
  mail.parsed.attachments
    // Inline parts referenced from the HTML (signature logos, pasted images shown in place)
    // are part of the message's look; files the person attached have a name or are marked
    // as attachments. Delivery reports and the like never get here (loop protection).
    .filter((a) => a.contentDisposition === "attachment" || (a.filename !== undefined && a.related !== true))
    .map((a) => ({
      fileName: sanitizeFileName(a.filename ?? "attachment"),
      contentType: a.contentType,
      size: a.content.byteLength,
      content: new Uint8Array(a.content.buffer, a.content.byteOffset, a.content.byteLength),
    }))

/** The new text of the mail: HTML preferred (it marks quotes reliably), else plain text. */
export const bodyOf = (mail: Mail): string => {
  const html = mail.parsed.html
  return typeof html === "string" && html.trim().length > 0
    ? htmlBodyText(html)
    : plainBodyText(mail.parsed.text ?? "")
}

export const threadKeysOfMail = (mail: Mail): ReadonlyArray<string> => {
  const references = mail.parsed.references
  const refs = references === undefined ? [] : Array.isArray(references) ? references : [references]
  return threadKeysOf(messageIdsIn(mail.parsed.inReplyTo ?? ""), messageIdsIn(refs.join(" ")))
}

/** The message for the gateway, once `screen` accepted `sender`. */
export const toInboundMessage = (input: {
  readonly mail: Mail
  readonly sender: Sender
  readonly policy: MailPolicy
  readonly channelMessageId: string
  readonly receipt: MessageReceipt
  readonly receivedAt: DateTime.Utc
}): InboundMessage => {
  const { mail, policy, sender } = input
  const subject = (mail.parsed.subject ?? "").trim()
  const threadKeys = threadKeysOfMail(mail)
  const fromName = mail.parsed.from?.value[0]?.name?.trim() ?? ""
  const alias = subaddressOf(mail, policy.ownAddress)
  return {
    channel: "email",
    repoId: policy.repoId,
    channelMessageId: input.channelMessageId,
    sender: sender.address,
    senderName: fromName.length > 0 ? fromName : Option.getOrElse(sender.name, () => sender.address),
    subject,
    body: bodyOf(mail),
    threadKeys,
    conversationId: resolveConversationId(threadKeys, subject),
    attachments: attachmentsOf(mail),
    modelHint: Option.flatMap(alias, (a) => Option.fromNullable(policy.modelAliases[a])),
    receivedAt: input.receivedAt,
    receipt: input.receipt,
  }
}
