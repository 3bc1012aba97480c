import { Context, type Effect, type Stream } from "effect"
import type { ChannelHealth } from "../schema/ChannelHealth.js"
import type { ChannelKind } from "../schema/ChannelKind.js"

/** One configured channel of one repository and how its connection is doing. */
export interface ChannelStatus {
  readonly repoId: string
  readonly kind: ChannelKind
  readonly health: ChannelHealth
}

/** The daemon's channels as the dashboard and `airut check` see them. */
export interface GatewayChannelsShape {
  readonly statuses: Effect.Effect<ReadonlyArray<ChannelStatus>>
  /** Every channel's status now, then each change. */
  readonly changes: Stream.Stream<ChannelStatus>
}

export class GatewayChannels extends Context.Tag("airut/GatewayChannels")<
  GatewayChannels,
  GatewayChannelsShape
>() {}
