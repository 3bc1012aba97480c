import { FileSystem } from "@effect/platform"
import { Effect, type Option } from "effect"
import type { AirutPathsShape } from "../../services/AirutPaths.js"
import { ConfigLoader, type LoadedConfig } from "../../services/ConfigLoader.js"
import { resolveConfigFile, resolveStateDir } from "../paths.js"

/** The config in effect and where this installation keeps its files. */
export interface Installation {
  readonly loaded: LoadedConfig
  readonly paths: AirutPathsShape
}

/** Loads the config named by `--config` / AIRUT_CONFIG / the default, then resolves the state dir. */
export const loadInstallation = (configOption: Option.Option<string>) =>
  Effect.gen(function* () {
    const configFile = yield* resolveConfigFile(configOption)
    const loaded = yield* (yield* ConfigLoader).load(configFile)
    const stateDir = yield* resolveStateDir(configFile, loaded.config.state_dir)
    const installation: Installation = { loaded, paths: { configFile, stateDir } }
    return installation
  })

/**
 * Where the proxy sidecars' configs (real secrets) are written while their tasks run. Emptied
 * at every daemon start: nothing runs yet, so whatever is there was left by a crash.
 */
export const sidecarSecretsDir = (paths: AirutPathsShape) => `${paths.stateDir}/sidecars`

/** The SQLite store's file inside the state dir. */
export const storeFile = (paths: AirutPathsShape) => `${paths.stateDir}/airut.db`

/** Creates the state dir (owner only: it holds the CA key and every conversation) if missing. */
export const ensureStateDir = (paths: AirutPathsShape) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    fs.makeDirectory(paths.stateDir, { recursive: true, mode: 0o700 }),
  )
