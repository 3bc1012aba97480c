import { HttpServerResponse } from "@effect/platform"
import { Data, Effect } from "effect"
import type { StoreError } from "../../services/ConversationStore.js"
import { errorPage } from "./layout.js"
import { htmlResponse } from "./responses.js"

/** A path or query parameter that does not decode; `message` says which and why. */
export class BadRequest extends Data.TaggedError("BadRequest")<{ readonly message: string }> {}

/** No such conversation or task. */
export class NotFound extends Data.TaggedError("NotFound")<{ readonly message: string }> {}

/** The request may not change anything: missing or wrong CSRF token, or a foreign Origin. */
export class Forbidden extends Data.TaggedError("Forbidden")<{ readonly message: string }> {}

/** The task already finished, so there is nothing to stop. */
export class Conflict extends Data.TaggedError("Conflict")<{ readonly message: string }> {}

export type RouteError = BadRequest | NotFound | Forbidden | Conflict | StoreError

const statusOf = (error: RouteError): number => {
  switch (error._tag) {
    case "BadRequest":
      return 400
    case "Forbidden":
      return 403
    case "NotFound":
      return 404
    case "Conflict":
      return 409
    case "StoreError":
      return 500
  }
}

// The store's own message may name paths; the client gets a plain sentence and the log the detail.
const publicMessage = (error: RouteError): string =>
  error._tag === "StoreError" ? "the conversation store failed; see the daemon log" : error.message

const logged = (error: RouteError) =>
  error._tag === "StoreError" ? Effect.logError("dashboard request failed", error) : Effect.void

// Every tag named: a new error kind must be given a status here before it compiles.
const catchRouteErrors = <R>(
  effect: Effect.Effect<HttpServerResponse.HttpServerResponse, RouteError, R>,
  toResponse: (error: RouteError) => HttpServerResponse.HttpServerResponse,
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> => {
  const respond = (error: RouteError) => Effect.as(logged(error), toResponse(error))
  return Effect.catchTags(effect, {
    BadRequest: respond,
    NotFound: respond,
    Forbidden: respond,
    Conflict: respond,
    StoreError: respond,
  })
}

/** JSON API routes: every typed failure becomes `{ error, message }` with its status. */
export const apiErrors = <R>(
  effect: Effect.Effect<HttpServerResponse.HttpServerResponse, RouteError, R>,
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  catchRouteErrors(effect, (error) =>
    HttpServerResponse.unsafeJson(
      { error: error._tag, message: publicMessage(error) },
      { status: statusOf(error) },
    ),
  )

/** Page routes: every typed failure becomes a small HTML page with its status. */
export const pageErrors = <R>(
  effect: Effect.Effect<HttpServerResponse.HttpServerResponse, RouteError, R>,
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  catchRouteErrors(effect, (error) =>
    htmlResponse(errorPage(statusOf(error), publicMessage(error)), statusOf(error)),
  )
