import { Context, type Effect } from "effect"
import type { BuildContext, EngineError, ImageBuildFailed } from "./ContainerRuntime.js"

/** What the overlay's entrypoint runs: the Claude binary (agent tasks) or the given command. */
export type EntrypointKind = "agent" | "passthrough"

export interface ImageRequest {
  /**
   * The files of the repository's container directory (default `.airut/container`) as read from
   * its default branch, never from the agent's workspace. Must contain `Dockerfile`.
   */
  readonly context: BuildContext
  readonly entrypoint?: EntrypointKind
}

/** `built`: it was missing (or older than its base); `rebuilt`: it was stale, built without cache. */
export type BuildOutcome = "cached" | "built" | "rebuilt"

export interface ImageRef {
  /** The overlay image to run. */
  readonly tag: string
  readonly repoTag: string
  readonly repo: BuildOutcome
  readonly overlay: BuildOutcome
}

/**
 * Two-layer images cached by content hash: the repo layer from the repository's Dockerfile and
 * context, and an overlay adding our entrypoint. Requests for the same image while it builds
 * wait for that one build.
 */
export interface ImageCacheShape {
  readonly ensureImage: (request: ImageRequest) => Effect.Effect<ImageRef, ImageBuildFailed | EngineError>
}

export class ImageCache extends Context.Tag("airut/ImageCache")<ImageCache, ImageCacheShape>() {}
