import { Context, type Effect } from "effect"
import type { EngineError, ImageBuildFailed } from "./ContainerRuntime.js"

/**
 * The images airut itself runs next to the agent: Node.js on the offline base image (the
 * isolation probe runs on it) and, on top of that, the bundled network proxy (the sidecar).
 * Each is tagged by the hash of what it is made from, built at first need and reused after.
 */
export interface SidecarImagesShape {
  /** The base image plus Debian's `nodejs` and `ca-certificates`. */
  readonly nodeImage: Effect.Effect<string, ImageBuildFailed | EngineError>
  /** `nodeImage` plus the proxy bundle; its entrypoint is `node proxy.mjs`, its argument the config file. */
  readonly proxyImage: Effect.Effect<string, ImageBuildFailed | EngineError>
}

export class SidecarImages extends Context.Tag("airut/SidecarImages")<SidecarImages, SidecarImagesShape>() {}

/** Where the proxy image expects its configuration file (mounted read-only). */
export const proxyConfigTarget = "/etc/airut/proxy.json"
