import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { ContainerRuntimeTest } from "../../src/layers/ContainerRuntimeTest.js"
import { collectImages } from "../../src/programs/gateway/collectImages.js"
import { ContainerRuntime } from "../../src/services/ContainerRuntime.js"

const hour = 3_600_000
const dockerfile = new Map([["Dockerfile", Buffer.from("FROM scratch\n")]])

describe("collectImages", () => {
  it.effect(
    "removes this installation's stale images, keeping the newest of each name and images in use",
    () =>
      Effect.gen(function* () {
        const runtime = yield* ContainerRuntime
        const build = (tag: string, role: string | undefined, at: number) =>
          TestClock.setTime(at).pipe(
            Effect.zipRight(
              runtime.buildImage({
                tag,
                context: dockerfile,
                ...(role === undefined ? {} : { labels: { "airut.image": role } }),
              }),
            ),
          )
        yield* build("localhost/airut-repo:aaa", "repo", 0)
        yield* build("localhost/airut-overlay:111", "overlay", 0)
        yield* build("localhost/airut-proxy:p1", "proxy", 0)
        yield* build("localhost/airut-t42-repo:other", "repo", 0)
        yield* build("localhost/airut-base:bookworm", undefined, 0)
        yield* build("localhost/airut-repo:bbb", "repo", 10 * hour)
        yield* build("localhost/airut-overlay:222", "overlay", 10 * hour)
        yield* build("localhost/airut-repo:ccc", "repo", 20 * hour)
        // A task still runs on the old overlay.
        yield* runtime.createContainer({ image: "localhost/airut-overlay:111" })
        yield* TestClock.setTime(30 * hour)

        const result = yield* collectImages({ prefix: "localhost/airut", maxAgeHours: 24 })

        assert.deepStrictEqual(result, { removed: 1, inUse: 1, kept: 4, failed: 0 })
        const present = (tag: string) => Effect.map(runtime.inspectImage(tag), Option.isSome)
        // Stale and unused: gone.
        assert.isFalse(yield* present("localhost/airut-repo:aaa"))
        // Stale but run by a container.
        assert.isTrue(yield* present("localhost/airut-overlay:111"))
        // Newest of its name (the proxy image is never rebuilt by age), younger than the limit,
        // another installation's, or not airut's at all.
        for (const tag of [
          "localhost/airut-proxy:p1",
          "localhost/airut-repo:bbb",
          "localhost/airut-overlay:222",
          "localhost/airut-repo:ccc",
          "localhost/airut-t42-repo:other",
          "localhost/airut-base:bookworm",
        ]) {
          assert.isTrue(yield* present(tag), tag)
        }
      }).pipe(Effect.provide(ContainerRuntimeTest())),
  )

  it.effect("nothing stale: nothing removed", () =>
    Effect.gen(function* () {
      const runtime = yield* ContainerRuntime
      yield* runtime.buildImage({
        tag: "localhost/airut-repo:a",
        context: dockerfile,
        labels: { "airut.image": "repo" },
      })
      yield* TestClock.setTime(1 * hour)
      yield* runtime.buildImage({
        tag: "localhost/airut-repo:b",
        context: dockerfile,
        labels: { "airut.image": "repo" },
      })
      const result = yield* collectImages({ prefix: "localhost/airut", maxAgeHours: 24 })
      assert.deepStrictEqual(result, { removed: 0, inUse: 0, kept: 2, failed: 0 })
    }).pipe(Effect.provide(ContainerRuntimeTest())),
  )
})
