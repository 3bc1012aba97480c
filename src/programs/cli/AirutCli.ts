import { Command, ValidationError } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Console, Effect, Layer, Predicate } from "effect"
import packageJson from "../../../package.json" with { type: "json" }
import { ConfigLoaderLive } from "../../layers/ConfigLoaderLive.js"
import { RedactingLogger } from "../../layers/RedactingLogger.js"
import { SecretRedactorLive } from "../../layers/SecretRedactorLive.js"
import { SecretRedactor } from "../../services/SecretRedactor.js"
import { checkCommand } from "./CheckCommand.js"
import { configCommand } from "./ConfigShowCommand.js"
import { initCommand } from "./InitCommand.js"
import { installServiceCommand } from "./InstallServiceCommand.js"
import { runCommand } from "./RunCommand.js"
import { uninstallServiceCommand } from "./UninstallServiceCommand.js"

export const airutCommand = Command.make("airut").pipe(
  Command.withDescription(
    "Run Claude Code on your repositories from email and Slack, each task in a network-sandboxed container.",
  ),
  Command.withSubcommands([
    initCommand,
    checkCommand,
    configCommand,
    runCommand,
    installServiceCommand,
    uninstallServiceCommand,
  ]),
)

export const airutCli = Command.run(airutCommand, { name: "airut", version: packageJson.version })

/** Everything the commands need from the host: file system, processes, config loading, redaction. */
export const AirutCliLive = Layer.mergeAll(ConfigLoaderLive, RedactingLogger).pipe(
  Layer.provideMerge(SecretRedactorLive),
  Layer.provideMerge(NodeContext.layer),
)

/**
 * Prints a failure once, as its own message (config problems one per line), redacted. Parse
 * errors of the command line are printed by @effect/cli itself; a failed `check` has already
 * printed its report.
 */
export const reportFailure = (error: unknown) =>
  Effect.gen(function* () {
    if (ValidationError.isValidationError(error)) return
    if (Predicate.isTagged(error, "ChecksFailed")) return
    const redactor = yield* SecretRedactor
    const text = error instanceof Error ? error.message : String(error)
    yield* Console.error(redactor.redact(`airut: ${text}`))
  })
