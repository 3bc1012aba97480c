import { Effect, Equal, Fiber, HashMap, Option, type Scope, SynchronizedRef } from "effect"

/**
 * Runs at most one `work` per key at a time: a caller finding work in flight for its key joins
 * it instead of starting its own. Keys do not block each other. The work runs as a fiber in the
 * owner's `scope` (a layer's), not in the first caller's fiber, so one caller's interruption
 * does not fail the others; closing the scope interrupts the work and its waiters.
 */
export const makeKeyedSingleFlight = <K, A, E>(): Effect.Effect<
  (key: K, work: Effect.Effect<A, E>) => Effect.Effect<A, E>,
  never,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const inFlight = yield* SynchronizedRef.make(HashMap.empty<K, Fiber.Fiber<A, E>>())
    type Joined = readonly [Fiber.Fiber<A, E>, HashMap.HashMap<K, Fiber.Fiber<A, E>>]
    return (key: K, work: Effect.Effect<A, E>) =>
      SynchronizedRef.modifyEffect(inFlight, (running) =>
        Effect.gen(function* () {
          const current = HashMap.get(running, key)
          // A finished fiber still listed (its clean-up had not run yet) is not joined: its
          // result may be stale by now.
          if (Option.isSome(current) && Option.isNone(yield* Fiber.poll(current.value))) {
            const joined: Joined = [current.value, running]
            return joined
          }
          const fiber = yield* work.pipe(
            // Forget the entry when done, unless a newer fiber already took the key.
            Effect.ensuring(
              Effect.fiberIdWith((self) =>
                SynchronizedRef.update(inFlight, (m) =>
                  Option.exists(HashMap.get(m, key), (f) => Equal.equals(f.id(), self))
                    ? HashMap.remove(m, key)
                    : m,
                ),
              ),
            ),
            Effect.forkIn(scope),
          )
          const started: Joined = [fiber, HashMap.set(running, key, fiber)]
          return started
        }),
      ).pipe(Effect.flatMap(Fiber.join))
  })
