import { HttpLayerRouter, HttpServerRequest } from "@effect/platform"
import { Chunk, Clock, Effect, Layer, Option, Stream } from "effect"
import type { ConversationId } from "../../schema/ConversationId.js"
import { ConversationStore } from "../../services/ConversationStore.js"
import { SecretRedactor } from "../../services/SecretRedactor.js"
import { TaskSupervisor } from "../../services/TaskSupervisor.js"
import { conversationPage, renderConversationTasks, renderReplies } from "./conversationPage.js"
import { DashboardSettings } from "./DashboardSettings.js"
import { conversationTasks, loadConversation, requireConversation } from "./data.js"
import { pageErrors } from "./errors.js"
import { lastEventId } from "./lastEventId.js"
import { tailLog } from "./liveLog.js"
import { conversationIdParam, logQuery } from "./params.js"
import { htmlResponse } from "./responses.js"
import { type SseEvent, sseResponse } from "./sse.js"
import { findLatestTodos, renderEvents, renderTodos } from "./timeline.js"

const REFRESH = "10 seconds"
const BATCH = "150 millis"
const PAGE = 200

const conversation = Effect.gen(function* () {
  const id = yield* conversationIdParam
  const settings = yield* DashboardSettings
  const view = yield* loadConversation(id)
  const now = yield* Clock.currentTimeMillis
  return htmlResponse(conversationPage(view, now, settings.csrfToken))
})

/** New agent events as timeline items, and the plan whenever a new TodoWrite came. */
const timelineEvents = (id: ConversationId, from: number) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const { redact } = yield* SecretRedactor
    return tailLog(from, (offset) => store.readEvents({ conversationId: id }, offset, PAGE)).pipe(
      Stream.flatMap((page) => {
        const rows = page.events.map((row) => ({ ...row, line: redact(row.line) }))
        const out: Array<SseEvent> = [
          { event: "timeline", data: renderEvents(rows).value, id: page.nextOffset },
        ]
        const todos = findLatestTodos(rows)
        if (Option.isSome(todos)) out.push({ event: "todos", data: renderTodos(todos.value).value })
        return Stream.fromIterable(out)
      }),
    )
  })

interface StatusFragments {
  readonly tasks: string
  readonly replies: string
}

/** The task table (Stop buttons) and the replies, re-rendered when a task of this conversation changes. */
const statusEvents = (id: ConversationId) =>
  Effect.gen(function* () {
    const supervisor = yield* TaskSupervisor
    const store = yield* ConversationStore
    const { redact } = yield* SecretRedactor
    const { csrfToken } = yield* DashboardSettings
    const render = Effect.gen(function* () {
      const tasks = yield* conversationTasks(id)
      const replies = yield* store.listReplies(id)
      const now = yield* Clock.currentTimeMillis
      const fragments: StatusFragments = {
        tasks: renderConversationTasks(tasks, now, csrfToken).value,
        replies: renderReplies(
          replies.map((r) => ({
            ...r,
            requestText: redact(r.requestText),
            responseText: redact(r.responseText),
          })),
        ).value,
      }
      return fragments
    })
    const signals = Stream.merge(
      supervisor.changes.pipe(Stream.filter((change) => change.task.conversationId === id)),
      Stream.tick(REFRESH),
    )
    return signals.pipe(
      Stream.groupedWithin(1000, BATCH),
      Stream.filter((batch) => Chunk.isNonEmpty(batch)),
      Stream.mapEffect(() => render),
      Stream.mapAccum(Option.none<StatusFragments>(), (previous, next) => {
        const out: Array<SseEvent> = []
        if (Option.isNone(previous) || previous.value.tasks !== next.tasks)
          out.push({ event: "tasks", data: next.tasks })
        if (Option.isNone(previous) || previous.value.replies !== next.replies) {
          out.push({ event: "replies", data: next.replies })
        }
        return [Option.some(next), out]
      }),
      Stream.flattenIterables,
    )
  })

const conversationStream = Effect.gen(function* () {
  const id = yield* conversationIdParam
  const query = yield* logQuery
  const request = yield* HttpServerRequest.HttpServerRequest
  yield* requireConversation(id)
  // A reconnecting EventSource says where it stopped; that beats the offset in its URL.
  const from = Option.getOrElse(lastEventId(request), () => query.offset)
  const timeline = yield* timelineEvents(id, from)
  const status = yield* statusEvents(id)
  const context = yield* Effect.context<
    ConversationStore | SecretRedactor | TaskSupervisor | DashboardSettings
  >()
  const events = Stream.merge(timeline, status).pipe(
    Stream.tapErrorCause((cause) => Effect.logWarning("dashboard: conversation stream ended", cause)),
    Stream.provideContext(context),
  )
  return sseResponse(events)
})

export const ConversationRoutes = Layer.mergeAll(
  HttpLayerRouter.add("GET", "/conversation/:id", pageErrors(conversation)),
  HttpLayerRouter.add("GET", "/conversation/:id/stream", pageErrors(conversationStream)),
)
