import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, Ref, Scope, Stream, TestClock } from "effect"
import { AgentExecutorTest, FakeAgent } from "../../src/layers/AgentExecutorTest.js"
import {
  ContainerRuntimeTest,
  type ContainerScript,
  FakeEngine,
} from "../../src/layers/ContainerRuntimeTest.js"
import { ConversationStoreMemory } from "../../src/layers/ConversationStoreMemory.js"
import { ImageCacheLive } from "../../src/layers/ImageCacheLive.js"
import { SandboxLive } from "../../src/layers/SandboxLive.js"
import type { ContainerSpec } from "../../src/schema/ContainerSpec.js"
import type { NetworkLogLine } from "../../src/schema/NetworkLogLine.js"
import { proxyCaTarget } from "../../src/schema/RunPolicy.js"
import { ContainerRuntime } from "../../src/services/ContainerRuntime.js"
import { acquireNetwork } from "../../src/services/ContainerScope.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import { NetworkIsolation, NetworkNotIsolated } from "../../src/services/NetworkIsolation.js"
import { NetworkProxy, type ProxySpec } from "../../src/services/NetworkProxy.js"
import { Sandbox, type SandboxImage, type TaskOptions } from "../../src/services/Sandbox.js"

/**
 * The library's own logic on the in-memory engine: images, fail-closed isolation, the command's
 * container (network, DNS, CA, surrogates), exit codes, timeouts and what a closed task leaves.
 */

const report = { network: "probe", engine: "podman 4.3.1", checks: [], leaks: [], durationMs: 1 }

interface Probe {
  readonly proven: boolean
  readonly probes: Ref.Ref<number>
  readonly started: Ref.Ref<ReadonlyArray<ProxySpec>>
}

const testLayer = (options: {
  readonly proven?: boolean
  readonly script?: (spec: ContainerSpec) => ContainerScript
}) =>
  Effect.gen(function* () {
    const probes = yield* Ref.make(0)
    const started = yield* Ref.make<ReadonlyArray<ProxySpec>>([])
    const isolation = Layer.succeed(
      NetworkIsolation,
      NetworkIsolation.of({
        probe: Effect.succeed(report),
        probeNetwork: () => Effect.succeed(report),
        ensureIsolated: Ref.update(probes, (n) => n + 1).pipe(
          Effect.zipRight(
            options.proven === false
              ? Effect.fail(new NetworkNotIsolated({ network: "probe", leaks: [], advice: "fix it" }))
              : Effect.succeed(report),
          ),
        ),
      }),
    )
    // Makes the task network on the engine (it must exist for the container), owned by the task.
    const proxy = Layer.effect(
      NetworkProxy,
      Effect.map(ContainerRuntime, (runtime) =>
        NetworkProxy.of({
          start: (spec) =>
            Ref.update(started, (all) => [...all, spec]).pipe(
              Effect.zipRight(
                acquireNetwork({ name: `net-${spec.taskId}`, internal: true }).pipe(
                  Effect.provideService(ContainerRuntime, runtime),
                  Effect.orDie,
                ),
              ),
              Effect.as({
                dnsServer: "10.89.0.2",
                network: Option.some(`net-${spec.taskId}`),
                caCert: { hostPath: "/state/ca/ca.crt", containerPath: proxyCaTarget },
                env: { API_TOKEN: "surrogate-token", CURL_CA_BUNDLE: proxyCaTarget },
                endpoints: {
                  dns: { host: "10.89.0.2", port: 53 },
                  http: { host: "10.89.0.2", port: 80 },
                  https: { host: "10.89.0.2", port: 443 },
                },
                log: Stream.empty,
              }),
            ),
        }),
      ),
    )
    const layer = SandboxLive().pipe(
      Layer.provideMerge(ImageCacheLive()),
      Layer.provideMerge(Layer.mergeAll(isolation, proxy, AgentExecutorTest(), ConversationStoreMemory)),
      Layer.provideMerge(
        ContainerRuntimeTest(options.script === undefined ? {} : { script: options.script }),
      ),
      Layer.provideMerge(NodeContext.layer),
    )
    const probe: Probe = { proven: options.proven ?? true, probes, started }
    return { layer, probe }
  })

const dockerfile = new Map([["Dockerfile", Buffer.from("FROM localhost/airut-base:bookworm\n")]])
const allowlist = { domains: ["example.com"], url_prefixes: [] }

const taskOptions = (image: SandboxImage, workspace: string): TaskOptions => ({
  image,
  workspace,
  network: { kind: "sandboxed", allowlist },
  env: { PLAIN: "1" },
  limits: { memoryBytes: 1024 ** 3, pidsLimit: 100 },
  mounts: [{ source: "/srv/cache", target: "/cache", readOnly: true }],
})

const withRig = <A, E>(
  options: Parameters<typeof testLayer>[0],
  body: (
    probe: Probe,
  ) => Effect.Effect<
    A,
    E,
    Sandbox | FakeEngine | FakeAgent | ContainerRuntime | ConversationStore | Scope.Scope
  >,
) =>
  Effect.gen(function* () {
    const { layer, probe } = yield* testLayer(options)
    return yield* body(probe).pipe(Effect.provide(layer), Effect.scoped)
  })

describe("Sandbox", () => {
  it.effect("ensureImage builds the repository layer once and both overlays; a second call is cached", () =>
    withRig({}, () =>
      Effect.gen(function* () {
        const sandbox = yield* Sandbox
        const first = yield* sandbox.ensureImage(dockerfile)
        assert.strictEqual(first.repo, "built")
        assert.notStrictEqual(first.agentTag, first.commandTag)
        const builds = yield* (yield* FakeEngine).builds
        // The repository layer first (both overlays wait for it), then the two overlays.
        assert.strictEqual(builds[0]?.tag, first.repoTag)
        assert.deepStrictEqual(
          builds
            .slice(1)
            .map((b) => b.tag)
            .sort(),
          [first.agentTag, first.commandTag].sort(),
        )
        assert.strictEqual(builds.length, 3)
        const second = yield* sandbox.ensureImage(dockerfile)
        assert.strictEqual(second.repo, "cached")
        assert.strictEqual((yield* (yield* FakeEngine).builds).length, 3)
      }),
    ),
  )

  it.live("ensureImage reads a directory as the build context", () =>
    withRig({}, () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "airut-sandbox-ctx-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
        writeFileSync(join(dir, "Dockerfile"), "FROM localhost/airut-base:bookworm\nCOPY sub/a.txt /a.txt\n")
        mkdirSync(join(dir, "sub"))
        writeFileSync(join(dir, "sub", "a.txt"), "hello")
        const sandbox = yield* Sandbox
        yield* sandbox.ensureImage({ dir })
        const repoBuild = (yield* (yield* FakeEngine).builds)[0]
        assert.deepStrictEqual([...(repoBuild?.context.keys() ?? [])].sort(), ["Dockerfile", "sub/a.txt"])
        const missing = yield* sandbox.ensureImage({ dir: join(dir, "nope") }).pipe(Effect.flip)
        assert.strictEqual(missing._tag, "ImageSourceUnreadable")
      }).pipe(Effect.scoped),
    ),
  )

  it.scoped("a task on an engine not proven isolated fails closed: no proxy, no record left", () =>
    withRig({ proven: false }, (probe) =>
      Effect.gen(function* () {
        const sandbox = yield* Sandbox
        const image = yield* sandbox.ensureImage(dockerfile)
        const error = yield* sandbox.task(taskOptions(image, "/work/ws")).pipe(Effect.scoped, Effect.flip)
        assert.strictEqual(error._tag, "NetworkNotIsolated")
        assert.strictEqual((yield* Ref.get(probe.started)).length, 0)
        assert.strictEqual((yield* (yield* ConversationStore).listTasks()).length, 0)
      }),
    ),
  )

  it.scoped(
    "a command runs in the sandbox: network, proxy DNS, CA, surrogates, mounts, limits, exit code",
    () =>
      withRig(
        {
          script: (spec) =>
            spec.command?.[0] === "fail" ? { exitCode: 3, stderr: ["boom"] } : { stdout: ["one", "two"] },
        },
        (probe) =>
          Effect.gen(function* () {
            const sandbox = yield* Sandbox
            const image = yield* sandbox.ensureImage(dockerfile)
            const task = yield* sandbox.task(taskOptions(image, "/work/ws"))
            assert.isTrue(task.sandboxed)
            assert.strictEqual(yield* Ref.get(probe.probes), 1)
            const ok = yield* task.run(["echo", "hi"], { env: { EXTRA: "x" } })
            assert.deepStrictEqual(Array.from(yield* Stream.runCollect(ok.stdout)), ["one", "two"])
            assert.deepStrictEqual(yield* ok.exit, { exitCode: 0, oomKilled: false })
            const bad = yield* task.run(["fail"])
            assert.deepStrictEqual(Array.from(yield* Stream.runCollect(bad.stderr)), ["boom"])
            assert.strictEqual((yield* bad.exit).exitCode, 3)

            const spec = (yield* (yield* FakeEngine).created)[0]
            assert.isDefined(spec)
            if (spec === undefined) return
            assert.strictEqual(spec.image, image.commandTag)
            assert.deepStrictEqual(spec.command, ["echo", "hi"])
            assert.strictEqual(spec.network?.name, `net-${task.id}`)
            assert.deepStrictEqual(spec.dns, ["10.89.0.2"])
            assert.strictEqual(spec.sysctls?.["net.ipv6.conf.all.disable_ipv6"], "1")
            assert.strictEqual(spec.env?.API_TOKEN, "surrogate-token")
            assert.strictEqual(spec.env?.PLAIN, "1")
            assert.strictEqual(spec.env?.EXTRA, "x")
            assert.deepStrictEqual(spec.capDrop, ["ALL"])
            assert.strictEqual(spec.memoryBytes, 1024 ** 3)
            assert.strictEqual(spec.pidsLimit, 100)
            assert.deepStrictEqual(
              spec.mounts?.map((m) => [m.source, m.target, m.readOnly]),
              [
                ["/work/ws", "/workspace", false],
                ["/srv/cache", "/cache", true],
                ["/state/ca/ca.crt", proxyCaTarget, true],
              ],
            )
            const [started] = yield* Ref.get(probe.started)
            assert.deepStrictEqual(started?.allowlist, allowlist)
          }),
      ),
  )

  it.effect("a command past its timeout fails with CommandTimeout and is killed", () =>
    withRig({ script: () => ({ runsUntilKilled: true }) }, () =>
      Effect.gen(function* () {
        const sandbox = yield* Sandbox
        const image = yield* sandbox.ensureImage(dockerfile)
        const task = yield* sandbox.task(taskOptions(image, "/work/ws"))
        const run = yield* task.run(["sleep", "100"], { timeout: "10 seconds" })
        const waiting = yield* Effect.fork(Effect.flip(run.exit))
        yield* TestClock.adjust("11 seconds")
        const error = yield* Fiber.join(waiting)
        assert.strictEqual(error._tag, "CommandTimeout")
        if (error._tag === "CommandTimeout") assert.strictEqual(error.timeoutMs, 10_000)
      }).pipe(Effect.scoped),
    ),
  )

  it.effect("closing the task removes its containers and its record", () =>
    withRig({ script: () => ({ runsUntilKilled: true }) }, () =>
      Effect.gen(function* () {
        const sandbox = yield* Sandbox
        const runtime = yield* ContainerRuntime
        const image = yield* sandbox.ensureImage(dockerfile)
        const scope = yield* Scope.make()
        const task = yield* sandbox.task(taskOptions(image, "/work/ws")).pipe(Scope.extend(scope))
        yield* task.run(["sleep", "100"]).pipe(Scope.extend(scope))
        assert.strictEqual((yield* runtime.listContainers({ "airut.task": task.id })).length, 1)
        assert.strictEqual((yield* (yield* ConversationStore).listTasks()).length, 1)
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        // The still-running command gets its grace period after SIGTERM.
        yield* TestClock.adjust("20 seconds")
        yield* Fiber.join(closing)
        assert.strictEqual((yield* runtime.listContainers({ "airut.task": task.id })).length, 0)
        assert.isTrue(Option.isNone(yield* runtime.inspectNetwork(`net-${task.id}`)))
        assert.strictEqual((yield* (yield* ConversationStore).listTasks()).length, 0)
      }),
    ),
  )

  it.effect("an open-network task starts no proxy and confines nothing; prompts go to the executor", () =>
    withRig({}, (probe) =>
      Effect.gen(function* () {
        const sandbox = yield* Sandbox
        const image = yield* sandbox.ensureImage(dockerfile)
        const task = yield* sandbox.task({ ...taskOptions(image, "/work/ws"), network: { kind: "open" } })
        assert.isFalse(task.sandboxed)
        assert.strictEqual(yield* Ref.get(probe.probes), 0)
        assert.strictEqual((yield* Ref.get(probe.started)).length, 0)
        const log: ReadonlyArray<NetworkLogLine> = Array.from(yield* Stream.runCollect(task.networkLog))
        assert.strictEqual(log.length, 0)
        yield* task.run(["true"]).pipe(Effect.flatMap((r) => r.exit))
        const spec = (yield* (yield* FakeEngine).created)[0]
        assert.isUndefined(spec?.network)
        assert.isUndefined(spec?.dns)
        const outcome = yield* task.promptToEnd({ prompt: "hi", model: "m", claudeVersion: "2.1.330" })
        assert.strictEqual(outcome.replyText, "Done.")
        const [request] = yield* (yield* FakeAgent).requests
        assert.strictEqual(request?.image, image.agentTag)
        assert.strictEqual(request?.hostPaths.workspace, "/work/ws")
        assert.isUndefined(request?.sandbox)
      }).pipe(Effect.scoped),
    ),
  )

  it.effect("a prompt in a sandboxed task carries the proxy's network, CA and surrogates", () =>
    withRig({}, () =>
      Effect.gen(function* () {
        const sandbox = yield* Sandbox
        const image = yield* sandbox.ensureImage(dockerfile)
        const task = yield* sandbox.task(taskOptions(image, "/work/ws"))
        const run = yield* task.prompt({
          prompt: "hi",
          model: "m",
          claudeVersion: "2.1.330",
          sessionId: "s-1",
          timeout: "1 minute",
        })
        assert.strictEqual((yield* run.outcome).sessionId, "session-1")
        const [request] = yield* (yield* FakeAgent).requests
        assert.deepStrictEqual(request?.sandbox, {
          network: `net-${task.id}`,
          proxyIp: "10.89.0.2",
          caCertPath: "/state/ca/ca.crt",
        })
        assert.strictEqual(request?.env.API_TOKEN, "surrogate-token")
        assert.strictEqual(request?.sessionId, "s-1")
        assert.strictEqual(request?.taskId, task.id)
      }).pipe(Effect.scoped),
    ),
  )
})
