import { randomBytes } from "node:crypto"
import { createServer } from "node:http"
import { HttpLayerRouter, HttpServer, type HttpServerError } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer, Option } from "effect"
import packageJson from "../../../package.json" with { type: "json" }
import { isLoopbackHost, type ServerConfig } from "../../schema/ServerConfig.js"
import type { ConversationStore } from "../../services/ConversationStore.js"
import type { GatewayChannels } from "../../services/GatewayChannels.js"
import type { SecretRedactor } from "../../services/SecretRedactor.js"
import type { TaskSupervisor } from "../../services/TaskSupervisor.js"
import { ApiRoutes } from "./apiRoutes.js"
import { ConversationRoutes } from "./conversationRoutes.js"
import { DashboardSettings } from "./DashboardSettings.js"
import { HomeRoutes } from "./homeRoutes.js"
import { LoginRoutes } from "./loginRoutes.js"
import { NetworkRoutes } from "./networkRoutes.js"
import { SecurityMiddleware } from "./security.js"
import { StaticRoutes } from "./staticRoutes.js"
import { StopRoute } from "./stopRoute.js"

/** The services the dashboard reads (and, for Stop, asks the supervisor). */
export type DashboardRequirements = ConversationStore | TaskSupervisor | GatewayChannels | SecretRedactor

export interface DashboardOptions {
  readonly dashboard: ServerConfig["dashboard"]
  readonly execution: ServerConfig["execution"]
  /** Shown on the pages and by /api/version; the package's own when absent. */
  readonly version?: string
}

const settings = (options: DashboardOptions) =>
  Layer.sync(DashboardSettings, () =>
    DashboardSettings.of({
      token: Option.fromNullable(options.dashboard.token),
      // Fresh per server: a page from an earlier run cannot stop anything in this one.
      csrfToken: randomBytes(32).toString("base64url"),
      version: options.version ?? packageJson.version,
      maxConcurrent: options.execution.max_concurrent,
    }),
  )

const Routes = Layer.mergeAll(
  HomeRoutes,
  ConversationRoutes,
  NetworkRoutes,
  ApiRoutes,
  StopRoute,
  LoginRoutes,
  StaticRoutes,
  SecurityMiddleware,
)

/**
 * The dashboard's routes served on whatever `HttpServer` is provided (tests use
 * `NodeHttpServer.layerTest`). Reads the store, the supervisor's changes and channel health;
 * changes nothing but through `TaskSupervisor.stop`.
 */
export const DashboardApp = (options: DashboardOptions) =>
  HttpLayerRouter.serve(Routes, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provide(settings(options)),
  )

const announce = (options: DashboardOptions) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const server = yield* HttpServer.HttpServer
      const address =
        server.address._tag === "TcpAddress"
          ? `http://${server.address.hostname}:${server.address.port}`
          : server.address.path
      yield* Effect.logInfo(`dashboard listening on ${address}`)
      if (!isLoopbackHost(options.dashboard.host)) {
        yield* Effect.logWarning(
          `the dashboard listens on ${options.dashboard.host}, not a loopback address: anyone who can reach it and has the token can see every task and stop it; put it behind TLS`,
        )
      }
    }),
  )

/**
 * The dashboard on `dashboard.host:dashboard.port`; the address also when it is in use.
 * Provides `HttpServer` so a test that binds port 0 can learn the port.
 */
export const DashboardServer = (
  options: DashboardOptions,
): Layer.Layer<HttpServer.HttpServer, HttpServerError.ServeError, DashboardRequirements> =>
  Layer.mergeAll(DashboardApp(options), announce(options)).pipe(
    Layer.provideMerge(
      NodeHttpServer.layer(() => createServer(), {
        host: options.dashboard.host,
        port: options.dashboard.port,
      }),
    ),
    Layer.map((context) => context.pipe(Context.pick(HttpServer.HttpServer))),
  )

/** What the daemon composes: the dashboard when enabled, nothing otherwise. */
export const DashboardLive = (
  options: DashboardOptions,
): Layer.Layer<never, HttpServerError.ServeError, DashboardRequirements> =>
  options.dashboard.enabled
    ? Layer.provide(Layer.empty, DashboardServer(options))
    : Layer.effectDiscard(Effect.logInfo("dashboard disabled (dashboard.enabled is false)"))
