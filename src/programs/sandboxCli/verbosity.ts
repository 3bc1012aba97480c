import { Effect, type Layer, Logger, LogLevel } from "effect"
import { SecretRedactor } from "../../services/SecretRedactor.js"

/**
 * Logs go to stderr (stdout carries the command's output, untouched), redacted: warnings and
 * errors by default, what the sandbox does too with `--verbose`.
 */
export const StderrLogger: Layer.Layer<never, never, SecretRedactor> = Logger.replaceEffect(
  Logger.defaultLogger,
  Effect.map(SecretRedactor, (redactor) =>
    Logger.withConsoleError(Logger.map(Logger.stringLogger, redactor.redact)),
  ),
)

export const withVerbosity =
  (verbose: boolean) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Logger.withMinimumLogLevel(effect, verbose ? LogLevel.Info : LogLevel.Warning)
