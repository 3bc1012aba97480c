import { Schema } from "effect"
import { ConversationId } from "./ConversationId.js"
import { TaskId } from "./TaskId.js"

/** Where a task is: `queued → authenticating → (pending) → executing → completed`. */
export const TaskState = Schema.Literal("queued", "authenticating", "pending", "executing", "completed")
export type TaskState = typeof TaskState.Type

/** Why a task completed. Set exactly when `state` is `completed`. */
export const CompletionReason = Schema.Literal(
  /** The agent run finished and its reply was delivered. */
  "success",
  /** The agent run failed (non-zero exit, unrecoverable session); an error reply was sent. */
  "error",
  /** The run hit its time limit. */
  "timeout",
  /** A person stopped it from the dashboard. */
  "stopped",
  /** The daemon went away while it was unfinished (shutdown or crash, found at restart). */
  "interrupted",
  /** The sender was not authenticated or not authorized. */
  "rejected",
  /** Merged into another task of the same conversation (`detail` names the survivor). */
  "coalesced",
  /** The reply could not be delivered on the channel. */
  "channel_error",
  /** Infrastructure failed (image build, proxy, sandbox). */
  "internal_error",
)
export type CompletionReason = typeof CompletionReason.Type

export const Task = Schema.Struct({
  id: TaskId,
  conversationId: ConversationId,
  state: TaskState,
  completionReason: Schema.OptionFromNullOr(CompletionReason),
  completionDetail: Schema.OptionFromNullOr(Schema.String),
  sender: Schema.String,
  title: Schema.String,
  queuedAt: Schema.DateTimeUtcFromNumber,
  /** When it first became `executing`. */
  startedAt: Schema.OptionFromNullOr(Schema.DateTimeUtcFromNumber),
  completedAt: Schema.OptionFromNullOr(Schema.DateTimeUtcFromNumber),
}).annotations({ identifier: "Task" })
export interface Task extends Schema.Schema.Type<typeof Task> {}

/** A task as its creator knows it; it starts `queued`. */
export const NewTask = Schema.Struct({
  conversationId: ConversationId,
  sender: Schema.String,
  title: Schema.String,
}).annotations({ identifier: "NewTask" })
export interface NewTask extends Schema.Schema.Type<typeof NewTask> {}

/** A move to another state; only `completed` carries a reason. `completed` is final. */
export const TaskTransition = Schema.Union(
  Schema.Struct({ state: Schema.Literal("queued", "authenticating", "pending", "executing") }),
  Schema.Struct({
    state: Schema.Literal("completed"),
    reason: CompletionReason,
    detail: Schema.optionalWith(Schema.String, { exact: true }),
  }),
).annotations({ identifier: "TaskTransition" })
export type TaskTransition = typeof TaskTransition.Type

/** Filters for `listTasks`; newest first, at most `limit` (default 100). */
export const TaskQuery = Schema.Struct({
  state: Schema.optionalWith(TaskState, { exact: true }),
  conversationId: Schema.optionalWith(ConversationId, { exact: true }),
  limit: Schema.optionalWith(Schema.NonNegativeInt, { exact: true }),
}).annotations({ identifier: "TaskQuery" })
export interface TaskQuery extends Schema.Schema.Type<typeof TaskQuery> {}
