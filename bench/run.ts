import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import agent from "./agent.js"
import type { BenchModule, BenchResult } from "./Bench.js"
import containers from "./containers.js"
import gateway from "./gateway.js"
import proxy from "./proxy.js"
import sandboxCli from "./sandboxCli.js"

/** Every bench module, in the order the table lists them. */
const modules: ReadonlyArray<BenchModule> = [containers, proxy, agent, sandboxCli, gateway]

const cell = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(2))

const table = (rows: ReadonlyArray<readonly [string, BenchResult]>) => {
  const header = ["module", "benchmark", "n", "ours ms", "direct ms", "ratio", "direct is"]
  const lines = rows.map(([module, r]) => [
    module,
    r.name,
    String(r.samples),
    cell(r.ours),
    r.baseline ? cell(r.baseline.ms) : "-",
    r.baseline ? `${(r.ours / r.baseline.ms).toFixed(2)}x` : "-",
    r.baseline?.name ?? "",
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)))
  const format = (cols: ReadonlyArray<string>) =>
    cols
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd()
  return [format(header), format(widths.map((w) => "-".repeat(w))), ...lines.map(format)].join("\n")
}

const program = Effect.gen(function* () {
  const rows: Array<readonly [string, BenchResult]> = []
  for (const module of modules) {
    yield* Console.error(`bench: ${module.name} ...`)
    const results = yield* module.run
    rows.push(...results.map((r): readonly [string, BenchResult] => [module.name, r]))
  }
  yield* Console.log(table(rows))
})

program.pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
