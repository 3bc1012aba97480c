import { Context, type Effect } from "effect"
import type { ConversationId } from "../schema/ConversationId.js"
import type { InboundMessage } from "../schema/InboundMessage.js"
import type { CompletionReason } from "../schema/Task.js"
import type { TaskId } from "../schema/TaskId.js"
import type { ChannelShape } from "./Channel.js"

/** One run of a conversation: the task that carries it and the message(s) it answers, oldest first. */
export interface TaskJob {
  readonly taskId: TaskId
  readonly conversationId: ConversationId
  /** The conversation was created for the first of these messages: its workspace is cloned now. */
  readonly isNew: boolean
  readonly messages: readonly [InboundMessage, ...ReadonlyArray<InboundMessage>]
  /** Where the answer goes: the channel the messages came from. */
  readonly channel: ChannelShape
}

/** How the run ended, for the task record. The person has been told either way. */
export interface TaskResult {
  readonly reason: CompletionReason
  readonly detail?: string
}

/**
 * Carries one job from the repository to the reply: refresh the mirror, prepare the workspace,
 * build the image from the default branch, start the proxy, run the agent, reply with the
 * outbox. Every failure is answered on the channel and returned as a result, never raised: the
 * supervisor only records it. Interrupting `run` stops the container and the proxy.
 */
export interface TaskRunnerShape {
  readonly run: (job: TaskJob) => Effect.Effect<TaskResult>
}

export class TaskRunner extends Context.Tag("airut/TaskRunner")<TaskRunner, TaskRunnerShape>() {}
