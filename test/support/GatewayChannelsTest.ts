/** GatewayChannels for dashboard tests: statuses the test sets through `ChannelsDriver`. */
import { Context, Effect, Layer, PubSub, Ref, Stream } from "effect"
import { type ChannelStatus, GatewayChannels } from "../../src/services/GatewayChannels.js"

export class ChannelsDriver extends Context.Tag("test/ChannelsDriver")<
  ChannelsDriver,
  { readonly set: (status: ChannelStatus) => Effect.Effect<void> }
>() {}

const sameChannel = (a: ChannelStatus, b: ChannelStatus) => a.repoId === b.repoId && a.kind === b.kind

export const GatewayChannelsTest = (
  initial: ReadonlyArray<ChannelStatus>,
): Layer.Layer<GatewayChannels | ChannelsDriver> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const state = yield* Ref.make<ReadonlyArray<ChannelStatus>>(initial)
      const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<ChannelStatus>(), PubSub.shutdown)
      const changes = Stream.unwrapScoped(
        Effect.gen(function* () {
          // Subscribed before the snapshot is read, so no change falls between the two.
          const subscription = yield* PubSub.subscribe(pubsub)
          const now = yield* Ref.get(state)
          return Stream.concat(Stream.fromIterable(now), Stream.fromQueue(subscription))
        }),
      )
      const set = (status: ChannelStatus) =>
        Ref.update(state, (all) =>
          all.some((s) => sameChannel(s, status))
            ? all.map((s) => (sameChannel(s, status) ? status : s))
            : [...all, status],
        ).pipe(Effect.zipRight(PubSub.publish(pubsub, status)), Effect.asVoid)
      return Context.make(GatewayChannels, GatewayChannels.of({ statuses: Ref.get(state), changes })).pipe(
        Context.add(ChannelsDriver, ChannelsDriver.of({ set })),
      )
    }),
  )
