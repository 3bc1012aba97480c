import { Schema } from "effect"
import { ChannelHealth } from "./ChannelHealth.js"
import { ChannelKind } from "./ChannelKind.js"

export const ChannelStatusView = Schema.Struct({
  repoId: Schema.String,
  kind: ChannelKind,
  health: ChannelHealth,
}).annotations({ identifier: "ChannelStatusView" })
export interface ChannelStatusView extends Schema.Schema.Type<typeof ChannelStatusView> {}

/**
 * `GET /api/health` (what `airut check` asks a running daemon). `ok`: the store answers and
 * every channel is connected; `degraded`: some channel is starting, reconnecting or failed;
 * `error`: the store does not answer (served with status 503).
 */
export const HealthPayload = Schema.Struct({
  status: Schema.Literal("ok", "degraded", "error"),
  store: Schema.Literal("ok", "error"),
  channels: Schema.Array(ChannelStatusView),
  activeTasks: Schema.NonNegativeInt,
  maxConcurrent: Schema.NonNegativeInt,
}).annotations({ identifier: "HealthPayload" })
export interface HealthPayload extends Schema.Schema.Type<typeof HealthPayload> {}

/** `GET /api/version`. */
export const VersionPayload = Schema.Struct({
  name: Schema.Literal("airut"),
  version: Schema.String,
}).annotations({ identifier: "VersionPayload" })
export interface VersionPayload extends Schema.Schema.Type<typeof VersionPayload> {}

/** The body of every 4xx/5xx answer of the JSON API. */
export const ApiErrorPayload = Schema.Struct({
  error: Schema.String,
  message: Schema.String,
}).annotations({ identifier: "ApiErrorPayload" })
export interface ApiErrorPayload extends Schema.Schema.Type<typeof ApiErrorPayload> {}
