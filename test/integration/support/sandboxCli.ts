import { randomBytes } from "node:crypto"
import { mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { Command } from "@effect/platform"
import { Chunk, Clock, Effect, Stream } from "effect"
import { build } from "esbuild"
import { bundleProxy } from "../../../scripts/proxyBundle.js"

/**
 * The airut-sandbox CLI bundled as `npm run build` bundles it (dependencies external), with the
 * proxy bundle beside it, under node_modules/.cache so its imports resolve to this checkout's
 * node_modules. Removed with the scope.
 */
export const buildSandboxCli = Effect.acquireRelease(
  Effect.tryPromise({
    try: async () => {
      const dir = join("node_modules", ".cache", `airut-sandbox-cli-${randomBytes(4).toString("hex")}`)
      mkdirSync(dir, { recursive: true })
      const outfile = join(dir, "airut-sandbox.js")
      await build({
        bundle: true,
        platform: "node",
        target: "node20",
        format: "esm",
        logLevel: "warning",
        packages: "external",
        entryPoints: ["src/bin/airut-sandbox.ts"],
        outfile,
      })
      await bundleProxy(join(dir, "proxy.js"))
      return { dir, cli: join(process.cwd(), outfile) }
    },
    catch: (cause) => new Error(`bundling airut-sandbox failed: ${String(cause)}`),
  }),
  ({ dir }) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
)

export interface CliResult {
  readonly code: number
  readonly stdout: Uint8Array
  readonly stderr: string
  readonly ms: number
}

const concat = (chunks: Chunk.Chunk<Uint8Array>) => Buffer.concat(Chunk.toReadonlyArray(chunks))

/** Runs a command to its end: exit code, stdout as bytes, stderr as text. */
export const runProcess = (command: Command.Command) =>
  Effect.scoped(
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      const proc = yield* Command.start(command)
      const [stdout, stderr, code] = yield* Effect.all(
        [Stream.runCollect(proc.stdout), Stream.runCollect(proc.stderr), proc.exitCode],
        { concurrency: "unbounded" },
      )
      const result: CliResult = {
        code,
        stdout: concat(stdout),
        stderr: concat(stderr).toString("utf8"),
        ms: (yield* Clock.currentTimeMillis) - start,
      }
      return result
    }),
  )
