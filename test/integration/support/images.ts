import { Effect, Layer, Ref } from "effect"
import { ContainerRuntime } from "../../../src/services/ContainerRuntime.js"
import { PodmanRuntime } from "./podman.js"

/**
 * The live runtime, removing every image its builds made when the layer closes (newest first:
 * overlays are children of repo images), replaced ones included.
 */
export const PodmanRuntimeRemovingImages = Layer.scoped(
  ContainerRuntime,
  Effect.gen(function* () {
    const live = yield* ContainerRuntime
    const made = yield* Ref.make<ReadonlyArray<string>>([])
    yield* Effect.addFinalizer(() =>
      Ref.get(made).pipe(
        Effect.flatMap((ids) =>
          Effect.forEach(
            [...new Set(ids)].reverse(),
            (id) => live.removeImage(id).pipe(Effect.catchAllCause(Effect.logWarning)),
            { discard: true },
          ),
        ),
      ),
    )
    return ContainerRuntime.of({
      ...live,
      buildImage: (request) =>
        live.buildImage(request).pipe(Effect.tap((image) => Ref.update(made, (all) => [...all, image.id]))),
    })
  }),
).pipe(Layer.provideMerge(PodmanRuntime))
