import { Schema } from "effect"

/**
 * Data of the Claude binary cache: the exact versions we accept, what npm tells us about a
 * package, and the manifest written beside each cached binary.
 */

/** An exact release such as 2.1.330. Ranges and dist-tags are refused: the binary is pinned. */
export const ClaudeVersion = Schema.String.pipe(
  Schema.pattern(/^\d+\.\d+\.\d+$/, { message: () => "an exact version such as 2.1.330" }),
  Schema.brand("ClaudeVersion"),
)
export type ClaudeVersion = typeof ClaudeVersion.Type

/** `npm view <pkg>@<version> dist --json`: the fields we check the tarball against. */
export const NpmDist = Schema.Struct({
  integrity: Schema.String,
  tarball: Schema.String,
})
export type NpmDist = typeof NpmDist.Type

/** `npm pack --json`: one entry per packed package. */
export const NpmPackResult = Schema.NonEmptyArray(
  Schema.Struct({
    filename: Schema.String,
    integrity: Schema.String,
    version: Schema.String,
  }),
)
export type NpmPackResult = typeof NpmPackResult.Type

/**
 * `<stateDir>/claude/<version>/claude.json`, written after the binary is in place, so its
 * presence means the binary beside it is complete. Later uses compare the file with `sha256`.
 */
export const ClaudeBinaryManifest = Schema.Struct({
  version: Schema.String,
  /** The npm package the binary came from, e.g. `@anthropic-ai/claude-code-linux-x64`. */
  package: Schema.String,
  /** The registry's `dist.integrity` of that package's tarball (Subresource Integrity form). */
  integrity: Schema.String,
  /** Hex SHA-256 of the extracted binary. */
  sha256: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/)),
  size: Schema.NonNegativeInt,
  fetchedAt: Schema.DateTimeUtc,
})
export type ClaudeBinaryManifest = typeof ClaudeBinaryManifest.Type
