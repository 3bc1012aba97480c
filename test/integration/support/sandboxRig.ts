import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Context, Effect, Layer, Schema } from "effect"
import { AgentExecutorLive } from "../../../src/layers/AgentExecutorLive.js"
import { ConversationStoreMemory } from "../../../src/layers/ConversationStoreMemory.js"
import { ImageCacheLive } from "../../../src/layers/ImageCacheLive.js"
import { NetworkIsolationLive } from "../../../src/layers/NetworkIsolationLive.js"
import { ProxyCaEnsuredLive } from "../../../src/layers/ProxyCaLive.js"
import { ProxySidecarLive } from "../../../src/layers/ProxySidecarLive.js"
import { SandboxLive } from "../../../src/layers/SandboxLive.js"
import { SecretRedactorLive } from "../../../src/layers/SecretRedactorLive.js"
import { SidecarImagesLive } from "../../../src/layers/SidecarImagesLive.js"
import { MaskedSecret } from "../../../src/schema/Credentials.js"
import type { NetworkAllowlist } from "../../../src/schema/NetworkAllowlist.js"
import { AirutPaths } from "../../../src/services/AirutPaths.js"
import type { TaskNetwork } from "../../../src/services/Sandbox.js"
import { makeTestPki, type TestPki } from "../../proxy/support.js"
import { type FakeAnthropicShape, makeFakeAnthropic } from "../../support/FakeAnthropic.js"
import { claudeApiAllowlist, TestClaudeBinary } from "./claude.js"
import { PodmanRuntimeRemovingImages } from "./images.js"
import { baseImage } from "./podman.js"
import { acquireEgress, buildProxyBundle, type HostUpstream, hostUpstream } from "./sandbox.js"

/**
 * The Sandbox library stack on Podman with its surroundings, shared by
 * test/integration/sandboxLibrary.test.ts and bench/agent.ts: an egress network whose gateway
 * the upstreams listen on (the fake Anthropic API and a test HTTPS upstream, both with
 * certificates of a test PKI), a workspace, and the Sandbox layer (image cache, proxy sidecar,
 * network isolation, agent executor with the cached Claude Code binary) on that network.
 */

export interface RigShape {
  readonly fake: FakeAnthropicShape
  readonly upstream: HostUpstream
  readonly gateway: string
  readonly pki: TestPki
  readonly workspace: string
}
export class Rig extends Context.Tag("test/SandboxLibraryRig")<Rig, RigShape>() {}

/** The allowlist the rig's tasks use: allowed.example, and the API paths Claude Code calls. */
export const allowlistYaml = `domains:
  - allowed.example
${claudeApiAllowlist}`

// curl for the commands; the agent overlay runs the mounted Claude binary on the same image.
export const dockerfile = `FROM ${baseImage}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
`

/** A rig with fresh names (`airut-t<random>`); `realKey` is the API key the tasks mask. */
export const makeSandboxRig = () => {
  const run = randomBytes(4).toString("hex")
  const prefix = `airut-t${run}`
  const egressName = `${prefix}-egress`
  const realKey = `sk-ant-api03-${randomBytes(32).toString("hex")}`

  const RigLive = Layer.scoped(
    Rig,
    Effect.gen(function* () {
      const gateway = yield* acquireEgress(egressName, run)
      const pki = yield* makeTestPki(["api.anthropic.com", "allowed.example"])
      const fake = yield* makeFakeAnthropic({ host: gateway, tls: pki })
      const upstream = yield* hostUpstream(pki, gateway)
      const workspace = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "airut-sandbox-lib-"))),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
      )
      return { fake, upstream, gateway, pki, workspace }
    }),
  )

  const StateDir = Layer.scoped(
    AirutPaths,
    Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "airut-sandbox-lib-state-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
    ).pipe(Effect.map((stateDir) => ({ configFile: join(stateDir, "airut.yaml"), stateDir }))),
  )
  const Ca = ProxyCaEnsuredLive.pipe(Layer.provide(StateDir))
  const Images = Layer.unwrapEffect(
    Effect.map(buildProxyBundle, (proxyBundle) => SidecarImagesLive({ proxyBundle })),
  )
  const Isolation = NetworkIsolationLive({ namePrefix: prefix })
  const Stack = SandboxLive({ stopGrace: "2 seconds" }).pipe(
    Layer.provide(
      Layer.mergeAll(
        ImageCacheLive({ prefix: `localhost/${prefix}` }),
        ProxySidecarLive({ namePrefix: prefix, egressNetwork: egressName }).pipe(Layer.provide(Ca)),
        AgentExecutorLive().pipe(Layer.provide(TestClaudeBinary)),
      ),
    ),
    Layer.provide(Isolation),
    Layer.provide(Images),
  )
  const TestLayer = Layer.mergeAll(Stack, RigLive).pipe(
    Layer.provideMerge(ConversationStoreMemory),
    Layer.provideMerge(SecretRedactorLive),
    Layer.provideMerge(PodmanRuntimeRemovingImages),
    Layer.provideMerge(NodeContext.layer),
  )
  return { run, prefix, egressName, realKey, TestLayer }
}

/**
 * The sandboxed network of a rig's tasks: `allowlist`, the API key masked for api.anthropic.com,
 * and upstream overrides to the rig's HTTPS upstream (allowed.example) and fake Anthropic API.
 */
export const rigNetwork = (rig: RigShape, realKey: string, allowlist: NetworkAllowlist): TaskNetwork => ({
  kind: "sandboxed",
  allowlist,
  maskedSecrets: {
    ANTHROPIC_API_KEY: Schema.decodeUnknownSync(MaskedSecret)({
      value: realKey,
      scopes: ["api.anthropic.com"],
      headers: ["x-api-key"],
    }),
  },
  upstreamOverrides: {
    "allowed.example": `${rig.gateway}:${rig.upstream.port}`,
    "api.anthropic.com": `${rig.fake.host}:${rig.fake.port}`,
  },
  upstreamCaPem: rig.pki.caPem,
})
