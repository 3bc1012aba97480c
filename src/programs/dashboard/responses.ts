import { HttpServerResponse } from "@effect/platform"
import { Effect, type Schema } from "effect"
import type { Html } from "./html.js"

export const htmlResponse = (page: Html, status = 200): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(page.value, { status, contentType: "text/html; charset=utf-8" })

/**
 * A payload encoded by its schema. Encoding a value the code built to that schema cannot fail,
 * so a failure is a defect.
 */
export const jsonResponse =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (body: A, status = 200): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
    HttpServerResponse.schemaJson(schema)(body, { status }).pipe(Effect.orDie)
