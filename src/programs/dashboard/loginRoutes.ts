import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, Option, Schema } from "effect"
import { sameOrigin, sessionCookie, sessionValue, tokenMatches } from "./auth.js"
import { DashboardSettings } from "./DashboardSettings.js"
import { loginPage } from "./loginPage.js"
import { htmlResponse } from "./responses.js"

const LoginForm = Schema.Struct({ token: Schema.String })

const form = Effect.map(DashboardSettings, (settings) =>
  Option.isNone(settings.token)
    ? HttpServerResponse.redirect("/", { status: 303 })
    : htmlResponse(loginPage(false)),
)

/**
 * Trades the token for a session cookie (HttpOnly, SameSite=Strict), so a browser can use the
 * dashboard without a header. The cookie holds a digest of the token, never the token.
 */
const login = Effect.gen(function* () {
  const settings = yield* DashboardSettings
  if (Option.isNone(settings.token)) return HttpServerResponse.redirect("/", { status: 303 })
  const request = yield* HttpServerRequest.HttpServerRequest
  const given = yield* HttpServerRequest.schemaBodyUrlParams(LoginForm).pipe(
    Effect.map((f) => Option.some(f.token)),
    Effect.catchTags({ ParseError: () => Effect.succeedNone, RequestError: () => Effect.succeedNone }),
  )
  if (!sameOrigin(request) || Option.isNone(given) || !tokenMatches(given.value, settings.token.value)) {
    yield* Effect.logWarning("dashboard: a sign-in with a wrong token was refused")
    return htmlResponse(loginPage(true), 401)
  }
  return yield* HttpServerResponse.redirect("/", { status: 303 }).pipe(
    HttpServerResponse.setCookie(sessionCookie, sessionValue(settings.token.value), {
      httpOnly: true,
      sameSite: "strict",
      path: "/",
    }),
    Effect.orDie,
  )
})

export const LoginRoutes = Layer.mergeAll(
  HttpLayerRouter.add("GET", "/login", form),
  HttpLayerRouter.add("POST", "/login", login),
)
