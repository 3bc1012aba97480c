import type { NodeContext } from "@effect/platform-node"
import { Clock, Effect } from "effect"

/**
 * What `npm run bench` runs: each bench module measures something of ours, and where there is a
 * direct way to do the same thing (the engine's own CLI, a raw call), measures that too, so the
 * table shows the cost of our layer as a ratio. Add a module: export a `BenchModule` as default
 * and list it in run.ts.
 */
export interface BenchResult {
  readonly name: string
  /** Median, in milliseconds. */
  readonly ours: number
  readonly samples: number
  /** The direct way, median in milliseconds, and what it is. */
  readonly baseline?: { readonly name: string; readonly ms: number }
}

export interface BenchModule {
  readonly name: string
  readonly run: Effect.Effect<ReadonlyArray<BenchResult>, unknown, NodeContext.NodeContext>
}

export const median = (samples: ReadonlyArray<number>): number => {
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/** Milliseconds elapsed on the Clock's monotonic nanosecond time. */
export const elapsedSince = (startNanos: bigint) =>
  Effect.map(Clock.currentTimeNanos, (now) => Number(now - startNanos) / 1e6)

/** Runs `measure` (which returns its own milliseconds) `warmup` times unrecorded, then `n` times. */
export const sample = <A, E, R>(n: number, warmup: number, measure: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    yield* Effect.repeatN(measure, Math.max(0, warmup - 1)).pipe(Effect.when(() => warmup > 0))
    const out: Array<A> = []
    for (let i = 0; i < n; i++) out.push(yield* measure)
    return out
  })

/** Times an effect in milliseconds. */
export const timeIt = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Clock.currentTimeNanos, (start) => Effect.zipRight(effect, elapsedSince(start)))
