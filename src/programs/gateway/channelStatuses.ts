import { Effect, Stream } from "effect"
import type { ChannelShape } from "../../services/Channel.js"
import { type ChannelStatus, GatewayChannels } from "../../services/GatewayChannels.js"

/** The daemon's open channels as the dashboard sees them: each one's health, now and as it changes. */
export const channelStatuses = (channels: ReadonlyArray<ChannelShape>) =>
  GatewayChannels.of({
    statuses: Effect.forEach(channels, (channel) =>
      Effect.map(
        channel.health,
        (health): ChannelStatus => ({ repoId: channel.repoId, kind: channel.kind, health }),
      ),
    ),
    changes: Stream.mergeAll(
      channels.map((channel) =>
        Stream.map(
          channel.healthChanges,
          (health): ChannelStatus => ({ repoId: channel.repoId, kind: channel.kind, health }),
        ),
      ),
      { concurrency: "unbounded" },
    ),
  })
