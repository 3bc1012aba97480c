import { Context, Data, type Effect } from "effect"

/** A verified Claude Code binary on the host, ready to be mounted read-only into a container. */
export interface ClaudeBinaryInfo {
  /** Absolute host path of the executable. */
  readonly path: string
  readonly version: string
  /** Hex SHA-256 of the file, checked against the manifest recorded when it was fetched. */
  readonly sha256: string
}

/**
 * The binary for a version could not be provided. `reason`: `InvalidVersion` (not an exact
 * version), `Download` (npm or the registry failed), `Integrity` (the tarball or the binary did
 * not match what the registry published), `Filesystem` (the cache directory could not be written).
 */
export class ClaudeBinaryUnavailable extends Data.TaggedError("ClaudeBinaryUnavailable")<{
  readonly version: string
  readonly reason: "InvalidVersion" | "Download" | "Integrity" | "Filesystem"
  readonly detail: string
}> {
  override get message(): string {
    return `Claude Code ${this.version} is unavailable (${this.reason}): ${this.detail}`
  }
}

/**
 * Host-side cache of Claude Code's native binary, one directory per exact version. The binary
 * is never part of a container image: the executor mounts it, so a version change needs no
 * image rebuild.
 */
export interface ClaudeBinaryShape {
  /** Downloads the version on first use (one download at a time per version), verifies it after. */
  readonly ensure: (version: string) => Effect.Effect<ClaudeBinaryInfo, ClaudeBinaryUnavailable>
}

export class ClaudeBinary extends Context.Tag("airut/ClaudeBinary")<ClaudeBinary, ClaudeBinaryShape>() {}
