/**
 * The Slack channel of one repository: one Slack app (bot token + app-level token), events
 * over Socket Mode (`@slack/socket-mode`), answers through the Web API (`@slack/web-api`).
 *
 * Surfaces: direct messages with the app (its assistant view or messages tab), and channels
 * where the bot is mentioned; once a thread is a conversation, every message of it is
 * engaged without a new mention. `allowed_channels` limits channels (never DMs).
 *
 * At least once: an event envelope is acknowledged to Slack only when the gateway has
 * recorded the message (`acknowledge`). Until then Slack delivers it again (its retries), and
 * a restart sees it again; the store recognises the key. The same message arriving twice in
 * one run (`message` and `app_mention` for one post, a retry) is emitted once.
 *
 * Every key is `channel:threadTs:ts`, so a reply target names its thread by itself.
 */
import { SocketModeClient } from "@slack/socket-mode"
import { type Logger, LogLevel, WebClient } from "@slack/web-api"
import {
  DateTime,
  Deferred,
  Duration,
  Effect,
  Either,
  FiberSet,
  HashMap,
  Layer,
  Option,
  Queue,
  Redacted,
  Ref,
  type Scope,
  Stream,
  SubscriptionRef,
} from "effect"
import { readOutboxFile } from "../programs/attachments.js"
import type { ChannelHealth } from "../schema/ChannelHealth.js"
import type { ReplyContent, ReplyTarget, SentReply } from "../schema/ChannelReply.js"
import { sanitizeFileName } from "../schema/FileName.js"
import type { InboundAttachment, InboundMessage, MessageReceipt } from "../schema/InboundMessage.js"
import type { SlackConfig } from "../schema/ServerConfig.js"
import type { TaskProgress } from "../schema/TaskProgress.js"
import {
  Channel,
  ChannelError,
  ChannelSendFailed,
  type ChannelShape,
  type StartedNotice,
} from "../services/Channel.js"
import { ConversationStore } from "../services/ConversationStore.js"
import { apiUrlOf, call, callPatiently, type SlackApiError } from "./slack/api.js"
import { type Authorizer, makeAuthorizer, type SlackDirectory, type SlackUser } from "./slack/authorize.js"
import {
  type AssistantThreadStarted,
  decodeEvent,
  ignoredBecause,
  isDirect,
  type MessageEvent,
  mentions,
  messageKey,
  messageKeyOf,
  parseKey,
  type SlackFile,
  type ThreadRef,
  threadKeyOf,
} from "./slack/events.js"
import { makeLiveThreads } from "./slack/liveThreads.js"
import { toMrkdwn, toMrkdwnBlocks } from "./slack/mrkdwn.js"
import { splitMessage } from "./slack/split.js"
import { mentionedUsers, modelRequest, plainText } from "./slack/text.js"

export interface SlackChannelOptions {
  readonly repoId: string
  readonly config: SlackConfig
  /**
   * Socket Mode's ping timeout, which is also its reconnect step (the n-th attempt in a row
   * waits n times this). Default 5 s.
   */
  readonly reconnectStep?: Duration.DurationInput
  /** Least time between two live status updates of a thread (default 3 s). */
  readonly statusInterval?: Duration.DurationInput
  /** Largest file taken from or sent to Slack (default 100 MiB). */
  readonly maxFileBytes?: number
}

/** More messages than this and the answer goes as a file. */
export const maxChunks = 5

export const startedText = (notice: StartedNotice): string =>
  Option.match(notice.dashboardUrl, {
    onNone: () => "I've started working on this and will reply here when I'm done.",
    onSome: (url) =>
      `I've started working on this and will reply here when I'm done. Progress: <${url}|dashboard>`,
  })

export const greetingText = (repoId: string): string =>
  `Hi! I work on the \`${repoId}\` repository. Tell me what to do here, and I'll answer in this thread when it's done.`

/** Where envelopes of one message stand in this run. */
type Seen =
  | { readonly _tag: "Pending"; readonly acks: ReadonlyArray<Effect.Effect<void>> }
  | { readonly _tag: "Settled" }

/** At most this many message keys are remembered for deduplication. */
const seenCapacity = 1024

const slackHosts = new Set(["files.slack.com", "slack.com"])

export const makeSlackChannel = (
  options: SlackChannelOptions,
): Effect.Effect<ChannelShape, never, Scope.Scope | ConversationStore> =>
  Effect.gen(function* () {
    const { config, repoId } = options
    const store = yield* ConversationStore
    const apiUrl = apiUrlOf(config.api_url)
    const apiOrigin = new URL(apiUrl).origin
    const maxFileBytes = options.maxFileBytes ?? 100 * 1024 * 1024
    const botToken = Redacted.value(config.bot_token)
    const run = yield* FiberSet.makeRuntime<never>()

    // The libraries log through this; debug chatter (which echoes payloads) is dropped.
    const logger: Logger = {
      debug: () => {},
      info: () => {},
      warn: (...msg) => void run(Effect.logWarning(`slack client: ${msg.map(String).join(" ")}`)),
      error: (...msg) => void run(Effect.logWarning(`slack client: ${msg.map(String).join(" ")}`)),
      setLevel: () => {},
      getLevel: () => LogLevel.WARN,
      setName: () => {},
    }
    const web = new WebClient(botToken, {
      slackApiUrl: apiUrl,
      logger,
      // Rate limits and retries are handled in Effect (`callPatiently`), on the Effect clock.
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
      timeout: 30_000,
    })

    const health = yield* SubscriptionRef.make<ChannelHealth>({ _tag: "Starting" })
    const inbox = yield* Queue.bounded<InboundMessage>(8)
    yield* Effect.addFinalizer(() => Queue.shutdown(inbox))
    const seen = yield* Ref.make({
      order: [] as ReadonlyArray<string>,
      entries: HashMap.empty<string, Seen>(),
    })
    const identity = yield* Deferred.make<{ readonly botUserId: string; readonly teamId: string }>()

    const sendFailed = (error: SlackApiError) =>
      new ChannelSendFailed({
        channel: "slack",
        repoId,
        reason: error.kind === "platform" ? "refused" : "unreachable",
        detail: error.message,
        cause: error,
      })

    // --- authorization ---

    const directory: SlackDirectory = {
      userInfo: (id) =>
        callPatiently("users.info", () => web.users.info({ user: id })).pipe(
          Effect.map(
            (r): SlackUser => ({
              id,
              teamId: r.user?.team_id ?? "",
              name: r.user?.profile?.display_name || r.user?.real_name || r.user?.name || id,
              deleted: r.user?.deleted === true,
              isBot: r.user?.is_bot === true || r.user?.is_app_user === true,
              isGuest: r.user?.is_restricted === true || r.user?.is_ultra_restricted === true,
            }),
          ),
        ),
      groupIdOf: (handle) =>
        callPatiently("usergroups.list", () => web.usergroups.list({})).pipe(
          Effect.map((r) =>
            Option.fromNullable((r.usergroups ?? []).find((g) => g.handle === handle.replace(/^@/, ""))?.id),
          ),
        ),
      groupMembers: (groupId) =>
        callPatiently("usergroups.users.list", () => web.usergroups.users.list({ usergroup: groupId })).pipe(
          Effect.map((r) => r.users ?? []),
        ),
    }
    const authorizer = yield* Effect.cached(
      Effect.flatMap(Deferred.await(identity), ({ teamId }) =>
        makeAuthorizer({ rules: config.authorized, teamId, directory }),
      ),
    )
    const checkSender = (userId: string) => Effect.flatMap(authorizer, (a: Authorizer) => a.check(userId))

    // --- deduplication ---

    const seenState = (key: string) => Effect.map(Ref.get(seen), (s) => HashMap.get(s.entries, key))
    const setSeen = (key: string, state: Seen) =>
      Ref.update(seen, (s) => {
        const known = HashMap.has(s.entries, key)
        const order = known ? s.order : [...s.order, key]
        const overflow = order.length - seenCapacity
        const dropped = overflow > 0 ? order.slice(0, overflow) : []
        return {
          order: overflow > 0 ? order.slice(overflow) : order,
          entries: dropped.reduce((m, k) => HashMap.remove(m, k), HashMap.set(s.entries, key, state)),
        }
      })
    const forget = (key: string) =>
      Ref.update(seen, (s) => ({
        order: s.order.filter((k) => k !== key),
        entries: HashMap.remove(s.entries, key),
      }))
    /** Settles a message: every envelope that carried it is acknowledged to Slack. */
    const settle = (key: string) =>
      Effect.gen(function* () {
        const state = yield* seenState(key)
        yield* setSeen(key, { _tag: "Settled" })
        if (Option.isSome(state) && state.value._tag === "Pending") {
          yield* Effect.all(state.value.acks, { discard: true })
        }
      })

    // --- inbound ---

    const fileAllowed = (url: string): boolean => {
      const parsed = URL.canParse(url) ? new URL(url) : undefined
      if (parsed === undefined) return false
      return (parsed.protocol === "https:" && slackHosts.has(parsed.hostname)) || parsed.origin === apiOrigin
    }

    /** Downloads a shared file with the bot token; a note instead when it cannot be taken. */
    const download = (file: SlackFile): Effect.Effect<Either.Either<InboundAttachment, string>> => {
      const name = file.name ?? file.id
      const url = file.url_private_download ?? file.url_private
      if (url === undefined || !fileAllowed(url))
        return Effect.succeed(Either.left(`${name} (no download link)`))
      if ((file.size ?? 0) > maxFileBytes) return Effect.succeed(Either.left(`${name} (too large)`))
      return Effect.tryPromise({
        try: async (signal) => {
          const response = await fetch(url, { headers: { Authorization: `Bearer ${botToken}` }, signal })
          if (!response.ok) throw new Error(`HTTP ${response.status}`)
          const content = new Uint8Array(await response.arrayBuffer())
          if (content.byteLength > maxFileBytes) throw new Error("too large")
          return content
        },
        catch: (cause) => (cause instanceof Error ? cause.message : String(cause)),
      }).pipe(
        Effect.map(
          (content): Either.Either<InboundAttachment, string> =>
            Either.right({
              fileName: sanitizeFileName(name),
              contentType: file.mimetype ?? "application/octet-stream",
              size: content.byteLength,
              content,
            }),
        ),
        Effect.catchAll((why) =>
          Effect.as(
            Effect.logWarning(`slack: file ${name} not downloaded: ${why}`),
            Either.left(`${name} (${why})`),
          ),
        ),
      )
    }

    const namesOf = (text: string) =>
      Effect.forEach(mentionedUsers(text), (id) =>
        checkNameOf(id).pipe(Effect.map((name) => [id, name] as const)),
      ).pipe(Effect.map((pairs) => new Map(pairs)))
    const checkNameOf = (id: string) =>
      directory.userInfo(id).pipe(
        Effect.map((u) => u.name),
        Effect.orElseSucceed(() => id),
      )

    const toInbound = (event: MessageEvent, user: SlackUser, botUserId: string) =>
      Effect.gen(function* () {
        const key = messageKeyOf(event)
        const names = yield* namesOf(event.text)
        const request = modelRequest(plainText(event.text, botUserId, names), config.model_aliases ?? {})
        const files = yield* Effect.forEach(event.files, download, { concurrency: 2 })
        const skipped = files.flatMap((f) => (Either.isLeft(f) ? [f.left] : []))
        const note = skipped.length === 0 ? "" : `\n\n[files not attached: ${skipped.join(", ")}]`
        const seconds = Number(event.ts)
        const message: InboundMessage = {
          channel: "slack",
          repoId,
          channelMessageId: key,
          sender: user.id,
          senderName: user.name,
          subject: "",
          body: `${request.text}${note}`,
          threadKeys: [threadKeyOf(event)],
          conversationId: Option.none(),
          attachments: files.flatMap((f) => (Either.isRight(f) ? [f.right] : [])),
          modelHint: request.model,
          receivedAt: Number.isFinite(seconds) ? DateTime.unsafeMake(seconds * 1000) : yield* DateTime.now,
          receipt: { channel: "slack", repoId, key },
        }
        return message
      })

    /** Whether a channel message is for us: a mention, or a thread that is a conversation. */
    const engaged = (event: MessageEvent, botUserId: string) =>
      isDirect(event) || event.type === "app_mention" || mentions(event.text, botUserId)
        ? Effect.succeed(true)
        : event.thread_ts === undefined
          ? Effect.succeed(false)
          : store
              .findByThreadKey({ channel: "slack", repoId, keys: [threadKeyOf(event)] })
              .pipe(Effect.map(Option.isSome))

    const handleMessage = (event: MessageEvent, ack: Effect.Effect<void>) =>
      Effect.gen(function* () {
        const { botUserId } = yield* Deferred.await(identity)
        const ignored = ignoredBecause(event, botUserId)
        if (Option.isSome(ignored)) return yield* ack
        if (
          !isDirect(event) &&
          config.allowed_channels.length > 0 &&
          !config.allowed_channels.includes(event.channel)
        ) {
          return yield* ack
        }
        const key = messageKeyOf(event)
        const state = yield* seenState(key)
        if (Option.isSome(state)) {
          // A second delivery: settle it with the first.
          if (state.value._tag === "Settled") return yield* ack
          const acks = [...state.value.acks, ack]
          return yield* setSeen(key, { _tag: "Pending", acks })
        }
        if (!(yield* engaged(event, botUserId))) return yield* ack
        yield* setSeen(key, { _tag: "Pending", acks: [ack] })
        const userId = event.user ?? ""
        const verdict = yield* checkSender(userId)
        if (Either.isLeft(verdict)) {
          yield* store.recordRejection({
            channel: "slack",
            repoId,
            sender: userId,
            reason: "unauthorized",
            detail: verdict.left.detail,
            channelMessageId: key,
          })
          yield* Effect.logInfo(`slack: refused ${key} from ${userId}: ${verdict.left.detail}`)
          return yield* settle(key)
        }
        const message = yield* toInbound(event, verdict.right, botUserId)
        yield* Queue.offer(inbox, message)
      }).pipe(
        Effect.catchTags({
          // Not acknowledged: Slack delivers the event again, and it is looked at afresh.
          SlackApiError: (e) =>
            Effect.zipRight(
              forget(messageKeyOf(event)),
              Effect.logError(
                `slack: could not check ${messageKeyOf(event)}; Slack will deliver it again`,
                e,
              ),
            ),
          StoreError: (e) =>
            Effect.zipRight(
              forget(messageKeyOf(event)),
              Effect.logError(
                `slack: the store failed on ${messageKeyOf(event)}; Slack will deliver it again`,
                e,
              ),
            ),
        }),
        Effect.withSpan("SlackChannel.handleMessage"),
      )

    /** A new assistant thread gets a greeting, so the person knows what the app works on. */
    const greet = (event: AssistantThreadStarted) =>
      call("chat.postMessage", () =>
        web.chat.postMessage({
          channel: event.assistant_thread.channel_id,
          thread_ts: event.assistant_thread.thread_ts,
          text: greetingText(repoId),
        }),
      ).pipe(Effect.catchAll((e) => Effect.logWarning(`slack: greeting not sent: ${e.message}`)))

    const envelopes = yield* Queue.unbounded<{ readonly event: unknown; readonly ack: Effect.Effect<void> }>()
    yield* Effect.addFinalizer(() => Queue.shutdown(envelopes))
    // One at a time, in arrival order: two messages of a thread are taken in as sent.
    yield* Queue.take(envelopes).pipe(
      Effect.flatMap(({ event, ack }) =>
        Option.match(decodeEvent(event), {
          onNone: () => ack,
          onSome: (decoded) =>
            decoded.type === "assistant_thread_started"
              ? Effect.zipRight(ack, greet(decoded))
              : handleMessage(decoded, ack),
        }),
      ),
      Effect.forever,
      Effect.forkScoped,
    )

    // --- connection ---

    const socket = new SocketModeClient({
      appToken: Redacted.value(config.app_token),
      logger,
      clientPingTimeout: Duration.toMillis(options.reconnectStep ?? "5 seconds"),
      clientOptions: { slackApiUrl: apiUrl },
    })
    const setHealth = (h: ChannelHealth) => void run(SubscriptionRef.set(health, h))
    socket.on("connected", () => setHealth({ _tag: "Connected" }))
    socket.on("reconnecting", () =>
      setHealth({ _tag: "Degraded", reason: "Socket Mode connection lost; reconnecting" }),
    )
    socket.on("disconnected", () => setHealth({ _tag: "Degraded", reason: "Socket Mode disconnected" }))
    socket.on(
      "slack_event",
      (args: { readonly ack: () => Promise<void>; readonly type: string; readonly body: unknown }) => {
        const ack = call("socket ack", () => args.ack()).pipe(
          Effect.catchAll((e) =>
            Effect.logWarning(`slack: an event acknowledgement was not sent: ${e.message}`),
          ),
        )
        const event =
          args.type === "events_api" && typeof args.body === "object" && args.body !== null
            ? Reflect.get(args.body, "event")
            : undefined
        void run(Queue.offer(envelopes, { event, ack }))
      },
    )

    const connect = Effect.gen(function* () {
      const who = yield* callPatiently("auth.test", () => web.auth.test(), 1_000)
      if (who.user_id === undefined || who.team_id === undefined) {
        return yield* Effect.logError("slack: auth.test named no bot user or team")
      }
      yield* Deferred.succeed(identity, { botUserId: who.user_id, teamId: who.team_id })
      yield* Effect.logInfo(`slack channel of ${repoId}: bot ${who.user_id} in team ${who.team_id}`)
      yield* call("apps.connections.open", () => socket.start())
    }).pipe(
      Effect.catchAll((e) =>
        SubscriptionRef.set(health, { _tag: "Failed", reason: `cannot connect to Slack: ${e.message}` }).pipe(
          Effect.zipRight(Effect.logError(`slack channel of ${repoId} cannot connect`, e)),
        ),
      ),
    )
    yield* Effect.addFinalizer(() =>
      call("disconnect", () => socket.disconnect()).pipe(
        // Finalizers run uninterruptibly: without this the timeout could not end the wait, and
        // the library waits up to 30 s for a close handshake a dead server never sends.
        Effect.interruptible,
        Effect.timeout("5 seconds"),
        Effect.catchAll((e) => Effect.logDebug("slack: disconnect did not finish cleanly", e)),
      ),
    )
    yield* Effect.forkScoped(connect)

    const acknowledge = (receipt: MessageReceipt) =>
      receipt.channel !== "slack" || receipt.repoId !== repoId || Option.isNone(parseKey(receipt.key))
        ? Effect.fail(
            new ChannelError({
              channel: "slack",
              repoId,
              detail: `not a receipt of this channel: ${receipt.key}`,
            }),
          )
        : settle(receipt.key)

    // --- outbound ---

    const threadOf = (target: ReplyTarget): Option.Option<ThreadRef> =>
      Option.orElse(Option.flatMap(target.inReplyTo, parseKey), () =>
        Option.flatMap(Option.fromNullable(target.references[target.references.length - 1]), parseKey),
      )

    const live = yield* makeLiveThreads({ web, interval: options.statusInterval ?? "3 seconds" })
    /** Ends what the target's thread shows while its task runs: the answer is there. */
    const finishLive = (target: ReplyTarget) =>
      Option.match(threadOf(target), { onNone: () => Effect.void, onSome: live.finish })

    /** Posts text in a thread (or starts one in `recipient`); the key of the last message. */
    const post = (target: ReplyTarget, chunks: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        let thread = threadOf(target)
        let last = ""
        for (const text of chunks) {
          const channel = Option.match(thread, { onNone: () => target.recipient, onSome: (t) => t.channel })
          const threadTs = Option.map(thread, (t) => t.threadTs)
          const sent = yield* callPatiently("chat.postMessage", () =>
            web.chat.postMessage({
              channel,
              text,
              ...(Option.isSome(threadTs) ? { thread_ts: threadTs.value } : {}),
              unfurl_links: false,
              unfurl_media: false,
            }),
          ).pipe(Effect.mapError(sendFailed))
          const ts = sent.ts ?? ""
          const threadTsNow = Option.getOrElse(threadTs, () => ts)
          thread = Option.some({ channel: sent.channel ?? channel, threadTs: threadTsNow })
          last = messageKey(sent.channel ?? channel, threadTsNow, ts)
        }
        return { key: last, thread }
      })

    const upload = (thread: ThreadRef, fileName: string, content: Uint8Array, title?: string) =>
      callPatiently("files.uploadV2", () =>
        web.filesUploadV2({
          channel_id: thread.channel,
          thread_ts: thread.threadTs,
          file: Buffer.from(content),
          filename: fileName,
          ...(title === undefined ? {} : { title }),
        }),
      )

    const reply = (target: ReplyTarget, content: ReplyContent) =>
      Effect.gen(function* () {
        yield* finishLive(target)
        const footer = Option.map(content.footer, (f) => `_${toMrkdwn(f)}_`)
        const chunks = splitMessage([...toMrkdwnBlocks(content.text), ...Option.toArray(footer)])
        const long = chunks.length > maxChunks
        const posted = yield* post(
          target,
          long
            ? [
                `The answer is too long for Slack messages; it is attached as response.md.${Option.match(footer, { onNone: () => "", onSome: (f) => `\n\n${f}` })}`,
              ]
            : chunks,
        )
        const thread = Option.getOrElse(posted.thread, () => ({ channel: target.recipient, threadTs: "" }))
        if (long) {
          yield* upload(thread, "response.md", new TextEncoder().encode(content.text), "Response").pipe(
            Effect.mapError(sendFailed),
          )
        }
        const unattached: Array<SentReply["unattached"][number]> = []
        for (const file of content.outboxFiles) {
          const sent = yield* readOutboxFile(file, maxFileBytes).pipe(
            Effect.flatMap((bytes) => upload(thread, file.fileName, bytes)),
            Effect.either,
          )
          if (Either.isLeft(sent)) {
            yield* Effect.logWarning(`slack: outbox file ${file.fileName} not uploaded`, sent.left)
            unattached.push(file.fileName)
          }
        }
        if (unattached.length > 0) {
          yield* post(target, [
            `Could not upload ${unattached.length} file(s): ${unattached.map((n) => `\`${n}\``).join(", ")}`,
          ]).pipe(
            Effect.catchAll((e) =>
              Effect.logWarning("slack: the note about files not uploaded was not sent", e),
            ),
          )
        }
        const result: SentReply = { messageId: posted.key, unattached }
        return result
      }).pipe(Effect.withSpan("SlackChannel.reply"))

    const replyError = (target: ReplyTarget, text: string) =>
      Effect.gen(function* () {
        yield* finishLive(target)
        const posted = yield* post(target, splitMessage(toMrkdwnBlocks(text)))
        const result: SentReply = { messageId: posted.key, unattached: [] }
        return result
      }).pipe(Effect.withSpan("SlackChannel.replyError"))

    const notifyStarted = (target: ReplyTarget, notice: StartedNotice) =>
      post(target, [startedText(notice)]).pipe(
        Effect.map((posted): SentReply => ({ messageId: posted.key, unattached: [] })),
        Effect.withSpan("SlackChannel.notifyStarted"),
      )

    const progress = (target: ReplyTarget, update: TaskProgress) =>
      Option.match(threadOf(target), {
        onNone: () => Effect.void,
        onSome: (thread) => live.show(thread, update),
      })

    return Channel.of({
      kind: "slack",
      repoId,
      inbound: Stream.fromQueue(inbox, { maxChunkSize: 1 }),
      acknowledge,
      reply,
      replyError,
      notifyStarted,
      progress,
      health: SubscriptionRef.get(health),
      healthChanges: health.changes,
    })
  })

/** The Slack channel as the `Channel` of a program serving one repository. */
export const SlackChannelLive = (options: SlackChannelOptions) =>
  Layer.scoped(Channel, makeSlackChannel(options))
