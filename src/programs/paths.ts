import * as path from "node:path"
import { Config, Effect, Option } from "effect"

// XDG base directories, with the spec's own fallbacks under $HOME.
const home = Config.string("HOME").pipe(Config.withDefault("/root"))
const xdgConfigHome = Config.option(Config.nonEmptyString("XDG_CONFIG_HOME"))
const xdgStateHome = Config.option(Config.nonEmptyString("XDG_STATE_HOME"))

/** The config file to read: the CLI option (or AIRUT_CONFIG) if given, else the XDG default. */
export const resolveConfigFile = (given: Option.Option<string>) =>
  Effect.gen(function* () {
    if (Option.isSome(given)) return path.resolve(given.value)
    const xdg = yield* xdgConfigHome
    const base = Option.isSome(xdg) ? xdg.value : path.join(yield* home, ".config")
    return path.join(base, "airut", "airut.yaml")
  })

/**
 * The state dir: `state_dir` from the config wins, then AIRUT_STATE_DIR, then
 * $XDG_STATE_HOME/airut, then ~/.local/state/airut. A relative `state_dir` is taken relative
 * to the config file, so a config directory can be moved as a whole.
 */
export const resolveStateDir = (configFile: string, fromConfig: string | undefined) =>
  Effect.gen(function* () {
    if (fromConfig !== undefined) return path.resolve(path.dirname(configFile), fromConfig)
    const fromEnv = yield* Config.option(Config.nonEmptyString("AIRUT_STATE_DIR"))
    if (Option.isSome(fromEnv)) return path.resolve(fromEnv.value)
    const xdg = yield* xdgStateHome
    if (Option.isSome(xdg)) return path.join(xdg.value, "airut")
    return path.join(yield* home, ".local", "state", "airut")
  })
