import { Context, Data, type DateTime, type Effect, type Option } from "effect"
import type { EventPage } from "../schema/AgentEventRow.js"
import type { Conversation, NewConversation, ThreadKeyQuery } from "../schema/Conversation.js"
import type { ConversationId } from "../schema/ConversationId.js"
import type { NewInbound } from "../schema/InboundRecord.js"
import type { LogScope } from "../schema/LogScope.js"
import type { NetworkPage, NewNetworkLogEntry } from "../schema/NetworkLogEntry.js"
import type { NewRejection, Rejection, RejectionQuery } from "../schema/Rejection.js"
import type { NewReply, Reply } from "../schema/Reply.js"
import type { CompletionReason, NewTask, Task, TaskQuery, TaskTransition } from "../schema/Task.js"
import type { TaskId } from "../schema/TaskId.js"

/** The backend failed (I/O, lock, corrupt row). `operation` names the store method. */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly operation: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `conversation store: ${this.operation} failed${causeDetail(this.cause)}`
  }
}

// The innermost error message (SqlError wraps the driver's error, which says what went wrong:
// "unable to open database file", "database is locked"), so operators see the reason.
const causeDetail = (cause: unknown): string => {
  let detail = ""
  for (let at = cause, depth = 0; at instanceof Error && depth < 5; at = at.cause, depth++) {
    if (at.message !== "") detail = at.message
  }
  return detail === "" ? "" : `: ${detail}`
}

export class ConversationNotFound extends Data.TaggedError("ConversationNotFound")<{
  readonly id: ConversationId
}> {}

export class TaskNotFound extends Data.TaggedError("TaskNotFound")<{
  readonly id: TaskId
}> {}

/** The task already completed; its first completion stands (a stop racing a finish, say). */
export class TaskAlreadyCompleted extends Data.TaggedError("TaskAlreadyCompleted")<{
  readonly id: TaskId
  readonly reason: Option.Option<CompletionReason>
}> {}

/**
 * Durable record of conversations, tasks, replies, agent events, network logs and
 * rejections. Times come from `Clock`. Every method is atomic: a failure changes nothing.
 */
export interface ConversationStoreShape {
  readonly createConversation: (input: NewConversation) => Effect.Effect<Conversation, StoreError>
  readonly getConversation: (
    id: ConversationId,
  ) => Effect.Effect<Conversation, ConversationNotFound | StoreError>
  /** The conversation owning the first of `query.keys` that any conversation owns. */
  readonly findByThreadKey: (query: ThreadKeyQuery) => Effect.Effect<Option.Option<Conversation>, StoreError>
  /** Adds keys in order; a key another conversation already owns stays with it. */
  readonly addThreadKeys: (
    id: ConversationId,
    keys: ReadonlyArray<string>,
  ) => Effect.Effect<void, ConversationNotFound | StoreError>
  /** Sets the session the next run resumes (e.g. the init session of a timed-out run). */
  readonly setSession: (
    id: ConversationId,
    sessionId: string,
  ) => Effect.Effect<void, ConversationNotFound | StoreError>
  /**
   * Records an accepted inbound message and attaches its thread keys to the conversation.
   * `true` when new; `false` when `(channel, channelMessageId)` was seen before (then nothing
   * changes and the message must not run again).
   */
  readonly recordInbound: (input: NewInbound) => Effect.Effect<boolean, ConversationNotFound | StoreError>

  readonly createTask: (input: NewTask) => Effect.Effect<Task, ConversationNotFound | StoreError>
  readonly getTask: (id: TaskId) => Effect.Effect<Task, TaskNotFound | StoreError>
  /** Moves a task on; `startedAt` is set on first `executing`, `completedAt` on `completed`. */
  readonly updateTaskState: (
    id: TaskId,
    transition: TaskTransition,
  ) => Effect.Effect<Task, TaskNotFound | TaskAlreadyCompleted | StoreError>
  /** Newest first. */
  readonly listTasks: (query?: TaskQuery) => Effect.Effect<ReadonlyArray<Task>, StoreError>
  /**
   * Completes every unfinished task as `interrupted`: at daemon start nothing runs yet, so
   * whatever is unfinished was cut off by a shutdown or crash. Returns those tasks.
   */
  readonly markRunningTasksInterrupted: Effect.Effect<ReadonlyArray<Task>, StoreError>

  /**
   * Appends the next reply of the task's conversation; a reply with a session id makes it the
   * conversation's resume target. TaskNotFound also when the task is of another conversation.
   */
  readonly recordReply: (
    input: NewReply,
  ) => Effect.Effect<Reply, ConversationNotFound | TaskNotFound | StoreError>
  /** In reply order; empty for an unknown conversation. */
  readonly listReplies: (id: ConversationId) => Effect.Effect<ReadonlyArray<Reply>, StoreError>

  /** Appends raw stream-json lines of a running task, in order. */
  readonly appendEvents: (
    taskId: TaskId,
    lines: ReadonlyArray<string>,
  ) => Effect.Effect<void, TaskNotFound | StoreError>
  /** Up to `limit` events with `offset >= fromOffset`, oldest first. */
  readonly readEvents: (
    scope: LogScope,
    fromOffset: number,
    limit: number,
  ) => Effect.Effect<EventPage, StoreError>
  readonly appendNetwork: (
    taskId: TaskId,
    entries: ReadonlyArray<NewNetworkLogEntry>,
  ) => Effect.Effect<void, TaskNotFound | StoreError>
  /** Up to `limit` entries with `offset >= fromOffset`, oldest first. */
  readonly readNetwork: (
    scope: LogScope,
    fromOffset: number,
    limit: number,
  ) => Effect.Effect<NetworkPage, StoreError>

  readonly recordRejection: (input: NewRejection) => Effect.Effect<Rejection, StoreError>
  /** Newest first. */
  readonly listRejections: (query?: RejectionQuery) => Effect.Effect<ReadonlyArray<Rejection>, StoreError>

  /**
   * Conversations last active before `cutoff` with no unfinished task: what garbage
   * collection may delete. Oldest first.
   */
  readonly listConversationsOlderThan: (
    cutoff: DateTime.Utc,
  ) => Effect.Effect<ReadonlyArray<Conversation>, StoreError>
  /**
   * Deletes a conversation with its thread keys, tasks, replies, events and network log. The
   * inbound ledger keeps its message ids, so a late redelivery still never runs.
   */
  readonly deleteConversation: (id: ConversationId) => Effect.Effect<void, ConversationNotFound | StoreError>

  /** Writes a probe value and reads it back (`airut check`). */
  readonly healthCheck: Effect.Effect<void, StoreError>
}

export class ConversationStore extends Context.Tag("airut/ConversationStore")<
  ConversationStore,
  ConversationStoreShape
>() {}
