import { Effect, Layer } from "effect"
import { SqliteStoreLive } from "../layers/SqliteStoreLive.js"
import { ConversationStore } from "../services/ConversationStore.js"
import type { Installation } from "./cli/installation.js"
import { storeFile } from "./cli/installation.js"

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
      yield* Effect.addFinalizer(() => Effect.logInfo("airut stopped"))
    }),
  ).pipe(Layer.provide(SqliteStoreLive({ filename: storeFile(installation.paths) })))
