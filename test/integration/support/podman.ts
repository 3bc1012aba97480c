import { Config, Effect, Layer, Option, Random } from "effect"
import { DockerRuntimeLive } from "../../../src/layers/DockerRuntimeLive.js"
import { ContainerRuntime } from "../../../src/services/ContainerRuntime.js"

/** The offline base image `scripts/base-image.sh` builds; every test image starts from it. */
export const baseImage = "localhost/airut-base:bookworm"

/**
 * The runtime on the Podman service CI starts (`scripts/podman-service.sh`). Building this layer
 * fails, and with it every test using it, when the engine does not answer or the base image is
 * missing: integration tests never skip.
 */
export const PodmanRuntime = Layer.unwrapEffect(
  Config.string("AIRUT_TEST_PODMAN_SOCKET").pipe(
    Config.withDefault("/run/airut-test/podman.sock"),
    Effect.map((socketPath) => DockerRuntimeLive({ socketPath })),
  ),
).pipe(
  Layer.tap((context) =>
    Effect.gen(function* () {
      const runtime = yield* ContainerRuntime
      yield* runtime.ping
      const base = yield* runtime.inspectImage(baseImage)
      if (Option.isNone(base)) {
        return yield* Effect.dieMessage(`${baseImage} is missing: run bash scripts/base-image.sh`)
      }
    }).pipe(Effect.provide(context)),
  ),
)

/** A label value unique to one test, so sweeps and listings see only that test's objects. */
export const uniqueRunId = Effect.zipWith(
  Random.nextIntBetween(0, 2 ** 31),
  Random.nextIntBetween(0, 2 ** 31),
  (a, b) => `t${a.toString(36)}${b.toString(36)}`,
)
