import { ConfigProvider, Effect } from "effect"
import type { ConfigInvalid, ConfigIssue } from "../../src/schema/ConfigIssue.js"

/** Runs `effect` with exactly these environment variables visible to Effect Config. */
export const withEnv =
  (env: Readonly<Record<string, string>>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withConfigProvider(effect, ConfigProvider.fromMap(new Map(Object.entries(env))))

/** The issues of a decode that must fail. */
export const issuesOf = <A, R>(effect: Effect.Effect<A, ConfigInvalid, R>) =>
  effect.pipe(
    Effect.flip,
    Effect.map((e) => e.issues),
  )

/** The message reported at `path`, or undefined. */
export const messageAt = (issues: ReadonlyArray<ConfigIssue>, path: string): string | undefined =>
  issues.find((i) => i.path === path)?.message
