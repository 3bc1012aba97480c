/**
 * The agent's plan: the todo list Claude Code keeps with its TodoWrite tool. Each call sends
 * the whole list, so the latest call is the plan.
 */
import { Option, Schema } from "effect"
import type { AgentEvent } from "./AgentEvent.js"

/** One item of the agent's plan. */
export const TodoItem = Schema.Struct({
  content: Schema.String,
  status: Schema.Literal("pending", "in_progress", "completed"),
  activeForm: Schema.optionalWith(Schema.String, { exact: true }),
}).annotations({ identifier: "TodoItem" })
export interface TodoItem extends Schema.Schema.Type<typeof TodoItem> {}

/** The input of a TodoWrite tool call (other fields ignored). */
export const TodoWriteInput = Schema.Struct({ todos: Schema.Array(TodoItem) })

const decodeTodos = Schema.decodeUnknownOption(TodoWriteInput)

/** The plan an event sets, if it makes a (well-formed) TodoWrite call; the last one wins. */
export const todosOf = (event: AgentEvent): Option.Option<ReadonlyArray<TodoItem>> => {
  if (event._tag !== "AssistantEvent" || typeof event.message.content === "string") return Option.none()
  let found: Option.Option<ReadonlyArray<TodoItem>> = Option.none()
  for (const b of event.message.content) {
    if (b.type === "tool_use" && "name" in b && b.name === "TodoWrite") {
      const decoded = decodeTodos(b.input)
      if (Option.isSome(decoded)) found = Option.some(decoded.value.todos)
    }
  }
  return found
}
