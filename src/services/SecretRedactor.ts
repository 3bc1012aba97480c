import { Context, type Effect, type Redacted } from "effect"

/** What a redacted secret is replaced with, in logs and displays alike. */
export const redactedMarker = "<redacted>"

export interface SecretRedactorShape {
  /** Hides these values from now on. Empty strings are ignored. */
  readonly register: (values: Iterable<string | Redacted.Redacted<string>>) => Effect.Effect<void>
  /**
   * Replaces every registered value in `text` with `<redacted>`. Plain and synchronous on
   * purpose: a Logger formats lines synchronously and must be able to call it.
   */
  readonly redact: (text: string) => string
}

/** Keeps real secret values out of every line the process writes. */
export class SecretRedactor extends Context.Tag("airut/SecretRedactor")<
  SecretRedactor,
  SecretRedactorShape
>() {}
