import { Effect, Option } from "effect"
import type { AgentEventRow } from "../../schema/AgentEventRow.js"
import type { TodoItem } from "../../schema/AgentPlan.js"
import type { Conversation } from "../../schema/Conversation.js"
import type { ConversationId } from "../../schema/ConversationId.js"
import type { ConversationPayload } from "../../schema/DashboardConversation.js"
import type { DashboardNetworkEntry, EventsPayload, NetworkPayload } from "../../schema/DashboardLogs.js"
import type { DashboardTask, TaskCounts, TaskListPayload } from "../../schema/DashboardTask.js"
import type { Reply } from "../../schema/Reply.js"
import type { Task, TaskState } from "../../schema/Task.js"
import { ConversationStore, type StoreError } from "../../services/ConversationStore.js"
import { SecretRedactor } from "../../services/SecretRedactor.js"
import { TaskSupervisor } from "../../services/TaskSupervisor.js"
import { allowlistEntryFor } from "./allowlistEntry.js"
import { NotFound } from "./errors.js"
import { latestTodos } from "./timeline.js"

/** Finished tasks the home page keeps showing (the original kept 100 in memory). */
const RECENT_LIMIT = 50
/** Events the conversation page reads at once when it scans for the plan. */
const PAGE = 1000

const unfinishedStates: ReadonlyArray<TaskState> = ["queued", "authenticating", "pending", "executing"]

const redactTask = (redact: (s: string) => string, task: Task): Task => ({
  ...task,
  sender: redact(task.sender),
  title: redact(task.title),
  completionDetail: Option.map(task.completionDetail, redact),
})

/**
 * Adds each task's repository and channel. A task whose conversation is gone (garbage
 * collection ran meanwhile) is left out.
 */
const withConversations = (tasks: ReadonlyArray<Task>) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const { redact } = yield* SecretRedactor
    const conversations = new Map<ConversationId, Option.Option<Conversation>>()
    const out: Array<DashboardTask> = []
    for (const task of tasks) {
      let conversation = conversations.get(task.conversationId)
      if (conversation === undefined) {
        conversation = yield* store.getConversation(task.conversationId).pipe(
          Effect.map(Option.some),
          Effect.catchTag("ConversationNotFound", () => Effect.succeedNone),
        )
        conversations.set(task.conversationId, conversation)
      }
      if (Option.isSome(conversation)) {
        out.push({
          ...redactTask(redact, task),
          repoId: conversation.value.repoId,
          channel: conversation.value.channel,
        })
      }
    }
    return out
  })

const countStates = (tasks: ReadonlyArray<DashboardTask>): TaskCounts => {
  const counts: Record<TaskState, number> = {
    queued: 0,
    authenticating: 0,
    pending: 0,
    executing: 0,
    completed: 0,
  }
  for (const task of tasks) counts[task.state] += 1
  return counts
}

const newestFirst = (a: Task, b: Task) => Number(b.queuedAt.epochMillis - a.queuedAt.epochMillis)

/** Every unfinished task and the most recent finished ones, newest first. */
export const loadTaskList: Effect.Effect<
  TaskListPayload,
  StoreError,
  ConversationStore | TaskSupervisor | SecretRedactor
> = Effect.gen(function* () {
  const store = yield* ConversationStore
  const supervisor = yield* TaskSupervisor
  const unfinished = yield* Effect.forEach(unfinishedStates, (state) => store.listTasks({ state }))
  const recent = yield* store.listTasks({ state: "completed", limit: RECENT_LIMIT })
  const tasks = yield* withConversations([...unfinished.flat(), ...recent].sort(newestFirst))
  const active = yield* supervisor.active
  return { tasks, counts: countStates(tasks), active }
})

/** Every event of a conversation from `offset` on, redacted. */
export const readAllEvents = (id: ConversationId, offset: number) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const { redact } = yield* SecretRedactor
    const events: Array<AgentEventRow> = []
    let next = offset
    for (;;) {
      const page = yield* store.readEvents({ conversationId: id }, next, PAGE)
      for (const row of page.events) events.push({ ...row, line: redact(row.line) })
      if (page.events.length < PAGE) return { events, nextOffset: page.nextOffset }
      next = page.nextOffset
    }
  })

const redactReply = (redact: (s: string) => string, reply: Reply): Reply => ({
  ...reply,
  requestText: redact(reply.requestText),
  responseText: redact(reply.responseText),
})

export interface ConversationView extends ConversationPayload {
  readonly events: ReadonlyArray<AgentEventRow>
  readonly nextOffset: number
}

/** Everything the conversation page shows; NotFound for an unknown id. */
export const loadConversation = (id: ConversationId) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const { redact } = yield* SecretRedactor
    const conversation = yield* store
      .getConversation(id)
      .pipe(
        Effect.catchTag("ConversationNotFound", () =>
          Effect.fail(new NotFound({ message: `no conversation ${id}` })),
        ),
      )
    const tasks = yield* store.listTasks({ conversationId: id }).pipe(Effect.flatMap(withConversations))
    const replies = (yield* store.listReplies(id)).map((reply) => redactReply(redact, reply))
    const { events, nextOffset } = yield* readAllEvents(id, 0)
    const todos: ReadonlyArray<TodoItem> = latestTodos(events)
    const view: ConversationView = { conversation, tasks, replies, todos, events, nextOffset }
    return view
  })

/** Tasks of a conversation, newest first, plus whether one of them is unfinished. */
export const conversationTasks = (id: ConversationId) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const tasks = yield* store.listTasks({ conversationId: id }).pipe(Effect.flatMap(withConversations))
    return tasks
  })

export const isRunning = (tasks: ReadonlyArray<Task>) => tasks.some((t) => t.state !== "completed")

/** NotFound unless the conversation exists. */
export const requireConversation = (id: ConversationId) =>
  Effect.flatMap(ConversationStore, (store) => store.getConversation(id)).pipe(
    Effect.catchTag("ConversationNotFound", () =>
      Effect.fail(new NotFound({ message: `no conversation ${id}` })),
    ),
  )

export const loadEvents = (id: ConversationId, offset: number, limit: number) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const { redact } = yield* SecretRedactor
    yield* requireConversation(id)
    const page = yield* store.readEvents({ conversationId: id }, offset, limit)
    const tasks = yield* store.listTasks({ conversationId: id })
    const payload: EventsPayload = {
      events: page.events.map((row) => ({ ...row, line: redact(row.line) })),
      nextOffset: page.nextOffset,
      running: isRunning(tasks),
    }
    return payload
  })

/** Network entries from `offset` on, redacted; with `blockedOnly` the allowed ones are skipped. */
export const loadNetwork = (id: ConversationId, offset: number, limit: number, blockedOnly: boolean) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const { redact } = yield* SecretRedactor
    yield* requireConversation(id)
    const page = yield* store.readNetwork({ conversationId: id }, offset, limit)
    const tasks = yield* store.listTasks({ conversationId: id })
    const entries: Array<DashboardNetworkEntry> = page.entries
      .filter((entry) => !blockedOnly || entry.verdict === "blocked")
      .map((entry) => {
        const redacted = {
          ...entry,
          host: redact(entry.host),
          path: redact(entry.path),
          method: redact(entry.method),
        }
        return { ...redacted, allowlistEntry: allowlistEntryFor(redacted) }
      })
    const payload: NetworkPayload = { entries, nextOffset: page.nextOffset, running: isRunning(tasks) }
    return payload
  })
