import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { parse as parseDotenv } from "dotenv"
import { Effect, Layer, Option } from "effect"
import { secretValues } from "../schema/SecretValues.js"
import { decodeServerConfigText, defaultServerConfig } from "../schema/ServerConfig.js"
import { ConfigLoader, ConfigUnreadable, type LoadedConfig } from "../services/ConfigLoader.js"
import { SecretRedactor } from "../services/SecretRedactor.js"

export const makeConfigLoader = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const redactor = yield* SecretRedactor

  const readIfPresent = (file: string) =>
    fs.exists(file).pipe(
      Effect.flatMap((exists) =>
        exists ? Effect.map(fs.readFileString(file), Option.some) : Effect.succeed(Option.none<string>()),
      ),
      Effect.mapError((e: PlatformError) => new ConfigUnreadable({ file, reason: e.message })),
    )

  const load = Effect.fn("ConfigLoader.load")(function* (file: string) {
    const text = yield* readIfPresent(file)
    if (Option.isNone(text)) {
      const loaded: LoadedConfig = { file, exists: false, config: defaultServerConfig, secrets: [] }
      return loaded
    }
    // `.env` beside the config fills in `!env` values the environment lacks (the environment wins).
    const dotenvText = yield* readIfPresent(path.join(path.dirname(file), ".env"))
    const dotenv = Option.match(dotenvText, { onNone: () => ({}), onSome: (t) => parseDotenv(t) })
    const decoded = yield* decodeServerConfigText(text.value, file, dotenv)
    const secrets = secretValues(decoded.value)
    yield* redactor.register(secrets)
    const loaded: LoadedConfig = { file, exists: true, config: decoded.value, secrets }
    return loaded
  })

  return ConfigLoader.of({ load })
})

/** Needs FileSystem and Path (NodeContext.layer) and a SecretRedactor. */
export const ConfigLoaderLive = Layer.effect(ConfigLoader, makeConfigLoader)
