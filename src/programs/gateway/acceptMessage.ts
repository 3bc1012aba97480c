import { Effect, Option } from "effect"
import { replyTargetOf } from "../../schema/ChannelReply.js"
import type { Conversation } from "../../schema/Conversation.js"
import type { InboundMessage } from "../../schema/InboundMessage.js"
import type { RepoConfig } from "../../schema/ServerConfig.js"
import type { ChannelShape, StartedNotice } from "../../services/Channel.js"
import { ConversationStore } from "../../services/ConversationStore.js"
import { TaskSupervisor } from "../../services/TaskSupervisor.js"

/** A task's title: the subject, else the start of the body. */
const titleOf = (message: InboundMessage): string => {
  const subject = message.subject.trim()
  if (subject !== "") return subject.slice(0, 200)
  const firstLine = message.body.trim().split("\n")[0] ?? ""
  return firstLine === "" ? "(no subject)" : firstLine.slice(0, 200)
}

/**
 * The conversation a message continues, or none. A conversation named by the message (our
 * Message-ID, a subject tag) counts only when it belongs to the same repository and channel:
 * a tag copied into another repository's mail must not reach this workspace. The message's own
 * id is looked up too, so a redelivered first message finds the conversation it created.
 */
const findConversation = (message: InboundMessage) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    if (Option.isSome(message.conversationId)) {
      const named = yield* store.getConversation(message.conversationId.value).pipe(
        Effect.map(Option.some),
        Effect.catchTag("ConversationNotFound", () => Effect.succeed(Option.none<Conversation>())),
      )
      if (
        Option.isSome(named) &&
        named.value.repoId === message.repoId &&
        named.value.channel === message.channel
      ) {
        return named
      }
    }
    return yield* store.findByThreadKey({
      channel: message.channel,
      repoId: message.repoId,
      keys: [message.channelMessageId, ...message.threadKeys],
    })
  })

export interface AcceptOptions {
  readonly repo: RepoConfig
  readonly channel: ChannelShape
  /** What the acknowledgement of a new conversation links to. */
  readonly notice: (conversation: Conversation) => StartedNotice
}

/**
 * Takes one authenticated message from a channel into the gateway: find or start its
 * conversation, record it (a message seen before is only settled again, never run twice),
 * create its task, settle it with the channel, and hand it to the supervisor.
 *
 * Recording comes before settling: a crash in between leaves the message with the channel,
 * which delivers it again, and the record recognises it.
 */
export const acceptMessage = (message: InboundMessage, options: AcceptOptions) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const supervisor = yield* TaskSupervisor
    const found = yield* findConversation(message)
    const conversation = yield* Option.match(found, {
      onSome: Effect.succeed,
      onNone: () =>
        store.createConversation({
          repoId: message.repoId,
          channel: message.channel,
          threadKeys: [],
          // The sender's model choice applies to a new conversation only: a reply cannot switch it.
          model: Option.getOrElse(message.modelHint, () => options.repo.model),
          ...(options.repo.effort === undefined ? {} : { effort: options.repo.effort }),
        }),
    })
    const isNew = Option.isNone(found)
    const fresh = yield* store.recordInbound({
      channel: message.channel,
      channelMessageId: message.channelMessageId,
      repoId: message.repoId,
      conversationId: conversation.id,
      sender: message.sender,
      threadKeys: [message.channelMessageId, ...message.threadKeys],
    })
    if (!fresh) {
      yield* Effect.logInfo(
        `${message.channelMessageId} was already taken in; settling it again without a run`,
      )
      if (isNew) yield* store.deleteConversation(conversation.id)
      return yield* options.channel.acknowledge(message.receipt)
    }
    const task = yield* store.createTask({
      conversationId: conversation.id,
      sender: message.sender,
      title: titleOf(message),
    })
    yield* options.channel.acknowledge(message.receipt)
    yield* Effect.logInfo(
      `task ${task.id} from ${message.sender} in ${isNew ? "new" : "existing"} conversation ${conversation.id}`,
    )
    if (isNew) {
      yield* options.channel
        .notifyStarted(replyTargetOf(message, conversation.id), options.notice(conversation))
        .pipe(
          Effect.flatMap((sent) => store.addThreadKeys(conversation.id, [sent.messageId])),
          Effect.catchTag("ChannelSendFailed", (e) =>
            Effect.logWarning(`could not acknowledge the new conversation ${conversation.id}: ${e.message}`),
          ),
        )
    }
    yield* supervisor.submit({
      conversationId: conversation.id,
      message,
      taskId: task.id,
      isNew,
      channel: options.channel,
    })
  }).pipe(Effect.annotateLogs({ repoId: message.repoId, channel: message.channel }))
