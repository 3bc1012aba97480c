import { NodeContext } from "@effect/platform-node"
import { type Duration, Effect, Layer } from "effect"
import { AgentExecutorLive } from "../layers/AgentExecutorLive.js"
import { ClaudeBinaryLive } from "../layers/ClaudeBinaryLive.js"
import { ConversationStoreMemory } from "../layers/ConversationStoreMemory.js"
import { DockerRuntimeLive } from "../layers/DockerRuntimeLive.js"
import { ImageCacheLive } from "../layers/ImageCacheLive.js"
import { NetworkIsolationLive } from "../layers/NetworkIsolationLive.js"
import { ProxyCaEnsuredLive } from "../layers/ProxyCaLive.js"
import { ProxySidecarLive } from "../layers/ProxySidecarLive.js"
import { SandboxLive } from "../layers/SandboxLive.js"
import { SecretRedactorLive } from "../layers/SecretRedactorLive.js"
import { SidecarImagesLive } from "../layers/SidecarImagesLive.js"
import { AirutPaths } from "../services/AirutPaths.js"
import { proxyBundlePath } from "./proxyBundle.js"

export interface SandboxLayerOptions {
  /** Unix socket of the engine API (`podman system service`). */
  readonly socketPath: string
  /**
   * Where the library keeps its files: the proxy CA (`<stateDir>/ca`, made at first use, key
   * mode 0600) and Claude Code binaries (`<stateDir>/claude`). The gateway's state dir works.
   */
  readonly stateDir: string
  /** Image names start with this (default `localhost/airut`); container and network names with its last part. */
  readonly imagePrefix?: string
  /** An image at least this old is rebuilt without the layer cache (default 24 h). */
  readonly maxImageAge?: Duration.DurationInput
  /** The offline base image the proxy and probe images build on (default `localhost/airut-base:bookworm`). */
  readonly baseImage?: string
  /** The bundled proxy program (default `proxy.js` beside the bundle, or AIRUT_PROXY_BUNDLE). */
  readonly proxyBundle?: string
  /** The network the proxy sidecars reach the outside through (default `<name prefix>-egress`). */
  readonly egressNetwork?: string
  /** DNS servers the proxy resolves allowed hosts with (default: the engine's). */
  readonly upstreamDns?: ReadonlyArray<string>
  /** How long a stopped command or agent may take to exit after SIGTERM (default 5 s). */
  readonly stopGrace?: Duration.DurationInput
}

/**
 * The Sandbox service on a live engine, with everything under it: the runtime, the image cache,
 * the isolation probe, the proxy sidecars, the CA and the Claude Code executor. Task records
 * (agent events, network rows) live in memory and go with each task. The runtime and the sidecar
 * images are given out too, for programs that move images (`airut-sandbox image save`).
 */
export const SandboxLayer = (options: SandboxLayerOptions) =>
  Layer.unwrapEffect(
    Effect.map(
      options.proxyBundle === undefined ? proxyBundlePath : Effect.succeed(options.proxyBundle),
      (proxyBundle) => {
        const imagePrefix = options.imagePrefix ?? "localhost/airut"
        const namePrefix = imagePrefix.split("/").pop() ?? "airut"
        const grace = options.stopGrace === undefined ? {} : { stopGrace: options.stopGrace }
        const paths = Layer.succeed(AirutPaths, {
          configFile: `${options.stateDir}/airut.yaml`,
          stateDir: options.stateDir,
        })
        const ca = ProxyCaEnsuredLive
        const sidecarImages = SidecarImagesLive({
          proxyBundle,
          prefix: imagePrefix,
          ...(options.baseImage === undefined ? {} : { baseImage: options.baseImage }),
        })
        // One probe layer for the task's check and the proxy's: isolation is proven once.
        const isolation = NetworkIsolationLive({ namePrefix })
        const proxy = ProxySidecarLive({
          namePrefix,
          ...(options.upstreamDns === undefined ? {} : { upstreamDns: options.upstreamDns }),
          ...(options.egressNetwork === undefined ? {} : { egressNetwork: options.egressNetwork }),
        }).pipe(Layer.provide(ca))
        return SandboxLive(grace).pipe(
          Layer.provide(
            Layer.mergeAll(
              ImageCacheLive({
                prefix: imagePrefix,
                ...(options.maxImageAge === undefined ? {} : { maxAge: options.maxImageAge }),
              }),
              proxy,
              AgentExecutorLive(grace).pipe(Layer.provide(ClaudeBinaryLive())),
            ),
          ),
          Layer.provide(isolation),
          Layer.provideMerge(sidecarImages),
          Layer.provide(Layer.mergeAll(ConversationStoreMemory, SecretRedactorLive)),
          Layer.provide(paths),
          Layer.provideMerge(DockerRuntimeLive({ socketPath: options.socketPath })),
          Layer.provide(NodeContext.layer),
        )
      },
    ),
  )
