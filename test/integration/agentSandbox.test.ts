import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Layer, Option, Schema } from "effect"
import { AgentExecutorLive } from "../../src/layers/AgentExecutorLive.js"
import { ConversationStoreMemory } from "../../src/layers/ConversationStoreMemory.js"
import { ImageCacheLive } from "../../src/layers/ImageCacheLive.js"
import { NetworkIsolationLive } from "../../src/layers/NetworkIsolationLive.js"
import { ProxyCaEnsuredLive } from "../../src/layers/ProxyCaLive.js"
import { ProxySidecarLive } from "../../src/layers/ProxySidecarLive.js"
import { SecretRedactorLive } from "../../src/layers/SecretRedactorLive.js"
import { SidecarImagesLive } from "../../src/layers/SidecarImagesLive.js"
import type { AgentRequest } from "../../src/schema/AgentRequest.js"
import { MaskedSecret } from "../../src/schema/Credentials.js"
import { decodeNetworkAllowlist } from "../../src/schema/NetworkAllowlist.js"
import { AgentExecutor, sandboxFromProxy } from "../../src/services/AgentExecutor.js"
import { AirutPaths } from "../../src/services/AirutPaths.js"
import { ContainerRuntime } from "../../src/services/ContainerRuntime.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import { ImageCache } from "../../src/services/ImageCache.js"
import { NetworkProxy, type ProxySpec } from "../../src/services/NetworkProxy.js"
import { makeTestPki, type TestPki } from "../proxy/support.js"
import { type FakeAnthropicShape, makeFakeAnthropic, Turn, writeFile } from "../support/FakeAnthropic.js"
import { claudeApiAllowlist, claudeVersion, TestClaudeBinary } from "./support/claude.js"
import { PodmanRuntimeRemovingImages } from "./support/images.js"
import { baseImage } from "./support/podman.js"
import { acquireEgress, buildProxyBundle } from "./support/sandbox.js"

/**
 * The executor inside the network sandbox on Podman: the real Claude Code binary in a container
 * whose only way out is its proxy sidecar. The CLI talks to api.anthropic.com as in production;
 * the proxy (test mode: an upstream override) forwards to the fake API serving HTTPS for that
 * name with a test CA. The container holds only a surrogate API key; the proxy puts the real one
 * in.
 */

const run = randomBytes(4).toString("hex")
const prefix = `airut-t${run}`
const egressName = `${prefix}-egress`
const realKey = `sk-ant-api03-${randomBytes(32).toString("hex")}`

interface RigShape {
  readonly fake: FakeAnthropicShape
  readonly pki: TestPki
  readonly image: string
  readonly root: string
}
class Rig extends Context.Tag("test/AgentSandboxRig")<Rig, RigShape>() {}

const RigLive = Layer.scoped(
  Rig,
  Effect.gen(function* () {
    const gateway = yield* acquireEgress(egressName, run)
    const pki = yield* makeTestPki(["api.anthropic.com"])
    const fake = yield* makeFakeAnthropic({ host: gateway, tls: pki })
    const image = yield* Effect.flatMap(ImageCache, (cache) =>
      cache.ensureImage({
        context: new Map([["Dockerfile", Buffer.from(`FROM ${baseImage}\n`)]]),
        entrypoint: "agent",
      }),
    )
    const root = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "airut-agent-sandbox-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
    )
    return { fake, pki, image: image.tag, root }
  }),
).pipe(Layer.provide(ImageCacheLive({ prefix: `localhost/${prefix}` })))

const StateDir = Layer.scoped(
  AirutPaths,
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "airut-agent-sandbox-state-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
  ).pipe(Effect.map((stateDir) => ({ configFile: join(stateDir, "airut.yaml"), stateDir }))),
)
const Ca = ProxyCaEnsuredLive.pipe(Layer.provide(StateDir))
const Images = Layer.unwrapEffect(
  Effect.map(buildProxyBundle, (proxyBundle) => SidecarImagesLive({ proxyBundle })),
)
const TestLayer = Layer.mergeAll(
  ProxySidecarLive({ namePrefix: prefix, egressNetwork: egressName }).pipe(
    Layer.provide(NetworkIsolationLive()),
    Layer.provide(Images),
    Layer.provide(Ca),
  ),
  AgentExecutorLive().pipe(Layer.provide(TestClaudeBinary)),
  RigLive,
).pipe(
  Layer.provideMerge(ConversationStoreMemory),
  Layer.provideMerge(SecretRedactorLive),
  Layer.provideMerge(PodmanRuntimeRemovingImages),
  Layer.provideMerge(NodeContext.layer),
)

layer(TestLayer, { excludeTestServices: true, timeout: "900 seconds" })(
  "AgentExecutor in the network sandbox",
  (it) => {
    it.scoped(
      "Claude Code works through the proxy; the API gets the real key, the container only ever the surrogate",
      () =>
        Effect.gen(function* () {
          const { fake, pki, image, root } = yield* Rig
          const store = yield* ConversationStore
          const conversation = yield* store.createConversation({
            repoId: "example",
            channel: "email",
            threadKeys: [],
            model: "sonnet",
          })
          const task = yield* store.createTask({
            conversationId: conversation.id,
            sender: "a@example.com",
            title: "t",
          })
          const [host, port] = [fake.host, fake.port]
          const spec: ProxySpec = {
            taskId: task.id,
            conversationId: conversation.id,
            allowlist: yield* decodeNetworkAllowlist(claudeApiAllowlist),
            maskedSecrets: {
              ANTHROPIC_API_KEY: Schema.decodeUnknownSync(MaskedSecret)({
                value: realKey,
                scopes: ["api.anthropic.com"],
                headers: ["x-api-key"],
              }),
            },
            signingCredentials: {},
            upstreamOverrides: { "api.anthropic.com": `${host}:${port}` },
            upstreamCaPem: pki.caPem,
          }
          const handle = yield* (yield* NetworkProxy).start(spec)
          const sandbox = Option.getOrThrow(sandboxFromProxy(handle))
          const surrogate = sandbox.env.ANTHROPIC_API_KEY ?? ""
          assert.notStrictEqual(surrogate, "")
          assert.notStrictEqual(surrogate, realKey)

          const dir = join(root, conversation.id)
          const hostPaths = {
            workspace: join(dir, "workspace"),
            inbox: join(dir, "inbox"),
            outbox: join(dir, "outbox"),
            storage: join(dir, "storage"),
            claudeState: join(dir, "claude"),
          }
          for (const path of Object.values(hostPaths)) mkdirSync(path, { recursive: true })
          const request: AgentRequest = {
            taskId: task.id,
            conversationId: conversation.id,
            repoId: "example",
            image,
            claudeVersion,
            hostPaths,
            prompt: "Write the notes. MARK-SANDBOX",
            model: "claude-sonnet-4-5",
            env: { ...sandbox.env },
            limits: { memoryBytes: 2 * 1024 ** 3, pidsLimit: 512 },
            timeout: Duration.minutes(3),
            sandbox: sandbox.sandbox,
          }
          yield* fake.script([
            writeFile("/workspace/notes.md", "sandboxed\n", "Writing the notes."),
            Turn.Text({ text: "Notes written from inside the sandbox." }),
          ])
          const started = yield* Clock.currentTimeMillis
          const outcome = yield* (yield* AgentExecutor).run(request)
          const elapsed = (yield* Clock.currentTimeMillis) - started
          yield* Effect.logInfo(`two-turn run in the sandbox took ${elapsed} ms`)
          assert.strictEqual(outcome.replyText, "Notes written from inside the sandbox.")
          assert.strictEqual(readFileSync(join(hostPaths.workspace, "notes.md"), "utf8"), "sandboxed\n")

          const calls = (yield* fake.messageRequests).filter((r) => r.body.includes("MARK-SANDBOX"))
          assert.strictEqual(calls.length, 2)
          for (const call of calls) assert.strictEqual(call.headers["x-api-key"], realKey)
          // The surrogate never reached the API, in any header of any request.
          for (const r of yield* fake.requests) assert.notInclude(JSON.stringify(r.headers), surrogate)
          // Nor did the real key reach the agent's output or the stored events.
          const events = yield* store.readEvents({ taskId: task.id }, 0, 10_000)
          assert.isAbove(events.events.length, 0)
          for (const row of events.events) assert.notInclude(row.line, realKey)

          // The proxy logged the API calls, with the key swapped on each.
          const network = yield* store.readNetwork({ taskId: task.id }, 0, 10_000)
          const messages = network.entries.filter(
            (e) => e.host === "api.anthropic.com" && e.path.startsWith("/v1/messages"),
          )
          assert.isAtLeast(messages.length, 2)
          for (const entry of messages) {
            assert.strictEqual(entry.verdict, "allowed")
            assert.strictEqual(entry.swappedSecrets, 1)
          }
          yield* Effect.logInfo(
            `proxy log: ${network.entries.map((e) => `${e.verdict} ${e.method} ${e.host}${e.path} ${Option.getOrElse(e.status, () => "-")}`).join("; ")}`,
          )
          const runtime = yield* ContainerRuntime
          assert.deepStrictEqual(
            yield* runtime.listContainers({ "airut.task": task.id, "airut.repo": "example" }),
            [],
          )
        }),
      600_000,
    )
  },
)
