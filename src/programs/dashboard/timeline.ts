/**
 * The agent's actions as a readable timeline: one item per stream-json line, assistant text as
 * text, each tool call with its input, each tool result folded in a <details>.
 */
import { Option } from "effect"
import {
  type AgentEvent,
  type ContentBlock,
  parseAgentLine,
  resultTextOf,
  type ToolResultBlock,
  type ToolUseBlock,
} from "../../schema/AgentEvent.js"
import type { AgentEventRow } from "../../schema/AgentEventRow.js"
import { type TodoItem, todosOf } from "../../schema/AgentPlan.js"
import { type Html, html, joinHtml } from "./html.js"

/** Tool results longer than this are cut in the page (the API serves them whole). */
const RESULT_PREVIEW = 20_000

const pretty = (value: unknown): string => {
  if (typeof value === "string") return value
  const text = JSON.stringify(value, null, 2)
  return text === undefined ? String(value) : text
}

const clip = (text: string, max: number) =>
  text.length <= max ? text : `${text.slice(0, max)}\n… (${text.length - max} more characters)`

const toolUse = (block: ToolUseBlock): Html => html`<div class="tool-use">
<div class="tool-name">${block.name}</div>
<pre class="tool-input">${pretty(block.input)}</pre>
</div>`

const resultText = (block: ToolResultBlock): string => {
  const content = block.content
  if (content === undefined) return ""
  if (typeof content === "string") return content
  return content
    .map((part) =>
      typeof part === "object" && part !== null && "text" in part && typeof part.text === "string"
        ? part.text
        : pretty(part),
    )
    .join("\n")
}

const toolResult = (block: ToolResultBlock): Html => {
  const text = resultText(block)
  const label = block.is_error === true ? "tool error" : "tool result"
  return html`<details class="tool-result${block.is_error === true ? " error" : ""}">
<summary>${label} (${text.length} characters)</summary>
<pre>${clip(text, RESULT_PREVIEW)}</pre>
</details>`
}

const block = (b: ContentBlock): Html => {
  if (b.type === "text" && "text" in b) return html`<p class="text">${b.text}</p>`
  if (b.type === "tool_use" && "name" in b) return toolUse(b)
  if (b.type === "tool_result" && "tool_use_id" in b) return toolResult(b)
  return html`<p class="muted">[${b.type}]</p>`
}

const content = (c: string | ReadonlyArray<ContentBlock>): Html =>
  typeof c === "string" ? html`<p class="text">${c}</p>` : joinHtml(c.map(block))

const item = (kind: string, label: string, body: Html, subagent: boolean): Html =>
  html`<li class="event ${kind}${subagent ? " subagent" : ""}"><span class="badge">${label}</span>${body}</li>`

const isSubagent = (parent: string | null | undefined) => typeof parent === "string" && parent !== ""

const money = (usd: number) => `$${usd.toFixed(4)}`

/** One timeline item for one event. */
export const renderEvent = (event: AgentEvent): Html => {
  switch (event._tag) {
    case "SystemInit":
      return item(
        "system",
        "session",
        html`<p class="muted">started ${event.session_id}${event.model === undefined ? "" : ` with ${event.model}`}</p>`,
        false,
      )
    case "SystemApiRetry":
      return item(
        "system",
        "retry",
        html`<p class="muted">API call failed${event.error === undefined ? "" : ` (${event.error})`}, attempt ${event.attempt}</p>`,
        false,
      )
    case "SystemEvent":
      return item("system", event.subtype, html``, false)
    case "AssistantEvent":
      return item(
        "assistant",
        "assistant",
        content(event.message.content),
        isSubagent(event.parent_tool_use_id),
      )
    case "UserEvent":
      return item("user", "user", content(event.message.content), isSubagent(event.parent_tool_use_id))
    case "ResultEvent": {
      const parts = [
        event.num_turns === undefined ? undefined : `${event.num_turns} turns`,
        event.duration_ms === undefined ? undefined : `${(event.duration_ms / 1000).toFixed(1)} s`,
        event.total_cost_usd === undefined ? undefined : money(event.total_cost_usd),
      ].filter((p): p is string => p !== undefined)
      return item(
        event.is_error ? "result error" : "result",
        event.is_error ? "failed" : "finished",
        html`<p class="muted">${parts.join(" · ")}</p>${Option.match(resultTextOf(event), {
          onNone: () => html``,
          onSome: (text) => html`<p class="text">${text}</p>`,
        })}`,
        false,
      )
    }
    case "UnknownEvent":
      return item(
        "unknown",
        event.type === "" ? "event" : event.type,
        html`<details><summary>details</summary><pre>${pretty(event.json)}</pre></details>`,
        false,
      )
    case "RawLine":
      return item("raw", "output", html`<pre>${event.line}</pre>`, false)
  }
}

/** Timeline items for stored rows (lines already redacted). */
export const renderEvents = (rows: ReadonlyArray<AgentEventRow>): Html =>
  joinHtml(rows.map((row) => renderEvent(parseAgentLine(row.line))))

/** The plan from the latest TodoWrite among `rows`, if any. */
export const findLatestTodos = (
  rows: ReadonlyArray<AgentEventRow>,
): Option.Option<ReadonlyArray<TodoItem>> => {
  for (let i = rows.length - 1; i >= 0; i--) {
    const row = rows[i]
    if (row === undefined) continue
    const todos = todosOf(parseAgentLine(row.line))
    if (Option.isSome(todos)) return todos
  }
  return Option.none()
}

export const latestTodos = (rows: ReadonlyArray<AgentEventRow>): ReadonlyArray<TodoItem> =>
  Option.getOrElse(findLatestTodos(rows), () => [])

const todoMark = { pending: "○", in_progress: "◐", completed: "●" } as const

export const renderTodos = (todos: ReadonlyArray<TodoItem>): Html =>
  todos.length === 0
    ? html`<p class="muted">No plan yet.</p>`
    : html`<ul class="todos">${todos.map(
        (t) =>
          html`<li class="todo ${t.status}"><span class="mark">${todoMark[t.status]}</span> ${t.status === "in_progress" && t.activeForm !== undefined ? t.activeForm : t.content}</li>`,
      )}</ul>`
