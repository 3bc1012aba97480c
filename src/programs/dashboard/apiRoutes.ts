import { HttpLayerRouter } from "@effect/platform"
import { Effect, Layer } from "effect"
import { ConversationPayload } from "../../schema/DashboardConversation.js"
import { HealthPayload, VersionPayload } from "../../schema/DashboardHealth.js"
import { EventsPayload, NetworkPayload } from "../../schema/DashboardLogs.js"
import { TaskListPayload } from "../../schema/DashboardTask.js"
import { ConversationStore } from "../../services/ConversationStore.js"
import { GatewayChannels } from "../../services/GatewayChannels.js"
import { TaskSupervisor } from "../../services/TaskSupervisor.js"
import { DashboardSettings } from "./DashboardSettings.js"
import { loadConversation, loadEvents, loadNetwork, loadTaskList } from "./data.js"
import { apiErrors } from "./errors.js"
import { conversationIdParam, logQuery } from "./params.js"
import { jsonResponse } from "./responses.js"

const tasks = Effect.flatMap(loadTaskList, jsonResponse(TaskListPayload))

const conversation = Effect.gen(function* () {
  const id = yield* conversationIdParam
  const { conversation, tasks, replies, todos } = yield* loadConversation(id)
  return yield* jsonResponse(ConversationPayload)({ conversation, tasks, replies, todos })
})

const events = Effect.gen(function* () {
  const id = yield* conversationIdParam
  const query = yield* logQuery
  return yield* jsonResponse(EventsPayload)(yield* loadEvents(id, query.offset, query.limit))
})

const network = Effect.gen(function* () {
  const id = yield* conversationIdParam
  const query = yield* logQuery
  return yield* jsonResponse(NetworkPayload)(yield* loadNetwork(id, query.offset, query.limit, query.blocked))
})

/** 200 while the store answers (channels may be degraded: the body says so), 503 when it does not. */
const health = Effect.gen(function* () {
  const store = yield* ConversationStore
  const settings = yield* DashboardSettings
  const channels = yield* Effect.flatMap(GatewayChannels, (c) => c.statuses)
  const active = yield* Effect.flatMap(TaskSupervisor, (s) => s.active)
  const storeOk = yield* store.healthCheck.pipe(
    Effect.as(true),
    Effect.catchTag("StoreError", (error) =>
      Effect.as(Effect.logError("dashboard health: the store does not answer", error), false),
    ),
  )
  const allConnected = channels.every((c) => c.health._tag === "Connected")
  const payload: HealthPayload = {
    status: !storeOk ? "error" : allConnected ? "ok" : "degraded",
    store: storeOk ? "ok" : "error",
    channels,
    activeTasks: active.length,
    maxConcurrent: settings.maxConcurrent,
  }
  return yield* jsonResponse(HealthPayload)(payload, storeOk ? 200 : 503)
})

const version = Effect.flatMap(DashboardSettings, (s) =>
  jsonResponse(VersionPayload)({ name: "airut", version: s.version }),
)

export const ApiRoutes = Layer.mergeAll(
  HttpLayerRouter.add("GET", "/api/tasks", apiErrors(tasks)),
  HttpLayerRouter.add("GET", "/api/conversations/:id", apiErrors(conversation)),
  HttpLayerRouter.add("GET", "/api/conversations/:id/events", apiErrors(events)),
  HttpLayerRouter.add("GET", "/api/conversations/:id/network", apiErrors(network)),
  HttpLayerRouter.add("GET", "/api/health", health),
  HttpLayerRouter.add("GET", "/api/version", version),
)
