import { Schema } from "effect"
import { ConversationId } from "./ConversationId.js"
import { TaskId } from "./TaskId.js"

/** Whose log to read: one task's, or every task's of a conversation. */
export const LogScope = Schema.Union(
  Schema.Struct({ taskId: TaskId }),
  Schema.Struct({ conversationId: ConversationId }),
).annotations({ identifier: "LogScope" })
export type LogScope = typeof LogScope.Type
