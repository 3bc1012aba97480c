import { Context, type Effect } from "effect"
import type { ServerConfig } from "../schema/ServerConfig.js"

/**
 * The server config as it is now. Reloads (SIGHUP, file change) replace it; each task reads it
 * when it starts, so task-level settings (model, secrets, limits) apply from the next task on.
 */
export interface GatewayConfigShape {
  readonly current: Effect.Effect<ServerConfig>
}

export class GatewayConfig extends Context.Tag("airut/GatewayConfig")<GatewayConfig, GatewayConfigShape>() {}
