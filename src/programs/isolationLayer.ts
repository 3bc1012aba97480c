import { Effect, Layer } from "effect"
import { DockerRuntimeLive } from "../layers/DockerRuntimeLive.js"
import { NetworkIsolationLive } from "../layers/NetworkIsolationLive.js"
import { SidecarImagesLive } from "../layers/SidecarImagesLive.js"
import type { ServerConfig } from "../schema/ServerConfig.js"
import { proxyBundlePath } from "./proxyBundle.js"

/**
 * The isolation probe on the configured engine, as `airut check` and the daemon's start use
 * it: the probe image is built from the offline base image under the configured prefix.
 */
export const isolationLayer = (config: ServerConfig) =>
  Layer.unwrapEffect(
    Effect.map(proxyBundlePath, (proxyBundle) =>
      NetworkIsolationLive().pipe(
        Layer.provide(
          SidecarImagesLive({ prefix: `localhost/${config.container.image_prefix}`, proxyBundle }),
        ),
        Layer.provide(DockerRuntimeLive({ socketPath: config.container.socket })),
      ),
    ),
  )
