import { Data } from "effect"
import type { TodoItem } from "./AgentPlan.js"

/**
 * What a task tells its channel while it runs: it is being prepared (mirror, image, proxy),
 * the agent has started, or the agent's plan changed. Channels show what their medium can
 * (Slack: the assistant status and one updated plan message; email: nothing).
 */
export type TaskProgress = Data.TaggedEnum<{
  Preparing: Record<never, never>
  Running: Record<never, never>
  Plan: { readonly todos: ReadonlyArray<TodoItem> }
}>
export const TaskProgress = Data.taggedEnum<TaskProgress>()
