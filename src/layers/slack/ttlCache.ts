import { Clock, Duration, Effect, HashMap, Option, Ref } from "effect"

/**
 * Lookups cached for `ttl`. When a refresh fails, the old value is used for at most
 * `maxStale` past its fetch, then the failure is returned: a Slack outage must not keep a
 * revoked member admitted forever (the original's stale cache never expired).
 */
export interface TtlCache<K, A, E> {
  readonly get: (key: K) => Effect.Effect<A, E>
}

interface Entry<A> {
  readonly value: A
  readonly fetchedAt: number
}

export const makeTtlCache = <K, A, E>(options: {
  readonly lookup: (key: K) => Effect.Effect<A, E>
  readonly ttl: Duration.DurationInput
  readonly maxStale: Duration.DurationInput
  /** Told when a stale value stands in for a failed refresh. */
  readonly onStale: (key: K, error: E) => Effect.Effect<void>
}): Effect.Effect<TtlCache<K, A, E>> =>
  Effect.gen(function* () {
    const entries = yield* Ref.make(HashMap.empty<K, Entry<A>>())
    const ttl = Duration.toMillis(options.ttl)
    const maxStale = Duration.toMillis(options.maxStale)
    const get = (key: K) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const cached = HashMap.get(yield* Ref.get(entries), key)
        if (Option.isSome(cached) && now - cached.value.fetchedAt < ttl) return cached.value.value
        return yield* options.lookup(key).pipe(
          Effect.tap((value) => Ref.update(entries, HashMap.set(key, { value, fetchedAt: now }))),
          Effect.catchAll((error) =>
            Option.isSome(cached) && now - cached.value.fetchedAt < maxStale
              ? Effect.as(options.onStale(key, error), cached.value.value)
              : Effect.fail(error),
          ),
        )
      })
    return { get }
  })
