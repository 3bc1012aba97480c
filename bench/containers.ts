import { Command } from "@effect/platform"
import { Clock, Config, Effect, Layer, Stream } from "effect"
import { DockerRuntimeLive } from "../src/layers/DockerRuntimeLive.js"
import { ImageCacheLive } from "../src/layers/ImageCacheLive.js"
import { ContainerRuntime } from "../src/services/ContainerRuntime.js"
import { runContainer } from "../src/services/ContainerScope.js"
import { ImageCache } from "../src/services/ImageCache.js"
import { type BenchModule, elapsedSince, median, sample, timeIt } from "./Bench.js"

/**
 * Container runtime costs on the Podman service the tests use:
 * - an image cache hit (what every task pays before it runs) against one raw inspect call;
 * - container start to first output line through our runtime against `podman run --rm` of the
 *   same image from the shell, and the same for a whole run (to the container's removal).
 */

const image = "localhost/airut-base:bookworm"

const settings = Effect.all({
  socketPath: Config.string("AIRUT_TEST_PODMAN_SOCKET").pipe(
    Config.withDefault("/run/airut-test/podman.sock"),
  ),
  n: Config.integer("AIRUT_BENCH_N").pipe(Config.withDefault(10)),
})

const context = new Map([
  ["Dockerfile", Buffer.from(`FROM ${image}\nCOPY marker.txt /etc/airut-bench.txt\n`)],
  ["marker.txt", Buffer.from("bench\n")],
])

const run = Effect.gen(function* () {
  const { socketPath, n } = yield* settings
  const runtime = yield* ContainerRuntime
  const cache = yield* ImageCache

  // Cache hit: build once (or find it from an earlier run), then time lookups.
  const ref = yield* cache.ensureImage({ context, entrypoint: "passthrough" })
  const lookups = yield* sample(n * 5, 3, timeIt(cache.ensureImage({ context, entrypoint: "passthrough" })))
  const inspects = yield* sample(n * 5, 3, timeIt(runtime.inspectImage(ref.tag)))

  // First output: ours from the call to runContainer to the first stdout line.
  const oursFirst = Effect.scoped(
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeNanos
      const c = yield* runContainer({ image, command: ["echo", "hi"] })
      yield* c.stdout.pipe(Stream.take(1), Stream.runDrain)
      const ms = yield* elapsedSince(start)
      yield* c.wait
      return ms
    }),
  )
  const podmanRun = Command.make(
    "podman",
    "--url",
    `unix://${socketPath}`,
    "run",
    "--rm",
    image,
    "echo",
    "hi",
  )
  const shellFirst = Effect.scoped(
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeNanos
      const proc = yield* Command.start(podmanRun)
      yield* proc.stdout.pipe(Stream.take(1), Stream.runDrain)
      const ms = yield* elapsedSince(start)
      yield* proc.exitCode
      return ms
    }),
  )
  // Whole run: ours until the scope has removed the container; podman until `run --rm` exits.
  const oursWhole = timeIt(
    Effect.scoped(
      Effect.gen(function* () {
        const c = yield* runContainer({ image, command: ["echo", "hi"] })
        yield* c.stdout.pipe(Stream.runDrain)
        yield* c.wait
      }),
    ),
  )
  const shellWhole = timeIt(Command.exitCode(podmanRun))

  // Interleaved, so a slow moment of the machine hits both sides alike.
  const firsts = yield* sample(n, 2, Effect.all([oursFirst, shellFirst]))
  const wholes = yield* sample(n, 1, Effect.all([oursWhole, shellWhole]))

  yield* runtime.removeImage(ref.tag)
  yield* runtime.removeImage(ref.repoTag)

  return [
    {
      name: "image cache hit (ensureImage)",
      ours: median(lookups),
      samples: lookups.length,
      baseline: { name: "one image inspect call", ms: median(inspects) },
    },
    {
      name: "container start to first output",
      ours: median(firsts.map(([ours]) => ours)),
      samples: firsts.length,
      baseline: { name: "podman run --rm (CLI)", ms: median(firsts.map(([, shell]) => shell)) },
    },
    {
      name: "container run to removal",
      ours: median(wholes.map(([ours]) => ours)),
      samples: wholes.length,
      baseline: { name: "podman run --rm (CLI)", ms: median(wholes.map(([, shell]) => shell)) },
    },
  ]
})

const bench: BenchModule = {
  name: "containers",
  run: Effect.gen(function* () {
    const { socketPath } = yield* settings
    const runtime = DockerRuntimeLive({ socketPath })
    return yield* run.pipe(
      Effect.provide(Layer.provideMerge(ImageCacheLive({ prefix: "localhost/airut-bench" }), runtime)),
    )
  }),
}

export default bench
