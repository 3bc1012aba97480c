import { assert, layer } from "@effect/vitest"
import { Chunk, Effect, Layer, Option, Ref, Stream } from "effect"
import { ImageCacheLive, type ImageCacheOptions } from "../../src/layers/ImageCacheLive.js"
import { ContainerRuntime } from "../../src/services/ContainerRuntime.js"
import { runContainer } from "../../src/services/ContainerScope.js"
import { ImageCache, type ImageRef } from "../../src/services/ImageCache.js"
import { PodmanRuntimeRemovingImages } from "./support/images.js"
import { baseImage, uniqueRunId } from "./support/podman.js"

const files = (entries: Record<string, string>) =>
  new Map(Object.entries(entries).map(([name, text]) => [name, Buffer.from(text, "utf8")]))

// COPY only: a build is a fraction of a second, so the suite stays quick.
const contextWith = (marker: string) =>
  files({
    Dockerfile: `FROM ${baseImage}\nCOPY marker.txt /etc/airut-marker.txt\n`,
    "marker.txt": `${marker}\n`,
  })

/** Builds counted per test: the runtime's buildImage is wrapped again inside each test. */
const countingBuilds = Effect.gen(function* () {
  const runtime = yield* ContainerRuntime
  const count = yield* Ref.make(0)
  const counted = ContainerRuntime.of({
    ...runtime,
    buildImage: (request) =>
      Ref.update(count, (n) => n + 1).pipe(Effect.zipRight(runtime.buildImage(request))),
  })
  return { counted, count }
})

/** Runs `use` with an image cache of its own over `runtime`. */
const withCache = <A, E>(
  runtime: ContainerRuntime["Type"],
  options: ImageCacheOptions,
  use: (cache: ImageCache["Type"]) => Effect.Effect<A, E>,
) =>
  Effect.flatMap(ImageCache, use).pipe(
    Effect.provide(ImageCacheLive(options).pipe(Layer.provide(Layer.succeed(ContainerRuntime, runtime)))),
  )

const readMarker = (ref: ImageRef) =>
  Effect.scoped(
    Effect.gen(function* () {
      // The passthrough overlay runs the command it is given.
      const c = yield* runContainer({ image: ref.tag, command: ["cat", "/etc/airut-marker.txt"] })
      const lines = Chunk.toArray(yield* Stream.runCollect(c.stdout))
      assert.strictEqual((yield* c.wait).exitCode, 0)
      return lines
    }),
  )

layer(PodmanRuntimeRemovingImages, { excludeTestServices: true, timeout: "60 seconds" })(
  "ImageCache on Podman",
  (it) => {
    it.effect("the second request is a cache hit; a changed context file makes a new image", () =>
      Effect.gen(function* () {
        const { counted, count } = yield* countingBuilds
        const prefix = `localhost/airut-test-${yield* uniqueRunId}`
        const first = yield* withCache(counted, { prefix }, (c) =>
          c.ensureImage({ context: contextWith("one"), entrypoint: "passthrough" }),
        )
        assert.deepStrictEqual([first.repo, first.overlay], ["built", "built"])
        assert.strictEqual(yield* Ref.get(count), 2)
        assert.deepStrictEqual(yield* readMarker(first), ["one"])

        const again = yield* withCache(counted, { prefix }, (c) =>
          c.ensureImage({ context: contextWith("one"), entrypoint: "passthrough" }),
        )
        assert.deepStrictEqual(again, { ...first, repo: "cached", overlay: "cached" })
        assert.strictEqual(yield* Ref.get(count), 2)

        const changed = yield* withCache(counted, { prefix }, (c) =>
          c.ensureImage({ context: contextWith("two"), entrypoint: "passthrough" }),
        )
        assert.notStrictEqual(changed.repoTag, first.repoTag)
        assert.deepStrictEqual([changed.repo, changed.overlay], ["built", "built"])
        assert.deepStrictEqual(yield* readMarker(changed), ["two"])
      }),
    )

    it.effect("three concurrent requests for one image build it once", () =>
      Effect.gen(function* () {
        const { counted, count } = yield* countingBuilds
        const prefix = `localhost/airut-test-${yield* uniqueRunId}`
        const refs = yield* withCache(counted, { prefix }, (cache) =>
          Effect.all(
            [1, 2, 3].map(() => cache.ensureImage({ context: contextWith("shared") })),
            { concurrency: "unbounded" },
          ),
        )
        assert.strictEqual(new Set(refs.map((r) => r.tag)).size, 1)
        assert.strictEqual(yield* Ref.get(count), 2, "one repo build and one overlay build")
      }),
    )

    it.effect("an image older than max age is rebuilt without cache", () =>
      Effect.gen(function* () {
        const runtime = yield* ContainerRuntime
        const prefix = `localhost/airut-test-${yield* uniqueRunId}`
        const first = yield* withCache(runtime, { prefix }, (c) =>
          c.ensureImage({ context: contextWith("aging") }),
        )
        const before = yield* runtime.inspectImage(first.repoTag)
        const overlayBefore = yield* runtime.inspectImage(first.tag)
        // Zero max age: every image is already too old.
        const stale = yield* withCache(runtime, { prefix, maxAge: "0 millis" }, (c) =>
          c.ensureImage({ context: contextWith("aging") }),
        )
        assert.deepStrictEqual([stale.repo, stale.overlay], ["rebuilt", "rebuilt"])
        const after = yield* runtime.inspectImage(first.repoTag)
        assert.isTrue(
          before._tag === "Some" && after._tag === "Some" && after.value.createdAt > before.value.createdAt,
        )
        // The replaced overlay is removed, not left dangling.
        assert.isTrue(Option.isSome(overlayBefore))
        if (Option.isSome(overlayBefore)) {
          assert.isTrue(Option.isNone(yield* runtime.inspectImage(overlayBefore.value.id)))
        }
      }),
    )

    it.effect("a failing build is an ImageBuildFailed carrying the end of the build output", () =>
      Effect.gen(function* () {
        const runtime = yield* ContainerRuntime
        const prefix = `localhost/airut-test-${yield* uniqueRunId}`
        const error = yield* withCache(runtime, { prefix }, (c) =>
          c.ensureImage({
            context: files({ Dockerfile: `FROM ${baseImage}\nRUN echo fetching the moon && exit 3\n` }),
          }),
        ).pipe(Effect.flip)
        assert.strictEqual(error._tag, "ImageBuildFailed")
        if (error._tag === "ImageBuildFailed") {
          assert.include(error.lastLines.join("\n"), "fetching the moon")
          assert.match(error.detail, /exit status 3/)
        }
      }),
    )
  },
)
