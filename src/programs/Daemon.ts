import { Effect, Layer } from "effect"
import { SqliteStoreLive } from "../layers/SqliteStoreLive.js"
import { ConversationStore } from "../services/ConversationStore.js"
import { NetworkIsolation } from "../services/NetworkIsolation.js"
import type { Installation } from "./cli/installation.js"
import { storeFile } from "./cli/installation.js"
import { isolationLayer } from "./isolationLayer.js"
import { logSandboxWarnings } from "./sandboxWarnings.js"

/**
 * What the daemon says at start: where things are, and what to configure next when the config
 * leaves it with nothing to do.
 */
const announce = (installation: Installation) =>
  Effect.gen(function* () {
    const { loaded, paths } = installation
    const repos = Object.keys(loaded.config.repos)
    const { dashboard } = loaded.config
    yield* Effect.logInfo(
      `airut started: config ${loaded.exists ? loaded.file : `${loaded.file} (not found: embedded defaults)`}, state dir ${paths.stateDir}, store ${storeFile(paths)}`,
    )
    if (dashboard.enabled) {
      yield* Effect.logInfo(`dashboard configured for http://${dashboard.host}:${dashboard.port}`)
    }
    if (repos.length === 0) {
      yield* Effect.logWarning(
        [
          "no repositories configured: nothing will be picked up.",
          loaded.exists
            ? `Add one under repos: in ${loaded.file} (see docs/config.md), then run \`airut check\`.`
            : "Run `airut init` to write a starter config, add a repository under repos:, then run `airut check`.",
        ].join(" "),
      )
    } else {
      yield* Effect.logInfo(`repositories: ${repos.join(", ")}`)
    }
  })

/**
 * Proves the task network isolated before any sandboxed repository is served. A failure does
 * not stop the daemon (the dashboard must still say what is wrong), but it is logged as the
 * reason sandboxed tasks will refuse to run: they call `ensureIsolated` again and fail closed.
 */
const proveIsolation = (installation: Installation) => {
  const { config } = installation.loaded
  const sandboxed = Object.values(config.repos).some((repo) => repo.network.sandbox_enabled)
  if (!sandboxed) return Effect.void
  return Effect.flatMap(NetworkIsolation, (isolation) => isolation.ensureIsolated).pipe(
    Effect.provide(isolationLayer(config)),
    // Success is logged by the probe itself, with its figures.
    Effect.asVoid,
    Effect.catchAll((error) =>
      Effect.logError(`network isolation NOT proven; sandboxed tasks will refuse to run: ${error.message}`),
    ),
  )
}

/**
 * The gateway daemon as a layer: open the store (running migrations), announce, and hold the
 * resources until the program is interrupted (SIGINT/SIGTERM through runMain), when every
 * release runs in reverse order.
 */
export const DaemonLive = (installation: Installation) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const store = yield* ConversationStore
      yield* store.healthCheck
      yield* announce(installation)
      yield* logSandboxWarnings(installation.loaded.config)
      yield* proveIsolation(installation)
      yield* Effect.addFinalizer(() => Effect.logInfo("airut stopped"))
    }),
  ).pipe(Layer.provide(SqliteStoreLive({ filename: storeFile(installation.paths) })))
