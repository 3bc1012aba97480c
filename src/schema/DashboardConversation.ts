import { Schema } from "effect"
import { Conversation } from "./Conversation.js"
import { DashboardTask } from "./DashboardTask.js"
import { Reply } from "./Reply.js"

/** One item of the agent's plan, from its latest TodoWrite call. */
export const TodoItem = Schema.Struct({
  content: Schema.String,
  status: Schema.Literal("pending", "in_progress", "completed"),
  activeForm: Schema.optionalWith(Schema.String, { exact: true }),
}).annotations({ identifier: "TodoItem" })
export interface TodoItem extends Schema.Schema.Type<typeof TodoItem> {}

/** The input of a TodoWrite tool call (other fields ignored). */
export const TodoWriteInput = Schema.Struct({ todos: Schema.Array(TodoItem) })

/** `GET /api/conversations/:id`. */
export const ConversationPayload = Schema.Struct({
  conversation: Conversation,
  /** Newest first. */
  tasks: Schema.Array(DashboardTask),
  /** In reply order. */
  replies: Schema.Array(Reply),
  /** The agent's plan as of its latest TodoWrite; empty when it made none. */
  todos: Schema.Array(TodoItem),
}).annotations({ identifier: "ConversationPayload" })
export interface ConversationPayload extends Schema.Schema.Type<typeof ConversationPayload> {}
