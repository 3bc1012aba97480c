import { Effect, Layer, Ref } from "effect"
import { AgentExecutorLive } from "../layers/AgentExecutorLive.js"
import { ClaudeBinaryLive } from "../layers/ClaudeBinaryLive.js"
import { DockerRuntimeLive } from "../layers/DockerRuntimeLive.js"
import { GitMirrorLive } from "../layers/GitMirrorLive.js"
import { ImageCacheLive } from "../layers/ImageCacheLive.js"
import { NetworkIsolationLive } from "../layers/NetworkIsolationLive.js"
import { ProxyCaEnsuredLive } from "../layers/ProxyCaLive.js"
import { ProxySidecarLive } from "../layers/ProxySidecarLive.js"
import { SidecarImagesLive } from "../layers/SidecarImagesLive.js"
import { SqliteStoreLive } from "../layers/SqliteStoreLive.js"
import { TaskRunnerLive } from "../layers/TaskRunnerLive.js"
import { TaskSupervisorLive } from "../layers/TaskSupervisorLive.js"
import type { ServerConfig } from "../schema/ServerConfig.js"
import { AirutPaths } from "../services/AirutPaths.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import type { Installation } from "./cli/installation.js"
import { sidecarSecretsDir, storeFile } from "./cli/installation.js"
import { proxyBundlePath } from "./proxyBundle.js"

/**
 * Everything the gateway runs on, from the engine up to the supervisor, for one installation.
 * `config` is the live config: reloads change what the next task reads. Engine-level settings
 * (socket, image prefix) are read once, at start.
 */
export const gatewayLayer = (installation: Installation, config: Ref.Ref<ServerConfig>) =>
  Layer.unwrapEffect(
    Effect.map(proxyBundlePath, (proxyBundle) => {
      const start = installation.loaded.config
      const namePrefix = start.container.image_prefix
      const imagePrefix = `localhost/${namePrefix}`
      const upstreamDns = start.network.upstream_dns
      const ca = ProxyCaEnsuredLive
      const isolation = NetworkIsolationLive({ namePrefix })
      const proxy = ProxySidecarLive({
        namePrefix,
        secretsDir: sidecarSecretsDir(installation.paths),
        ...(upstreamDns === undefined ? {} : { upstreamDns: [upstreamDns] }),
      }).pipe(Layer.provide(ca))
      const runner = TaskRunnerLive.pipe(
        Layer.provide(
          Layer.mergeAll(
            GitMirrorLive,
            ImageCacheLive({ prefix: imagePrefix }),
            proxy,
            AgentExecutorLive().pipe(Layer.provide(ClaudeBinaryLive())),
          ),
        ),
        Layer.provideMerge(isolation),
        Layer.provide(SidecarImagesLive({ prefix: imagePrefix, proxyBundle })),
        Layer.provideMerge(DockerRuntimeLive({ socketPath: start.container.socket })),
      )
      const supervisor = TaskSupervisorLive({ maxConcurrent: start.execution.max_concurrent }).pipe(
        Layer.provideMerge(runner),
      )
      const live = Layer.succeed(GatewayConfig, { current: Ref.get(config) })
      return supervisor.pipe(
        Layer.provideMerge(Layer.mergeAll(live, Layer.succeed(AirutPaths, installation.paths))),
        Layer.provideMerge(SqliteStoreLive({ filename: storeFile(installation.paths) })),
      )
    }),
  )
