import { Effect, type Layer, Logger } from "effect"
import { SecretRedactor } from "../services/SecretRedactor.js"

/**
 * Effect's default line format, passed through `redact` before it reaches the console. The whole
 * formatted line is redacted (message, annotations, spans and cause alike).
 */
export const makeRedactingLogger = (redact: (line: string) => string): Logger.Logger<unknown, void> =>
  Logger.withConsoleLog(Logger.map(Logger.stringLogger, redact))

/** Replaces Effect's default logger with one that hides every secret registered so far. */
export const RedactingLogger: Layer.Layer<never, never, SecretRedactor> = Logger.replaceEffect(
  Logger.defaultLogger,
  Effect.map(SecretRedactor, (redactor) => makeRedactingLogger(redactor.redact)),
)
