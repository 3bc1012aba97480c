/**
 * The email channel of one repository: IMAP in (imapflow), SMTP out (nodemailer).
 *
 * At least once: a message is flagged `$AirutTaken` when it is picked up and leaves the inbox
 * (deleted, or moved to `processed_folder`) only when the gateway acknowledges it, after the
 * store recorded it. A crash in between leaves it in the inbox; the next start emits it again
 * and the store recognises its Message-ID. Within one run a message is emitted once.
 *
 * Screening happens here, where the raw headers are: one strict From, DMARC from the trusted
 * Authentication-Results header (or a local check), loop protection, the allowlist. Refused
 * mail is recorded with `ConversationStore.recordRejection`, removed and never answered.
 */
import {
  DateTime,
  Duration,
  Effect,
  Either,
  HashMap,
  HashSet,
  Layer,
  Option,
  Queue,
  Ref,
  type Scope,
  Stream,
  SubscriptionRef,
} from "effect"
import type { DnsResolver } from "mailauth"
import type Mail from "nodemailer/lib/mailer/index.js"
import { readOutboxFile } from "../programs/attachments.js"
import type { ChannelHealth } from "../schema/ChannelHealth.js"
import type { ReplyContent, ReplyTarget, SentReply } from "../schema/ChannelReply.js"
import type { ConversationId } from "../schema/ConversationId.js"
import type { SafeFileName } from "../schema/FileName.js"
import type { InboundMessage, MessageReceipt } from "../schema/InboundMessage.js"
import type { EmailConfig } from "../schema/ServerConfig.js"
import {
  Channel,
  ChannelError,
  ChannelSendFailed,
  type ChannelShape,
  type StartedNotice,
} from "../services/Channel.js"
import { ConversationStore } from "../services/ConversationStore.js"
import { type ImapConnection, type ImapFailure, runImapLoop } from "./email/imapSession.js"
import {
  channelMessageIdOf,
  headerAuthentication,
  type MailPolicy,
  type Mail as ParsedMailData,
  parseMail,
  screen,
  subaddressOf,
  toInboundMessage,
} from "./email/inboundMail.js"
import { verifyLocally } from "./email/localAuth.js"
import { renderBodies } from "./email/render.js"
import { addressOf } from "./email/senderPolicy.js"
import { makeSmtpSender } from "./email/smtp.js"
import { domainOf, makeMessageId, makeNoticeMessageId, replySubject } from "./email/threading.js"

export const takenFlag = "$AirutTaken"
export const unreadableFlag = "$AirutUnreadable"

export interface EmailChannelOptions {
  readonly repoId: string
  readonly config: EmailConfig
  /** Extra CA certificates (PEM) trusted for IMAP and SMTP besides the system's. */
  readonly trustedCa?: string
  /** First IMAP reconnect delay (default 10 s); then ×3 per attempt up to `reconnectCap` (default 5 min). */
  readonly reconnectBase?: Duration.DurationInput
  readonly reconnectCap?: Duration.DurationInput
  /** First SMTP retry delay of a temporary failure (default 2 s, doubling, 3 retries). */
  readonly sendRetryBase?: Duration.DurationInput
  /** DNS for `auth.verify_locally` (default: the system resolver). */
  readonly dnsResolver?: DnsResolver
}

const megabytes = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MB`

/** A plain-words sentence for a mail over the size limit; the sender is authorized. */
export const tooLargeText = (size: number, limit: number) =>
  [
    `Your message was not processed: it is ${megabytes(size)}, and this address accepts at most ${megabytes(limit)} including attachments.`,
    "",
    "Please send it again with fewer or smaller attachments, or share large files through a link the task can reach.",
  ].join("\n")

export const startedText = (notice: StartedNotice) =>
  Option.match(notice.dashboardUrl, {
    onNone: () => "I've started working on this and will reply when I'm done.",
    onSome: (url) =>
      `I've started working on this and will reply when I'm done. You can follow along at ${url}`,
  })

/** A reply target whose conversation may be unknown (a notice about a mail that never ran). */
interface MailTarget extends Omit<ReplyTarget, "conversationId"> {
  readonly conversationId: Option.Option<ConversationId>
}

const mailTargetOf = (target: ReplyTarget): MailTarget => ({
  ...target,
  conversationId: Option.some(target.conversationId),
})

const receiptKey = (uidValidity: string, uid: number) => `${uidValidity}:${uid}`

const parseReceiptKey = (
  key: string,
): Option.Option<{ readonly uidValidity: string; readonly uid: number }> => {
  const m = /^(\d+):(\d+)$/.exec(key)
  return m?.[1] === undefined || m[2] === undefined
    ? Option.none()
    : Option.some({ uidValidity: m[1], uid: Number(m[2]) })
}

export const makeEmailChannel = (
  options: EmailChannelOptions,
): Effect.Effect<ChannelShape, never, Scope.Scope | ConversationStore> =>
  Effect.gen(function* () {
    const { config, repoId } = options
    const store = yield* ConversationStore
    const ownAddress = Option.getOrElse(addressOf(config.account.from), () =>
      config.account.username.toLowerCase(),
    )
    const domain = domainOf(ownAddress)
    const policy: MailPolicy = {
      repoId,
      ownAddress,
      authorizedSenders: config.auth.authorized_senders,
      trustedAuthservId: config.auth.trusted_authserv_id,
      modelAliases: config.model_aliases,
    }
    const processedFolder = Option.fromNullable(config.processed_folder)

    const health = yield* SubscriptionRef.make<ChannelHealth>({ _tag: "Starting" })
    const inbox = yield* Queue.bounded<InboundMessage>(8)
    yield* Effect.addFinalizer(() => Queue.shutdown(inbox))
    const wake = yield* Queue.sliding<void>(1)
    /** Picked up in this run and not yet gone from the inbox: never emitted twice. */
    const inFlight = yield* Ref.make(HashSet.empty<string>())
    /** Receipt keys to remove from the inbox at the next chance. */
    const toSettle = yield* Ref.make(HashSet.empty<string>())
    /** Send times per recipient within the last hour (rate limit). */
    const sent = yield* Ref.make(HashMap.empty<string, ReadonlyArray<number>>())

    const smtp = yield* makeSmtpSender({
      repoId,
      config,
      trustedCa: options.trustedCa,
      retryBase: options.sendRetryBase ?? "2 seconds",
    })

    const sendFailed = (reason: ChannelSendFailed["reason"], detail: string) =>
      new ChannelSendFailed({ channel: "email", repoId, reason, detail })

    const checkRate = (recipient: string) =>
      Effect.gen(function* () {
        const now = yield* DateTime.now
        const nowMs = DateTime.toEpochMillis(now)
        const hourAgo = nowMs - 3_600_000
        const allowed = yield* Ref.modify(sent, (m) => {
          const recent = Option.getOrElse(HashMap.get(m, recipient), () => []).filter((t) => t > hourAgo)
          return recent.length >= config.max_replies_per_hour
            ? [false, HashMap.set(m, recipient, recent)]
            : [true, HashMap.set(m, recipient, [...recent, nowMs])]
        })
        if (!allowed) {
          return yield* sendFailed(
            "rate_limited",
            `already ${config.max_replies_per_hour} mails to ${recipient} in the last hour (max_replies_per_hour)`,
          )
        }
      })

    /** Reads outbox files within what is left of the size budget; the rest is listed as unattached. */
    const collectAttachments = (content: ReplyContent) =>
      Effect.gen(function* () {
        let budget = config.max_message_bytes
        const attached: Array<Mail.Attachment> = []
        const unattached: Array<{ readonly name: SafeFileName; readonly why: string }> = []
        for (const file of content.outboxFiles) {
          const read = yield* Effect.either(readOutboxFile(file, budget))
          if (Either.isRight(read)) {
            budget -= read.right.byteLength
            attached.push({ filename: file.fileName, content: Buffer.from(read.right) })
          } else {
            yield* Effect.logWarning(`outbox file ${file.fileName} not attached`, read.left.cause)
            unattached.push({ name: file.fileName, why: "unreadable or over the size limit" })
          }
        }
        return { attached, unattached }
      })

    const sendMail = (
      target: MailTarget,
      markdown: string,
      footer: string | undefined,
      attachments: ReadonlyArray<Mail.Attachment>,
    ) =>
      Effect.gen(function* () {
        if (addressOf(target.recipient)._tag === "None") {
          return yield* sendFailed("invalid", `not an email address: ${target.recipient}`)
        }
        yield* checkRate(target.recipient.toLowerCase())
        const messageId = yield* Option.match(target.conversationId, {
          onNone: () => makeNoticeMessageId(domain),
          onSome: (id) => makeMessageId(id, domain),
        })
        const { html, text } = renderBodies(markdown, footer)
        const inReplyTo = Option.getOrUndefined(target.inReplyTo)
        const subject = Option.isSome(target.inReplyTo)
          ? replySubject(target.subject, target.conversationId)
          : Option.match(target.conversationId, {
              onNone: () => target.subject,
              onSome: (id) => `[ID:${id}] ${target.subject}`.trim(),
            })
        yield* smtp.send({
          from: config.account.from,
          to: target.recipient,
          subject,
          messageId,
          ...(inReplyTo === undefined ? {} : { inReplyTo }),
          ...(target.references.length === 0 ? {} : { references: [...target.references] }),
          text,
          html,
          attachments: [...attachments],
          headers: {
            // RFC 3834: this mail answers another one automatically; well-behaved
            // auto-responders and other bots do not answer it, which stops loops.
            "Auto-Submitted": "auto-replied",
            "X-Auto-Response-Suppress": "All",
          },
        })
        return messageId
      })

    const reply = (target: ReplyTarget, content: ReplyContent) =>
      Effect.gen(function* () {
        const { attached, unattached } = yield* collectAttachments(content)
        const note =
          unattached.length === 0
            ? ""
            : `\n\n*Not attached: ${unattached.map((u) => `${u.name} (${u.why})`).join(", ")}.*`
        const messageId = yield* sendMail(
          mailTargetOf(target),
          `${content.text}${note}`,
          Option.getOrUndefined(content.footer),
          attached,
        )
        const result: SentReply = { messageId, unattached: unattached.map((u) => u.name) }
        return result
      }).pipe(Effect.withSpan("EmailChannel.reply"))

    const replyError = (target: ReplyTarget, text: string) =>
      sendMail(mailTargetOf(target), text, undefined, []).pipe(
        Effect.map((messageId): SentReply => ({ messageId, unattached: [] })),
        Effect.withSpan("EmailChannel.replyError"),
      )

    const notifyStarted = (target: ReplyTarget, notice: StartedNotice) =>
      sendMail(mailTargetOf(target), startedText(notice), undefined, []).pipe(
        Effect.map((messageId): SentReply => ({ messageId, unattached: [] })),
        Effect.withSpan("EmailChannel.notifyStarted"),
      )

    // --- inbound ---

    const markSettled = (key: string) =>
      Effect.zipRight(Ref.update(inFlight, HashSet.add(key)), Ref.update(toSettle, HashSet.add(key))).pipe(
        Effect.zipRight(Queue.offer(wake, undefined)),
      )

    /** Removes acknowledged messages from the inbox; keys of an older UIDVALIDITY are dropped. */
    const settlePending = (connection: ImapConnection) =>
      Effect.gen(function* () {
        const keys = HashSet.toValues(yield* Ref.get(toSettle))
        if (keys.length === 0) return
        const current: Array<number> = []
        for (const key of keys) {
          const parsed = parseReceiptKey(key)
          if (Option.isSome(parsed) && parsed.value.uidValidity === connection.uidValidity) {
            current.push(parsed.value.uid)
          } else {
            // The mailbox was recreated: the uid means nothing now. The message, if it still
            // exists, comes back after a restart and the store recognises it.
            yield* Effect.logWarning(`email channel: cannot settle ${key}: the mailbox changed (UIDVALIDITY)`)
          }
        }
        yield* connection.settle(current, processedFolder)
        yield* Ref.update(toSettle, (s) => keys.reduce((acc, k) => HashSet.remove(acc, k), s))
        yield* Ref.update(inFlight, (s) => keys.reduce((acc, k) => HashSet.remove(acc, k), s))
      })

    const authenticationOf = (mail: ParsedMailData, raw: Uint8Array, complete: boolean) =>
      config.auth.verify_locally
        ? complete
          ? verifyLocally(raw, config.auth.trusted_authserv_id, options.dnsResolver)
          : Effect.succeed(Either.left("message too large to verify locally"))
        : Effect.succeed(headerAuthentication(mail, policy))

    const pickUp = (connection: ImapConnection, uid: number) =>
      Effect.gen(function* () {
        const key = receiptKey(connection.uidValidity, uid)
        const meta = yield* connection.fetchMeta(uid)
        if (Option.isNone(meta)) return
        const complete = meta.value.size <= config.max_message_bytes
        const raw = yield* connection.fetchRaw(uid, complete ? "source" : "headers")
        if (Option.isNone(raw)) return
        if (meta.value.flags.has(takenFlag)) {
          yield* Effect.logInfo(
            `email channel: message ${key} was taken before but not settled; delivering it again`,
          )
        } else {
          yield* connection.addFlag(uid, takenFlag)
        }
        const parsed = yield* Effect.either(parseMail(raw.value))
        if (Either.isLeft(parsed)) {
          yield* Effect.logWarning(
            `email channel: message ${key} cannot be parsed; flagged ${unreadableFlag} and left in the inbox`,
            parsed.left.cause,
          )
          yield* connection.addFlag(uid, unreadableFlag)
          return
        }
        const mail = parsed.right
        const channelMessageId = channelMessageIdOf(mail, raw.value)
        const authentication = yield* authenticationOf(mail, raw.value, complete)
        const screened = screen(mail, policy, authentication)
        if (Either.isLeft(screened)) {
          const refusal = screened.left
          yield* store.recordRejection({
            channel: "email",
            repoId,
            sender: refusal.sender,
            reason: refusal.reason,
            detail: refusal.detail,
            channelMessageId,
          })
          yield* Effect.logInfo(
            `email channel: refused ${channelMessageId} from ${refusal.sender}: ${refusal.reason}, ${refusal.detail}`,
          )
          yield* markSettled(key)
          return
        }
        const sender = screened.right
        if (!complete) {
          yield* Effect.logInfo(
            `email channel: ${channelMessageId} from ${sender.address} is ${meta.value.size} bytes, over max_message_bytes`,
          )
          const inbound = toInboundMessage({
            mail,
            sender,
            policy,
            channelMessageId,
            receipt: { channel: "email", repoId, key },
            receivedAt: yield* DateTime.now,
          })
          yield* sendMail(
            {
              conversationId: inbound.conversationId,
              recipient: sender.address,
              subject: inbound.subject,
              inReplyTo: Option.some(channelMessageId),
              references: [...[...inbound.threadKeys].reverse(), channelMessageId],
            },
            tooLargeText(meta.value.size, config.max_message_bytes),
            undefined,
            [],
          ).pipe(
            // Only a server that may come back is worth waiting for; a refused or rate-limited
            // note is dropped with the mail (logged), or the mail would be retried forever.
            Effect.catchIf(
              (e) => e.reason !== "unreachable",
              (e) => Effect.logWarning(`email channel: size note to ${sender.address} not sent`, e),
            ),
          )
          yield* markSettled(key)
          return
        }
        const receivedAt = Option.match(meta.value.internalDate, {
          onNone: () => DateTime.now,
          onSome: (d) => Effect.succeed(DateTime.unsafeMake(d)),
        })
        const message = toInboundMessage({
          mail,
          sender,
          policy,
          channelMessageId,
          receipt: { channel: "email", repoId, key },
          receivedAt: yield* receivedAt,
        })
        const alias = subaddressOf(mail, ownAddress)
        if (Option.isSome(alias) && Option.isNone(message.modelHint)) {
          yield* Effect.logInfo(
            `email channel: ignoring unknown model alias "+${alias.value}" (not in model_aliases)`,
          )
        }
        yield* Ref.update(inFlight, HashSet.add(key))
        // The offer waits while the gateway is busy; if the connection is lost meanwhile the
        // message was not emitted, so the next connection must pick it up again.
        yield* Queue.offer(inbox, message).pipe(
          Effect.onInterrupt(() => Ref.update(inFlight, HashSet.remove(key))),
        )
      }).pipe(Effect.withSpan("EmailChannel.pickUp", { attributes: { uid } }))

    const scan = (connection: ImapConnection) =>
      Effect.gen(function* () {
        yield* settlePending(connection)
        const uids = yield* connection.searchUids(unreadableFlag)
        const busy = yield* Ref.get(inFlight)
        for (const uid of uids) {
          if (HashSet.has(busy, receiptKey(connection.uidValidity, uid))) continue
          yield* pickUp(connection, uid).pipe(
            // A store or SMTP failure leaves the message where it is; the next scan tries again.
            Effect.catchTags({
              StoreError: (e) => Effect.logError(`email channel: recording a refusal failed; will retry`, e),
              ChannelSendFailed: (e) => Effect.logError(`email channel: size notice not sent; will retry`, e),
            }),
          )
        }
      })

    const session = (connection: ImapConnection): Effect.Effect<void, ImapFailure> =>
      Effect.gen(function* () {
        const renewAt = DateTime.addDuration(
          yield* DateTime.now,
          Duration.seconds(config.imap.idle_reconnect_interval),
        )
        const pollInterval = Duration.seconds(config.imap.poll_interval)
        while (true) {
          yield* scan(connection)
          const now = yield* DateTime.now
          if (DateTime.lessThanOrEqualTo(renewAt, now)) return
          const outcome = yield* connection.waitForChange(
            wake,
            config.imap.use_idle ? Option.none() : Option.some(pollInterval),
            pollInterval,
            DateTime.distanceDuration(now, renewAt),
          )
          if (outcome === "renew") return
        }
      })

    yield* runImapLoop({
      settings: {
        config,
        trustedCa: options.trustedCa,
        reconnectBase: options.reconnectBase ?? "10 seconds",
        reconnectCap: options.reconnectCap ?? "5 minutes",
      },
      health,
      wake,
      session,
    }).pipe(Effect.forkScoped)

    const acknowledge = (receipt: MessageReceipt) =>
      receipt.channel !== "email" || receipt.repoId !== repoId || Option.isNone(parseReceiptKey(receipt.key))
        ? Effect.fail(
            new ChannelError({
              channel: "email",
              repoId,
              detail: `not a receipt of this channel: ${receipt.key}`,
            }),
          )
        : markSettled(receipt.key)

    return Channel.of({
      kind: "email",
      repoId,
      // One message per pull: a consumer that stops after a message (Stream.runHead, take)
      // must not take the rest of a batch out of the queue with it and drop them.
      inbound: Stream.fromQueue(inbox, { maxChunkSize: 1 }),
      acknowledge,
      reply,
      replyError,
      notifyStarted,
      // A sent email cannot change; the person hears back when the task is done.
      progress: () => Effect.void,
      health: SubscriptionRef.get(health),
      healthChanges: health.changes,
    })
  })

/** The email channel as the `Channel` of a program serving one repository. */
export const EmailChannelLive = (options: EmailChannelOptions) =>
  Layer.scoped(Channel, makeEmailChannel(options))
