import { Context, Data, type Effect, type Option, type Stream } from "effect"
import type { ChannelHealth } from "../schema/ChannelHealth.js"
import type { ChannelKind } from "../schema/ChannelKind.js"
import type { ReplyContent, ReplyTarget, SentReply } from "../schema/ChannelReply.js"
import type { InboundMessage, MessageReceipt } from "../schema/InboundMessage.js"
import type { TaskProgress } from "../schema/TaskProgress.js"

/** The channel cannot deliver messages or settle them (a dead connection it will not retry). */
export class ChannelError extends Data.TaggedError("ChannelError")<{
  readonly channel: ChannelKind
  readonly repoId: string
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.channel} channel of ${this.repoId}: ${this.detail}`
  }
}

/**
 * A mail or message could not be sent. `reason`: `unreachable` (the server did not answer or
 * failed for now, retries exhausted), `refused` (the server refused it for good),
 * `rate_limited` (our own loop guard held it back), `invalid` (the reply itself cannot be
 * built). The caller keeps the outbox so nothing the agent made is lost.
 */
export class ChannelSendFailed extends Data.TaggedError("ChannelSendFailed")<{
  readonly channel: ChannelKind
  readonly repoId: string
  readonly reason: "unreachable" | "refused" | "rate_limited" | "invalid"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `sending on the ${this.channel} channel of ${this.repoId} failed (${this.reason}): ${this.detail}`
  }
}

/** What the acknowledgement of a new conversation says besides "started". */
export interface StartedNotice {
  /** A link to the conversation on the dashboard, when the dashboard has a public URL. */
  readonly dashboardUrl: Option.Option<string>
}

/**
 * One repository's channel to people (email, Slack). The contract every channel keeps:
 *
 * - `inbound` emits only messages whose sender the channel authenticated and authorized.
 *   Refused messages (unauthenticated, unauthorized, automatic mail caught by loop
 *   protection) are recorded with `ConversationStore.recordRejection`, settled, and never
 *   answered, so the gateway's authorization step for a channel message is already done.
 * - Delivery is at least once: a message stays with the channel until `acknowledge`; after a
 *   crash it is emitted again, and the store's `recordInbound` (false for a known message id)
 *   tells the gateway to acknowledge it without running it again.
 * - `inbound` is for one consumer; messages are not duplicated to several.
 */
export interface ChannelShape {
  readonly kind: ChannelKind
  readonly repoId: string
  readonly inbound: Stream.Stream<InboundMessage, ChannelError>
  /**
   * Settles a message after the gateway recorded it: the channel removes it from its queue
   * (email: deleted, or moved to the processed folder) as soon as it can. Returns at once; if
   * the process dies before, the message comes back and is recognised by the store.
   */
  readonly acknowledge: (receipt: MessageReceipt) => Effect.Effect<void, ChannelError>
  /** The agent's answer with the outbox files; the caller clears the outbox after success. */
  readonly reply: (target: ReplyTarget, content: ReplyContent) => Effect.Effect<SentReply, ChannelSendFailed>
  /** A plain message saying what went wrong and what the person can do (`text` is Markdown). */
  readonly replyError: (target: ReplyTarget, text: string) => Effect.Effect<SentReply, ChannelSendFailed>
  /** Tells the person a new conversation has started. */
  readonly notifyStarted: (
    target: ReplyTarget,
    notice: StartedNotice,
  ) => Effect.Effect<SentReply, ChannelSendFailed>
  /**
   * The task's progress while it runs, for the person to watch. Best effort: a channel that
   * cannot show it (email) ignores it, and a failure to show it never reaches the task.
   */
  readonly progress: (target: ReplyTarget, progress: TaskProgress) => Effect.Effect<void>
  readonly health: Effect.Effect<ChannelHealth>
  /** The current health, then every change. */
  readonly healthChanges: Stream.Stream<ChannelHealth>
}

export class Channel extends Context.Tag("airut/Channel")<Channel, ChannelShape>() {}
