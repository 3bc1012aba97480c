import { Command } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { Console, Effect, Layer } from "effect"
import { ProxyCaLive } from "../../layers/ProxyCaLive.js"
import { starterConfig } from "../../schema/StarterConfig.js"
import { AirutPaths } from "../../services/AirutPaths.js"
import { ProxyCa } from "../../services/ProxyCa.js"
import { resolveConfigFile } from "../paths.js"
import { configOption } from "./configOption.js"
import { loadInstallation } from "./installation.js"

/**
 * `airut init`: a commented starter config (never overwriting one) and the proxy CA. Safe to
 * run again: it only fills in what is missing.
 */
export const initCommand = Command.make("init", { config: configOption }, ({ config }) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const configFile = yield* resolveConfigFile(config)

    if (yield* fs.exists(configFile)) {
      yield* Console.log(`config   ${configFile} exists; left as it is`)
    } else {
      yield* fs.makeDirectory(path.dirname(configFile), { recursive: true })
      // 0600: the file is meant for `!env` references, but people paste secrets into configs.
      yield* fs.writeFileString(configFile, starterConfig, { mode: 0o600 })
      yield* Console.log(`config   wrote ${configFile}`)
    }

    const { paths } = yield* loadInstallation(config)
    const ca = yield* Effect.flatMap(ProxyCa, (ca) => ca.ensure).pipe(
      Effect.provide(ProxyCaLive.pipe(Layer.provide(Layer.succeed(AirutPaths, paths)))),
    )
    yield* Console.log(
      `proxy CA ${ca.created ? "generated" : "exists"}: ${ca.certPath} (key ${ca.keyPath}, mode 0600)`,
    )
    yield* Console.log(
      [
        "",
        "Next:",
        `  1. Edit ${configFile}: add a repository under repos: (the commented example shows how;`,
        "     every key is described in docs/config.md).",
        "  2. Run `airut check` to verify the config, git, the container engine, the store and the CA.",
        "  3. Run `airut run` to start the gateway.",
      ].join("\n"),
    )
  }),
).pipe(Command.withDescription("Write a starter config (if none) and generate the proxy CA."))
