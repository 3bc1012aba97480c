/** The agent's plan as one Slack message, rewritten in place as the plan changes. */
import type { TodoItem } from "../../schema/AgentPlan.js"
import { escapeText } from "./mrkdwn.js"

const marks: Record<TodoItem["status"], string> = {
  pending: "⚪",
  in_progress: "🔄",
  completed: "✅",
}

/** `*Plan*` and a line per item; the item being worked on reads as what is happening now. */
export const planText = (todos: ReadonlyArray<TodoItem>): string => {
  const lines = todos.map((todo) => {
    const text = todo.status === "in_progress" ? (todo.activeForm ?? todo.content) : todo.content
    return `${marks[todo.status]} ${escapeText(text)}`
  })
  const done = todos.filter((t) => t.status === "completed").length
  return [`*Plan* (${done}/${todos.length} done)`, ...lines].join("\n")
}
