/**
 * Runs only the proxy bench (`npx tsx bench/proxy/only.ts`), without the modules that need
 * Podman: one tab-separated row per figure (name, ours ms, direct ms, ratio).
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import proxy from "../proxy.js"

Effect.gen(function* () {
  const rows = yield* proxy.run
  for (const r of rows) {
    const ratio = r.baseline === undefined ? "" : `${(r.ours / r.baseline.ms).toFixed(2)}x`
    yield* Console.log(`${r.name}\t${r.ours.toFixed(3)}\t${r.baseline?.ms.toFixed(3) ?? "-"}\t${ratio}`)
  }
}).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
