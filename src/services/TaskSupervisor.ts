import { Context, Data, type Duration, type Effect, type Stream } from "effect"
import type { ChannelKind } from "../schema/ChannelKind.js"
import type { ConversationId } from "../schema/ConversationId.js"
import type { InboundMessage } from "../schema/InboundMessage.js"
import type { Task } from "../schema/Task.js"
import type { TaskId } from "../schema/TaskId.js"
import type { ChannelShape } from "./Channel.js"
import type { StoreError, TaskAlreadyCompleted, TaskNotFound } from "./ConversationStore.js"

/** The supervisor no longer takes work: the daemon is shutting down. */
export class SupervisorClosed extends Data.TaggedError("SupervisorClosed")<{ readonly detail: string }> {
  override get message(): string {
    return `the gateway is shutting down: ${this.detail}`
  }
}

/**
 * One message accepted for a conversation: it is recorded, its task exists (state `queued`),
 * and the channel has settled it.
 */
export interface Submission {
  readonly conversationId: ConversationId
  readonly message: InboundMessage
  /** The task created for it; a coalesced message ends up in the task that runs it. */
  readonly taskId: TaskId
  /** True when the conversation was created for this message. */
  readonly isNew: boolean
  /** The channel the message came from, where its answer goes. */
  readonly channel: ChannelShape
}

/** A task's state as it changes, with the repository and channel it belongs to. */
export interface TaskChange {
  readonly repoId: string
  readonly channel: ChannelKind
  readonly task: Task
}

/**
 * Runs the gateway's tasks: at most one per conversation (messages that arrive meanwhile
 * coalesce into the next run), at most `execution.max_concurrent` at once across repositories.
 * Every task is a fiber in the daemon's scope; every state change is stored, then published.
 */
export interface TaskSupervisorShape {
  /** Queues a recorded message; returns at once. */
  readonly submit: (submission: Submission) => Effect.Effect<void, SupervisorClosed>
  /** Interrupts a queued or running task; it completes as `stopped`. */
  readonly stop: (taskId: TaskId) => Effect.Effect<void, TaskNotFound | TaskAlreadyCompleted | StoreError>
  /** Every task state change from now on, in order, to each subscriber. */
  readonly changes: Stream.Stream<TaskChange>
  /** Tasks queued or running in this process now. */
  readonly active: Effect.Effect<ReadonlyArray<TaskId>>
  /**
   * Shutdown: takes no more work, lets running tasks finish for up to `grace`, then interrupts
   * the rest; every task still unfinished is completed `interrupted` and its sender told.
   */
  readonly drain: (grace: Duration.Duration) => Effect.Effect<void>
}

export class TaskSupervisor extends Context.Tag("airut/TaskSupervisor")<
  TaskSupervisor,
  TaskSupervisorShape
>() {}
