import { Deferred, Effect, HashMap, Option, type Scope, SynchronizedRef } from "effect"

/**
 * Runs at most one `work` per key at a time: a caller finding work in flight for its key waits
 * for that work's result instead of starting its own. Keys do not block each other. The work
 * runs in `scope` (the owner's, e.g. a layer's), not in the first caller's fiber, so one
 * caller's interruption does not fail the others; closing the scope interrupts it.
 */
export const makeKeyedSingleFlight = <K, A, E>(): Effect.Effect<
  (key: K, work: Effect.Effect<A, E>) => Effect.Effect<A, E>,
  never,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const inFlight = yield* SynchronizedRef.make(HashMap.empty<K, Deferred.Deferred<A, E>>())
    type Joined = readonly [Deferred.Deferred<A, E>, HashMap.HashMap<K, Deferred.Deferred<A, E>>]
    return (key: K, work: Effect.Effect<A, E>) =>
      SynchronizedRef.modifyEffect(inFlight, (running) =>
        Option.match(HashMap.get(running, key), {
          onSome: (deferred) => Effect.succeed<Joined>([deferred, running]),
          onNone: () =>
            Effect.gen(function* () {
              const deferred = yield* Deferred.make<A, E>()
              yield* work.pipe(
                Effect.onExit((exit) =>
                  Deferred.done(deferred, exit).pipe(
                    Effect.zipRight(SynchronizedRef.update(inFlight, HashMap.remove(key))),
                  ),
                ),
                Effect.forkIn(scope),
              )
              const started: Joined = [deferred, HashMap.set(running, key, deferred)]
              return started
            }),
        }),
      ).pipe(Effect.flatMap(Deferred.await))
  })
