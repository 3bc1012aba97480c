import { HttpLayerRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { isAuthorized } from "./auth.js"
import { DashboardSettings } from "./DashboardSettings.js"
import { errorPage } from "./layout.js"
import { loginPage } from "./loginPage.js"

/**
 * Our own files only; no inline script or style, no framing, no plugins, forms post only to us.
 * Whatever markup might get through escaping cannot run.
 */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ")

const securityHeaders = {
  "content-security-policy": contentSecurityPolicy,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  // Not no-referrer: under it a browser's form post says `Origin: null`, and the Stop button's
  // origin check would refuse our own page. same-origin tells other sites nothing.
  "referrer-policy": "same-origin",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
}

/** Reachable without the token: the login form and the files it needs. */
const isPublic = (path: string) => path === "/login" || path.startsWith("/static/")

const pathOf = (url: string) => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

const isApi = (path: string) => path.startsWith("/api/")

const unauthorized = (path: string) =>
  isApi(path) || path.endsWith("/stream") || path === "/events"
    ? HttpServerResponse.unsafeJson(
        { error: "Unauthorized", message: "send the dashboard token as a bearer token" },
        { status: 401, headers: { "www-authenticate": 'Bearer realm="airut"' } },
      )
    : HttpServerResponse.text(loginPage(false).value, {
        status: 401,
        contentType: "text/html; charset=utf-8",
      })

const notFound = (path: string) =>
  isApi(path)
    ? HttpServerResponse.unsafeJson({ error: "NotFound", message: `no route ${path}` }, { status: 404 })
    : HttpServerResponse.text(errorPage(404, "There is no such page.").value, {
        status: 404,
        contentType: "text/html; charset=utf-8",
      })

const isRouteNotFound = (e: unknown) => HttpServerError.isServerError(e) && e._tag === "RouteNotFound"

/**
 * Around every route: the token check (when one is configured), our 404, and the security
 * headers on every answer, errors included. Responses that say nothing about caching are not
 * cached: pages and the API show live state.
 */
export const SecurityMiddleware = HttpLayerRouter.middleware(
  Effect.gen(function* () {
    const settings = yield* DashboardSettings
    return (app) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const path = pathOf(request.url)
        const response =
          isPublic(path) || isAuthorized(request, settings.token)
            ? yield* app.pipe(Effect.catchIf(isRouteNotFound, () => Effect.succeed(notFound(path))))
            : unauthorized(path)
        const cache = response.headers["cache-control"] === undefined ? { "cache-control": "no-store" } : {}
        return HttpServerResponse.setHeaders(response, { ...securityHeaders, ...cache })
      })
  }),
  { global: true },
)
