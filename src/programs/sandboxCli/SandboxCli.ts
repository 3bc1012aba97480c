import { Command, ValidationError } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Cause, Console, Effect, Layer, Predicate } from "effect"
import packageJson from "../../../package.json" with { type: "json" }
import { SecretRedactorLive } from "../../layers/SecretRedactorLive.js"
import { SecretRedactor } from "../../services/SecretRedactor.js"
import { imageCommand } from "./ImageCommand.js"
import { runCommand } from "./RunCommand.js"
import { StderrLogger } from "./verbosity.js"

export const sandboxCommand = Command.make("airut-sandbox").pipe(
  Command.withDescription(
    "Run CI commands in the sandbox Airut runs its agent in: a container whose only way out is an allowlisting proxy that swaps surrogate credentials for real ones.",
  ),
  Command.withSubcommands([runCommand, imageCommand]),
)

export const sandboxCli = Command.run(sandboxCommand, { name: "airut-sandbox", version: packageJson.version })

/** What the commands need from the host: file system, processes, a redacting stderr logger. */
export const SandboxCliLive = StderrLogger.pipe(
  Layer.provideMerge(SecretRedactorLive),
  Layer.provideMerge(NodeContext.layer),
)

/**
 * Prints a failure as one line on stderr, redacted. A command that exited non-zero has said
 * what it had to; @effect/cli prints command-line errors itself.
 */
export const reportFailure = (error: unknown) =>
  Effect.gen(function* () {
    if (ValidationError.isValidationError(error)) return
    if (Predicate.isTagged(error, "CommandExited")) return
    const redactor = yield* SecretRedactor
    const text = error instanceof Error ? error.message : String(error)
    yield* Console.error(redactor.redact(`airut-sandbox: ${text}`))
  })

/** A defect (a bug of ours) still gets its line, and its exit code is 125: the command did not run as asked. */
export const reportDefect = (cause: Cause.Cause<never>) =>
  Effect.flatMap(SecretRedactor, (redactor) =>
    Console.error(redactor.redact(`airut-sandbox: internal error: ${Cause.pretty(cause)}`)),
  )
