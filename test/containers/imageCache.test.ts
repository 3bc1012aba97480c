import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, TestClock } from "effect"
import { ContainerRuntimeTest, FakeEngine } from "../../src/layers/ContainerRuntimeTest.js"
import { ImageCacheLive } from "../../src/layers/ImageCacheLive.js"
import { ContainerRuntime, ImageBuildFailed } from "../../src/services/ContainerRuntime.js"
import { ImageCache } from "../../src/services/ImageCache.js"

const files = (entries: Record<string, string>) =>
  new Map(Object.entries(entries).map(([name, text]) => [name, Buffer.from(text, "utf8")]))
const context = files({ Dockerfile: "FROM localhost/airut-base:bookworm\n", "setup.sh": "echo hi\n" })

const withEngine = (engine: Layer.Layer<ContainerRuntime | FakeEngine>) =>
  ImageCacheLive({ prefix: "localhost/test" }).pipe(Layer.provideMerge(engine))

const builtTags = Effect.map(
  Effect.flatMap(FakeEngine, (e) => e.builds),
  (builds) => builds.map((b) => `${b.tag.replace(/:.*/, "")}${b.noCache ? " no-cache" : ""}`),
)

describe("ImageCache", () => {
  it.effect("builds the repo layer and the overlay once, then hits the cache", () =>
    Effect.gen(function* () {
      const cache = yield* ImageCache
      const first = yield* cache.ensureImage({ context })
      assert.strictEqual(first.repo, "built")
      assert.strictEqual(first.overlay, "built")
      assert.match(first.repoTag, /^localhost\/test-repo:[0-9a-f]{64}$/)
      assert.match(first.tag, /^localhost\/test-overlay:[0-9a-f]{64}$/)
      const second = yield* cache.ensureImage({ context })
      assert.deepStrictEqual(second, { ...first, repo: "cached", overlay: "cached" })
      assert.deepStrictEqual(yield* builtTags, ["localhost/test-repo", "localhost/test-overlay"])
    }).pipe(Effect.provide(withEngine(ContainerRuntimeTest()))),
  )

  it.effect("the overlay starts from the repo tag, with an executable entrypoint that execs the agent", () =>
    Effect.gen(function* () {
      const ref = yield* (yield* ImageCache).ensureImage({ context })
      const overlay = (yield* (yield* FakeEngine).builds)[1]
      const text = (name: string) =>
        Buffer.from(overlay?.context.get(name) ?? new Uint8Array()).toString("utf8")
      assert.include(text("Dockerfile"), `FROM ${ref.repoTag}\n`)
      assert.include(text("Dockerfile"), 'ENTRYPOINT ["/airut-entrypoint.sh"]')
      assert.include(text("airut-entrypoint.sh"), 'exec /opt/claude/claude "$@"')
      assert.include(text("airut-entrypoint.sh"), "/usr/local/share/ca-certificates/airut-proxy-ca.crt")
      assert.deepStrictEqual(overlay?.executables, ["airut-entrypoint.sh"])
      const passthrough = yield* (yield* ImageCache).ensureImage({ context, entrypoint: "passthrough" })
      assert.strictEqual(passthrough.repo, "cached")
      assert.notStrictEqual(passthrough.tag, ref.tag)
    }).pipe(Effect.provide(withEngine(ContainerRuntimeTest()))),
  )

  it.effect("a changed context file makes a new repo image", () =>
    Effect.gen(function* () {
      const cache = yield* ImageCache
      const first = yield* cache.ensureImage({ context })
      const changed = yield* cache.ensureImage({
        context: new Map([...context, ["setup.sh", Buffer.from("echo bye\n")]]),
      })
      assert.notStrictEqual(changed.repoTag, first.repoTag)
      assert.notStrictEqual(changed.tag, first.tag)
      assert.strictEqual(changed.repo, "built")
      assert.strictEqual((yield* (yield* FakeEngine).builds).length, 4)
    }).pipe(Effect.provide(withEngine(ContainerRuntimeTest()))),
  )

  it.effect("three concurrent requests for one image build it once; another image builds alongside", () =>
    Effect.gen(function* () {
      const cache = yield* ImageCache
      const other = files({ Dockerfile: "FROM localhost/airut-base:bookworm\nRUN true\n" })
      const fiber = yield* Effect.all(
        [
          cache.ensureImage({ context }),
          cache.ensureImage({ context }),
          cache.ensureImage({ context }),
          cache.ensureImage({ context: other }),
        ],
        { concurrency: "unbounded" },
      ).pipe(Effect.fork)
      // Repo layers of both images build in parallel (10 s), then both overlays (10 s).
      yield* TestClock.adjust("20 seconds")
      const refs = yield* Fiber.join(fiber)
      assert.strictEqual(new Set(refs.slice(0, 3).map((r) => r.tag)).size, 1)
      assert.deepStrictEqual(yield* builtTags, [
        "localhost/test-repo",
        "localhost/test-repo",
        "localhost/test-overlay",
        "localhost/test-overlay",
      ])
    }).pipe(Effect.provide(withEngine(ContainerRuntimeTest({ buildTime: "10 seconds" })))),
  )

  it.effect("an image as old as max age is rebuilt without cache, and so is its overlay", () =>
    Effect.gen(function* () {
      const cache = yield* ImageCache
      yield* cache.ensureImage({ context })
      yield* TestClock.adjust("23 hours")
      const young = yield* cache.ensureImage({ context })
      assert.deepStrictEqual([young.repo, young.overlay], ["cached", "cached"])
      yield* TestClock.adjust("1 hour")
      const stale = yield* cache.ensureImage({ context })
      assert.deepStrictEqual([stale.repo, stale.overlay], ["rebuilt", "rebuilt"])
      assert.deepStrictEqual(yield* builtTags, [
        "localhost/test-repo",
        "localhost/test-overlay",
        "localhost/test-repo no-cache",
        "localhost/test-overlay no-cache",
      ])
    }).pipe(Effect.provide(withEngine(ContainerRuntimeTest()))),
  )

  it.effect("an overlay older than its repo image is rebuilt on the new one", () =>
    Effect.gen(function* () {
      const cache = yield* ImageCache
      const runtime = yield* ContainerRuntime
      const first = yield* cache.ensureImage({ context })
      yield* TestClock.adjust("1 hour")
      // Someone (another host process, a prune) rebuilt the repo tag since.
      yield* runtime.removeImage(first.repoTag)
      const again = yield* cache.ensureImage({ context })
      assert.deepStrictEqual([again.repo, again.overlay], ["built", "built"])
    }).pipe(Effect.provide(withEngine(ContainerRuntimeTest()))),
  )

  it.effect("a failed build is an ImageBuildFailed for every waiter, and the next request retries", () =>
    Effect.gen(function* () {
      const cache = yield* ImageCache
      const fiber = yield* Effect.all(
        [cache.ensureImage({ context }).pipe(Effect.flip), cache.ensureImage({ context }).pipe(Effect.flip)],
        { concurrency: "unbounded" },
      ).pipe(Effect.fork)
      yield* TestClock.adjust("1 second")
      const [a, b] = yield* Fiber.join(fiber)
      assert.strictEqual(a?._tag, "ImageBuildFailed")
      assert.strictEqual(a, b)
      if (a?._tag === "ImageBuildFailed")
        assert.deepStrictEqual(a.lastLines, ["E: Unable to locate package nope"])
      assert.strictEqual((yield* (yield* FakeEngine).builds).length, 1)
    }).pipe(
      Effect.provide(
        withEngine(
          ContainerRuntimeTest({
            buildTime: "1 second",
            onBuild: (request) =>
              Effect.fail(
                new ImageBuildFailed({
                  tag: request.tag,
                  detail: "exit status 100",
                  lastLines: ["E: Unable to locate package nope"],
                }),
              ),
          }),
        ),
      ),
    ),
  )

  it.effect("a context without a Dockerfile fails before any build", () =>
    Effect.gen(function* () {
      const error = yield* (yield* ImageCache)
        .ensureImage({ context: files({ "setup.sh": "" }) })
        .pipe(Effect.flip)
      assert.strictEqual(error._tag, "ImageBuildFailed")
      assert.match(error.message, /no Dockerfile/)
      assert.strictEqual((yield* (yield* FakeEngine).builds).length, 0)
    }).pipe(Effect.provide(withEngine(ContainerRuntimeTest()))),
  )
})
