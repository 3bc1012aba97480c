import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import { ConversationStore } from "../../services/ConversationStore.js"
import { TaskSupervisor } from "../../services/TaskSupervisor.js"
import { sameOrigin, secretEquals } from "./auth.js"
import { DashboardSettings } from "./DashboardSettings.js"
import { apiErrors, Conflict, Forbidden, NotFound } from "./errors.js"
import { taskIdParam } from "./params.js"

const csrfHeader = "x-csrf-token"
const StopForm = Schema.Struct({ csrf: Schema.String })

const isForm = (request: HttpServerRequest.HttpServerRequest) =>
  (request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")

/** The token a script sends in `X-CSRF-Token`, or a page's form in its `csrf` field. */
const presentedToken = (request: HttpServerRequest.HttpServerRequest) =>
  isForm(request)
    ? HttpServerRequest.schemaBodyUrlParams(StopForm).pipe(
        Effect.map((form) => Option.some(form.csrf)),
        Effect.catchTags({ ParseError: () => Effect.succeedNone, RequestError: () => Effect.succeedNone }),
      )
    : Effect.succeed(Option.fromNullable(request.headers[csrfHeader]))

/**
 * Stops a queued or running task. Guarded against cross-site requests twice over: the page's
 * per-process token must come back, and a browser's Origin must be this dashboard. A form post
 * returns to the conversation page; anything else gets JSON.
 */
const stop = Effect.gen(function* () {
  const request = yield* HttpServerRequest.HttpServerRequest
  const { csrfToken } = yield* DashboardSettings
  const taskId = yield* taskIdParam
  const token = yield* presentedToken(request)
  if (!sameOrigin(request)) return yield* new Forbidden({ message: "cross-origin request refused" })
  if (Option.isNone(token) || !secretEquals(token.value, csrfToken)) {
    return yield* new Forbidden({ message: "missing or wrong CSRF token; reload the page and try again" })
  }
  const store = yield* ConversationStore
  const task = yield* store
    .getTask(taskId)
    .pipe(Effect.catchTag("TaskNotFound", () => Effect.fail(new NotFound({ message: `no task ${taskId}` }))))
  yield* Effect.flatMap(TaskSupervisor, (s) => s.stop(taskId)).pipe(
    Effect.catchTags({
      TaskNotFound: () => Effect.fail(new NotFound({ message: `no task ${taskId}` })),
      TaskAlreadyCompleted: () =>
        Effect.fail(new Conflict({ message: `task ${taskId} has already finished` })),
    }),
  )
  yield* Effect.logInfo(`dashboard: task ${taskId} stopped on request`)
  return isForm(request)
    ? HttpServerResponse.redirect(`/conversation/${task.conversationId}`, { status: 303 })
    : HttpServerResponse.unsafeJson({ taskId, stopped: true })
})

export const StopRoute = HttpLayerRouter.add("POST", "/api/tasks/:taskId/stop", apiErrors(stop))
