import { Context, type Effect, type Redacted } from "effect"
import { ConfigInvalid, ConfigUnreadable, formatConfigInvalid } from "../schema/ConfigIssue.js"
import type { ServerConfig } from "../schema/ServerConfig.js"

// The errors are Schema classes (they are shown on the dashboard after a failed reload), so they
// live with the schemas; re-exported here where callers look for them.
export { ConfigInvalid, ConfigUnreadable, formatConfigInvalid }

export interface LoadedConfig {
  /** The path that was read. */
  readonly file: string
  /** False when there was no file: `config` is then the defaults (dashboard only). */
  readonly exists: boolean
  readonly config: ServerConfig
  /** Every real secret in the config; already registered with the SecretRedactor. */
  readonly secrets: ReadonlyArray<Redacted.Redacted<string>>
}

export interface ConfigLoaderShape {
  /**
   * Reads and validates the server config at `path` (with a `.env` file beside it supplying
   * `!env` values the environment lacks). A missing file is not an error.
   */
  readonly load: (path: string) => Effect.Effect<LoadedConfig, ConfigInvalid | ConfigUnreadable>
}

export class ConfigLoader extends Context.Tag("airut/ConfigLoader")<ConfigLoader, ConfigLoaderShape>() {}
