import { Command } from "@effect/cli"
import { Command as Process } from "@effect/platform"
import { Console, Data, Effect, Either, Layer, Option } from "effect"
import { DockerRuntimeLive } from "../../layers/DockerRuntimeLive.js"
import { ProxyCaLive } from "../../layers/ProxyCaLive.js"
import { SqliteStoreLive } from "../../layers/SqliteStoreLive.js"
import { checkSlackApp } from "../../layers/slack/checkApp.js"
import type { ServerConfig } from "../../schema/ServerConfig.js"
import { AirutPaths } from "../../services/AirutPaths.js"
import { formatConfigInvalid } from "../../services/ConfigLoader.js"
import { ContainerRuntime } from "../../services/ContainerRuntime.js"
import { ConversationStore } from "../../services/ConversationStore.js"
import { NetworkIsolation } from "../../services/NetworkIsolation.js"
import { ProxyCa } from "../../services/ProxyCa.js"
import { isolationLayer } from "../isolationLayer.js"
import { sandboxDisabledMessage, sandboxDisabledRepos, upstreamOverridesMessage } from "../sandboxWarnings.js"
import { configOption } from "./configOption.js"
import { daemonHealth } from "./daemonHealth.js"
import { ensureStateDir, loadInstallation, storeFile } from "./installation.js"

/** Raised after the report is printed, so the process exits non-zero without repeating it. */
export class ChecksFailed extends Data.TaggedError("ChecksFailed")<{
  readonly failed: ReadonlyArray<string>
}> {
  override get message() {
    return `${this.failed.length} check(s) failed: ${this.failed.join(", ")}`
  }
}

interface CheckResult {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

const minimumGit = [2, 25] as const

/** `git --version` → "2.39.5"; fails on a missing or too old git. */
export const checkGit = Process.make("git", "--version").pipe(
  Process.string,
  Effect.mapError((e) => `git not found or not runnable (${e.message}); install it (apt-get install git)`),
  Effect.flatMap((out) => {
    const match = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(out)
    if (match === null) return Effect.fail(`unrecognised \`git --version\` output: ${out.trim()}`)
    const [major, minor] = [Number(match[1]), Number(match[2])]
    const recent = major > minimumGit[0] || (major === minimumGit[0] && minor >= minimumGit[1])
    return recent
      ? Effect.succeed(`git ${match[0]}`)
      : Effect.fail(`git ${match[0]} is too old; ${minimumGit.join(".")} or newer is needed`)
  }),
)

const line = (r: CheckResult) => `${r.ok ? "ok  " : "FAIL"}  ${r.name.padEnd(10)} ${r.detail}`

/** A warning: printed loudly, but not a failed check (the operator chose it). */
const warn = (name: string, detail: string) => Console.log(`WARN  ${name.padEnd(10)} ${detail}`)

// The first probe builds its image (Node on the base image): minutes on a slow mirror.
const isolationTimeout = "5 minutes"

/**
 * Proves the engine's task networks isolated: a probe container on a fresh internal network
 * tries the host, a public address and an outside name (NetworkIsolation).
 */
const checkIsolation = (config: ServerConfig) =>
  Effect.gen(function* () {
    const isolation = yield* NetworkIsolation
    const report = yield* isolation.ensureIsolated
    return `${report.engine}: ${report.checks.length} ways out tried from a fresh internal network, none got through (${(report.durationMs / 1000).toFixed(1)} s)`
  }).pipe(
    Effect.mapError((e) => e.message),
    Effect.provide(isolationLayer(config)),
    Effect.catchTag("ConfigError", (e) => Effect.fail(`AIRUT_PROXY_BUNDLE: ${e.message}`)),
    Effect.timeoutFail({
      duration: isolationTimeout,
      onTimeout: () => `the isolation probe did not finish within ${isolationTimeout}`,
    }),
  )

const run = <R>(name: string, check: Effect.Effect<string, string, R>) =>
  check.pipe(
    Effect.either,
    Effect.map(
      (result): CheckResult =>
        Either.match(result, {
          onLeft: (detail) => ({ name, ok: false, detail }),
          onRight: (detail) => ({ name, ok: true, detail }),
        }),
    ),
    Effect.tap((r) => Console.log(line(r))),
  )

/**
 * `airut check`: one line per prerequisite, all of them tried even after a failure, exit code
 * non-zero when any failed.
 */
export const checkCommand = Command.make("check", { config: configOption }, ({ config }) =>
  Effect.gen(function* () {
    const installation = yield* loadInstallation(config).pipe(Effect.either)
    const results: Array<CheckResult> = []

    if (Either.isLeft(installation)) {
      const e = installation.left
      results.push(
        yield* run(
          "config",
          Effect.fail(
            e._tag === "ConfigInvalid"
              ? formatConfigInvalid(e).replace(/\n/g, "\n                ")
              : e.message,
          ),
        ),
      )
      results.push(yield* run("git", checkGit))
      return yield* report(results)
    }

    const { loaded, paths } = installation.right
    const repoCount = Object.keys(loaded.config.repos).length
    results.push(
      yield* run(
        "config",
        Effect.succeed(
          loaded.exists
            ? `${loaded.file} (${repoCount} ${repoCount === 1 ? "repository" : "repositories"})`
            : `${loaded.file} not found: embedded defaults (no repositories); \`airut init\` writes a starter`,
        ),
      ),
    )
    results.push(yield* run("git", checkGit))

    const socketPath = loaded.config.container.socket
    results.push(
      yield* run(
        "engine",
        Effect.flatMap(ContainerRuntime, (rt) => rt.version).pipe(
          Effect.map((v) => `${v.product} ${v.version} (API ${v.apiVersion}) at ${socketPath}`),
          Effect.mapError((e) => e.message),
          Effect.provide(DockerRuntimeLive({ socketPath })),
          Effect.timeoutFail({
            duration: "10 seconds",
            onTimeout: () => `no answer from ${socketPath} in 10 s`,
          }),
        ),
      ),
    )

    // A probe needs the engine; without it the engine line already says what is wrong.
    const engineAnswered = results.at(-1)?.ok === true
    results.push(
      yield* run(
        "isolation",
        engineAnswered
          ? checkIsolation(loaded.config)
          : Effect.fail("not checked: the container engine did not answer"),
      ),
    )
    for (const repoId of sandboxDisabledRepos(loaded.config)) {
      const repo = loaded.config.repos[repoId]
      if (repo !== undefined) yield* warn("sandbox", sandboxDisabledMessage(repoId, repo))
    }
    const overrides = upstreamOverridesMessage(loaded.config)
    if (overrides !== undefined) yield* warn("overrides", overrides)

    const dbFile = storeFile(paths)
    results.push(
      yield* run(
        "store",
        ensureStateDir(paths).pipe(
          Effect.zipRight(
            Effect.flatMap(ConversationStore, (store) => store.healthCheck).pipe(
              Effect.provide(SqliteStoreLive({ filename: dbFile })),
            ),
          ),
          Effect.as(`${dbFile} writable`),
          Effect.mapError((e) => `${dbFile}: ${e.message}`),
        ),
      ),
    )

    results.push(
      yield* run(
        "proxy CA",
        Effect.flatMap(ProxyCa, (ca) => ca.inspect).pipe(
          Effect.map(
            (ca) =>
              `${ca.certPath} (SHA-256 ${ca.fingerprint.slice(0, 23)}…, valid until ${ca.notAfter.toISOString().slice(0, 10)})`,
          ),
          Effect.mapError((e) => e.message),
          Effect.provide(ProxyCaLive.pipe(Layer.provide(Layer.succeed(AirutPaths, paths)))),
        ),
      ),
    )
    for (const [repoId, repo] of Object.entries(loaded.config.repos)) {
      if (repo.slack === undefined) continue
      results.push(
        yield* run(
          "slack",
          checkSlackApp(repo.slack).pipe(
            Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => "Slack did not answer in 20 s" }),
            Effect.map((detail) => `${repoId}: ${detail}`),
            Effect.mapError((detail) => `${repoId}: ${detail}`),
          ),
        ),
      )
    }
    yield* reportDaemon(loaded.config, results)
    return yield* report(results)
  }),
).pipe(
  Command.withDescription(
    "Check the config, git, the container engine, network isolation, the store, the proxy CA and each Slack app.",
  ),
)

/**
 * A daemon already running answers on its dashboard: its store and channels are reported; one
 * that is not running is only mentioned, since `check` usually comes before `run`.
 */
const reportDaemon = (config: ServerConfig, results: Array<CheckResult>) =>
  Effect.gen(function* () {
    const answer = yield* daemonHealth(config)
    if (Option.isNone(answer)) return
    const daemon = answer.value
    switch (daemon._tag) {
      case "NotRunning":
        return yield* Console.log(
          `info  ${"daemon".padEnd(10)} not running (nothing answers at ${daemon.url})`,
        )
      case "Unreadable":
        return yield* warn("daemon", `${daemon.url} answered, but not as airut's dashboard: ${daemon.detail}`)
      case "Answered": {
        const { health } = daemon
        const channels = health.channels.map((c) => `${c.repoId}/${c.kind} ${c.health._tag.toLowerCase()}`)
        const detail = `running: ${health.activeTasks} task(s) active of ${health.maxConcurrent}; channels: ${channels.join(", ") || "none"}`
        if (health.status === "degraded") return yield* warn("daemon", detail)
        results.push(
          yield* run(
            "daemon",
            health.status === "ok"
              ? Effect.succeed(detail)
              : Effect.fail(`the daemon's store does not answer; ${detail}`),
          ),
        )
      }
    }
  })

const report = (results: ReadonlyArray<CheckResult>) => {
  const failed = results.filter((r) => !r.ok).map((r) => r.name)
  return failed.length === 0 ? Console.log("all checks passed") : Effect.fail(new ChecksFailed({ failed }))
}
