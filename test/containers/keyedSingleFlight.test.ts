import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref, Scope, TestClock } from "effect"
import { makeKeyedSingleFlight } from "../../src/layers/imageCache/keyedSingleFlight.js"

describe("keyed single flight", () => {
  it.scoped("concurrent calls for one key run the work once and share its result", () =>
    Effect.gen(function* () {
      const flight = yield* makeKeyedSingleFlight<string, number, string>()
      const runs = yield* Ref.make(0)
      const work = Ref.updateAndGet(runs, (n) => n + 1).pipe(Effect.delay("1 second"))
      const fiber = yield* Effect.all([flight("a", work), flight("a", work), flight("a", work)], {
        concurrency: "unbounded",
      }).pipe(Effect.fork)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.join(fiber), [1, 1, 1])
      assert.strictEqual(yield* Ref.get(runs), 1)
      // Finished work is forgotten: the next call runs it again.
      const next = yield* flight("a", work).pipe(Effect.fork)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(next), 2)
    }),
  )

  it.scoped("different keys do not wait for each other", () =>
    Effect.gen(function* () {
      const flight = yield* makeKeyedSingleFlight<string, string, never>()
      const slowGate = yield* Deferred.make<void>()
      const slow = yield* flight("slow", Deferred.await(slowGate).pipe(Effect.as("slow"))).pipe(Effect.fork)
      assert.strictEqual(yield* flight("fast", Effect.succeed("fast")), "fast")
      yield* Deferred.succeed(slowGate, undefined)
      assert.strictEqual(yield* Fiber.join(slow), "slow")
    }),
  )

  it.scoped("a failure reaches every waiter and the next call tries again", () =>
    Effect.gen(function* () {
      const flight = yield* makeKeyedSingleFlight<string, string, string>()
      const attempts = yield* Ref.make(0)
      const work = Ref.updateAndGet(attempts, (n) => n + 1).pipe(
        Effect.delay("1 second"),
        Effect.flatMap((n) => (n === 1 ? Effect.fail("broken") : Effect.succeed("ok"))),
      )
      const both = yield* Effect.all(
        [flight("k", work).pipe(Effect.flip), flight("k", work).pipe(Effect.flip)],
        {
          concurrency: "unbounded",
        },
      ).pipe(Effect.fork)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.join(both), ["broken", "broken"])
      const retry = yield* flight("k", work).pipe(Effect.fork)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(retry), "ok")
    }),
  )

  it.scoped("interrupting the first caller does not cancel the work the others wait for", () =>
    Effect.gen(function* () {
      const flight = yield* makeKeyedSingleFlight<string, string, never>()
      const work = Effect.succeed("done").pipe(Effect.delay("1 second"))
      const first = yield* flight("k", work).pipe(Effect.fork)
      yield* Effect.yieldNow()
      const second = yield* flight("k", work).pipe(Effect.fork)
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(first)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(second), "done")
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(first)))
    }),
  )

  it.effect("after the owner's scope closes, calls end (interrupted) instead of hanging", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const flight = yield* makeKeyedSingleFlight<string, string, never>().pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void)
      const exit = yield* flight("k", Effect.succeed("late")).pipe(Effect.exit)
      assert.isTrue(Exit.isInterrupted(exit))
    }),
  )
})
