import { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { renderConfig } from "../../schema/ConfigDisplay.js"
import { configOption } from "./configOption.js"
import { loadInstallation } from "./installation.js"

/** `airut config show`: the effective config (defaults filled in) with every secret redacted. */
const showCommand = Command.make("show", { config: configOption }, ({ config }) =>
  Effect.gen(function* () {
    const { loaded, paths } = yield* loadInstallation(config)
    yield* Console.log(
      `# ${loaded.exists ? loaded.file : `${loaded.file} (not found: embedded defaults)`}\n# state dir: ${paths.stateDir}`,
    )
    yield* Console.log(renderConfig(loaded.config, { secrets: loaded.secrets }))
  }),
).pipe(Command.withDescription("Print the effective configuration, secrets redacted."))

export const configCommand = Command.make("config").pipe(
  Command.withDescription("Inspect the server configuration."),
  Command.withSubcommands([showCommand]),
)
