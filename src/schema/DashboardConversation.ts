import { Schema } from "effect"
import { TodoItem } from "./AgentPlan.js"
import { Conversation } from "./Conversation.js"
import { DashboardTask } from "./DashboardTask.js"
import { Reply } from "./Reply.js"

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
