import { Schema } from "effect"
import { ChannelKind } from "./ChannelKind.js"
import { Task, TaskState } from "./Task.js"
import { TaskId } from "./TaskId.js"

/** A task as the dashboard lists it: the stored task plus the repository and channel it serves. */
export const DashboardTask = Schema.Struct({
  ...Task.fields,
  repoId: Schema.String,
  channel: ChannelKind,
}).annotations({ identifier: "DashboardTask" })
export interface DashboardTask extends Schema.Schema.Type<typeof DashboardTask> {}

/** How many of the listed tasks are in each state. */
export const TaskCounts = Schema.Record({ key: TaskState, value: Schema.NonNegativeInt })
export type TaskCounts = typeof TaskCounts.Type

/** `GET /api/tasks`: unfinished tasks and the most recent finished ones, newest first. */
export const TaskListPayload = Schema.Struct({
  tasks: Schema.Array(DashboardTask),
  counts: TaskCounts,
  /** Tasks this process is running or has queued now. */
  active: Schema.Array(TaskId),
}).annotations({ identifier: "TaskListPayload" })
export interface TaskListPayload extends Schema.Schema.Type<typeof TaskListPayload> {}
