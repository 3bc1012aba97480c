import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Command } from "@effect/platform"
import { Config, Effect } from "effect"
import { buildSandboxCli, runProcess } from "../test/integration/support/sandboxCli.js"
import { type BenchModule, median, sample, timeIt } from "./Bench.js"

/**
 * `airut-sandbox run -- true` end to end (process start, image cache hit, isolation probe, proxy
 * sidecar, the command's container, removal of all of it) against `podman run --rm` of the same
 * image, and the CLI's bare start (`--version`). Runs the bundled CLI as `npm run build` makes it.
 */

const settings = Effect.all({
  socketPath: Config.string("AIRUT_TEST_PODMAN_SOCKET").pipe(
    Config.withDefault("/run/airut-test/podman.sock"),
  ),
  n: Config.integer("AIRUT_BENCH_N").pipe(Config.withDefault(10)),
})

const run = Effect.gen(function* () {
  const { socketPath, n } = yield* settings
  const samples = Math.min(n, 5)
  const { cli } = yield* buildSandboxCli
  const scratch = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "airut-bench-sandbox-cli-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
  )
  const repo = join(scratch, "repo")
  mkdirSync(join(repo, ".airut", "container"), { recursive: true })
  writeFileSync(join(repo, ".airut", "container", "Dockerfile"), "FROM localhost/airut-base:bookworm\n")
  writeFileSync(join(repo, ".airut", "network-allowlist.yaml"), "domains: []\n")
  const prefix = `airut-b${randomBytes(4).toString("hex")}`
  const env = {
    AIRUT_SANDBOX_SOCKET: socketPath,
    AIRUT_SANDBOX_STATE_DIR: join(scratch, "state"),
    AIRUT_SANDBOX_PREFIX: prefix,
  }
  const cliRun = (...args: ReadonlyArray<string>) =>
    Command.make("node", cli, ...args).pipe(Command.workingDirectory(repo), Command.env(env))

  // The first run builds the images; its verbose output names the image the command runs in.
  const first = yield* runProcess(cliRun("run", "--verbose", "--", "true"))
  const image = /image (\S+): repo layer/.exec(first.stderr)?.[1]
  if (first.code !== 0 || image === undefined) {
    return yield* Effect.fail(new Error(`airut-sandbox run failed (${first.code}): ${first.stderr}`))
  }
  const podman = Command.make("podman", "--url", `unix://${socketPath}`, "run", "--rm", image, "true")

  const version = yield* sample(samples, 1, timeIt(runProcess(cliRun("--version"))))
  const pairs = yield* sample(
    samples,
    1,
    Effect.all([timeIt(runProcess(cliRun("run", "--", "true"))), timeIt(Command.exitCode(podman))]),
  )

  // The images this module built; the egress network stays, as it does for any CLI prefix.
  yield* Effect.forEach(
    ["overlay", "repo", "proxy", "node"],
    (kind) =>
      Command.string(
        Command.make(
          "sh",
          "-c",
          `podman --url unix://${socketPath} images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/${prefix}-${kind}:' | xargs -r podman --url unix://${socketPath} rmi >/dev/null`,
        ),
      ),
    { discard: true },
  )
  yield* Command.exitCode(
    Command.make("podman", "--url", `unix://${socketPath}`, "network", "rm", `${prefix}-egress`),
  )

  return [
    { name: "airut-sandbox --version (process start)", ours: median(version), samples: version.length },
    {
      name: "airut-sandbox run -- true (probe, proxy, command, cleanup)",
      ours: median(pairs.map(([ours]) => ours)),
      samples: pairs.length,
      baseline: { name: "podman run --rm <same image> true", ms: median(pairs.map(([, direct]) => direct)) },
    },
  ]
}).pipe(Effect.scoped)

const sandboxCli: BenchModule = { name: "sandbox-cli", run }
export default sandboxCli
