import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Option, Redacted } from "effect"
import { HealthPayload } from "../../schema/DashboardHealth.js"
import type { ServerConfig } from "../../schema/ServerConfig.js"

/** What a running daemon says about itself, or why it could not be asked. */
export type DaemonHealth =
  | { readonly _tag: "NotRunning"; readonly url: string }
  | { readonly _tag: "Answered"; readonly url: string; readonly health: HealthPayload }
  | { readonly _tag: "Unreadable"; readonly url: string; readonly detail: string }

/**
 * Asks the dashboard's `/api/health` of the daemon this config describes. A daemon that is not
 * running is a normal answer (`airut check` usually runs before `airut run`); only one that
 * answers badly is a problem.
 */
export const daemonHealth = (config: ServerConfig): Effect.Effect<Option.Option<DaemonHealth>> => {
  const { dashboard } = config
  if (!dashboard.enabled) return Effect.succeed(Option.none())
  const host = dashboard.host.includes(":") ? `[${dashboard.host}]` : dashboard.host
  const url = `http://${host}:${dashboard.port}/api/health`
  const request = HttpClientRequest.get(url).pipe(
    dashboard.token === undefined ? (r) => r : HttpClientRequest.bearerToken(Redacted.value(dashboard.token)),
  )
  return HttpClient.execute(request).pipe(
    Effect.flatMap(HttpClientResponse.schemaBodyJson(HealthPayload)),
    Effect.map((health): DaemonHealth => ({ _tag: "Answered", url, health })),
    Effect.catchTags({
      RequestError: (): Effect.Effect<DaemonHealth> => Effect.succeed({ _tag: "NotRunning", url }),
      ResponseError: (e): Effect.Effect<DaemonHealth> =>
        Effect.succeed({ _tag: "Unreadable", url, detail: `HTTP ${e.response.status}` }),
      ParseError: (e): Effect.Effect<DaemonHealth> =>
        Effect.succeed({
          _tag: "Unreadable",
          url,
          detail: `not a health answer: ${e.message.split("\n")[0]}`,
        }),
    }),
    Effect.timeout("5 seconds"),
    Effect.catchTag("TimeoutException", () =>
      Effect.succeed<DaemonHealth>({ _tag: "Unreadable", url, detail: "no answer within 5 s" }),
    ),
    Effect.map(Option.some),
    Effect.provide(NodeHttpClient.layerUndici),
  )
}
