import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Ref, TestClock } from "effect"
import { makeTtlCache } from "../../src/layers/slack/ttlCache.js"

describe("TtlCache (Slack directory lookups)", () => {
  it.effect(
    "serves a value for its ttl, refreshes after it, and stands in a stale one only up to maxStale",
    () =>
      Effect.gen(function* () {
        const calls = yield* Ref.make(0)
        const failing = yield* Ref.make(false)
        const stale = yield* Ref.make<ReadonlyArray<string>>([])
        const cache = yield* makeTtlCache({
          lookup: (key: string) =>
            Effect.gen(function* () {
              const n = yield* Ref.updateAndGet(calls, (c) => c + 1)
              if (yield* Ref.get(failing)) return yield* Effect.fail(`lookup of ${key} failed`)
              return `${key}#${n}`
            }),
          ttl: "5 minutes",
          maxStale: "1 hour",
          onStale: (key, error) => Ref.update(stale, (all) => [...all, `${key}: ${error}`]),
        })

        assert.strictEqual(yield* cache.get("U1"), "U1#1")
        yield* TestClock.adjust("4 minutes")
        assert.strictEqual(yield* cache.get("U1"), "U1#1")
        assert.strictEqual(yield* Ref.get(calls), 1)

        // Past the ttl: looked up again.
        yield* TestClock.adjust("2 minutes")
        assert.strictEqual(yield* cache.get("U1"), "U1#2")

        // Slack fails: the last value stands in (and the failure is told) while it is under an hour old.
        yield* Ref.set(failing, true)
        yield* TestClock.adjust("50 minutes")
        assert.strictEqual(yield* cache.get("U1"), "U1#2")
        assert.deepStrictEqual(yield* Ref.get(stale), ["U1: lookup of U1 failed"])

        // Older than maxStale: the failure is returned, never an old admission.
        yield* TestClock.adjust("11 minutes")
        assert.deepStrictEqual(yield* Effect.either(cache.get("U1")), Either.left("lookup of U1 failed"))
        // A key never fetched has nothing to stand in.
        assert.deepStrictEqual(yield* Effect.either(cache.get("U2")), Either.left("lookup of U2 failed"))
      }),
  )
})
