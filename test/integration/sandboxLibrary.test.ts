import { assert, layer } from "@effect/vitest"
import { Chunk, Clock, Effect, Exit, Ref, Scope, Stream } from "effect"
import { decodeNetworkAllowlist } from "../../src/schema/NetworkAllowlist.js"
import type { NetworkLogLine } from "../../src/schema/NetworkLogLine.js"
import { ContainerRuntime } from "../../src/services/ContainerRuntime.js"
import { type CommandRun, Sandbox } from "../../src/services/Sandbox.js"
import { Turn } from "../support/FakeAnthropic.js"
import { claudeVersion } from "./support/claude.js"
import { allowlistYaml, dockerfile, makeSandboxRig, Rig, rigNetwork } from "./support/sandboxRig.js"

/**
 * The Sandbox library on Podman, the way examples/sandbox-command.ts and sandbox-prompt.ts use
 * it: an image from a Dockerfile, one sandboxed task, curl to an allowed host (a test upstream
 * reached through an upstream override) and to a blocked one, exit codes, a timeout, one prompt
 * through the real Claude Code binary against the fake API, and nothing left once the task's
 * scope closes.
 */

const { realKey, TestLayer } = makeSandboxRig()

const collect = (started: CommandRun) =>
  Effect.all(
    {
      stdout: Stream.runCollect(started.stdout).pipe(Effect.map((c) => Chunk.toReadonlyArray(c).join("\n"))),
      stderr: Stream.runCollect(started.stderr).pipe(Effect.map((c) => Chunk.toReadonlyArray(c).join("\n"))),
      exit: started.exit,
    },
    { concurrency: "unbounded" },
  )

layer(TestLayer, { excludeTestServices: true, timeout: "900 seconds" })("Sandbox library on Podman", (it) => {
  it.effect(
    "commands and a prompt in one sandboxed task; the task's scope removes everything",
    () =>
      Effect.gen(function* () {
        const rig = yield* Rig
        const { fake, upstream, workspace } = rig
        const sandbox = yield* Sandbox
        const runtime = yield* ContainerRuntime
        const t0 = yield* Clock.currentTimeMillis
        const image = yield* sandbox.ensureImage(new Map([["Dockerfile", Buffer.from(dockerfile)]]))
        const t1 = yield* Clock.currentTimeMillis
        const again = yield* sandbox.ensureImage(new Map([["Dockerfile", Buffer.from(dockerfile)]]))
        const t2 = yield* Clock.currentTimeMillis
        assert.strictEqual(again.repo, "cached")
        assert.strictEqual(again.commandTag, image.commandTag)
        yield* Effect.logInfo(`image: first ${t1 - t0} ms (${image.repo}), cached ${t2 - t1} ms`)

        const scope = yield* Scope.make()
        const task = yield* sandbox
          .task({
            image,
            workspace,
            network: rigNetwork(rig, realKey, yield* decodeNetworkAllowlist(allowlistYaml)),
            limits: { memoryBytes: 2 * 1024 ** 3, pidsLimit: 512 },
            name: "libtest",
          })
          .pipe(Scope.extend(scope))
        const t3 = yield* Clock.currentTimeMillis
        yield* Effect.logInfo(`task (isolation probe + sidecar) ready in ${t3 - t2} ms`)
        assert.isTrue(task.sandboxed)
        const log = yield* Ref.make<ReadonlyArray<NetworkLogLine>>([])
        yield* task.networkLog.pipe(
          Stream.runForEach((line) => Ref.update(log, (all) => [...all, line])),
          Effect.forkIn(scope),
        )

        const inTask = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.scoped(effect)
        const allowed = yield* inTask(
          task
            .run(["curl", "-sS", "--max-time", "10", "https://allowed.example/hello?x=1"])
            .pipe(Effect.flatMap(collect)),
        )
        const t4 = yield* Clock.currentTimeMillis
        yield* Effect.logInfo(`allowed curl through the sandbox: ${t4 - t3} ms`)
        assert.strictEqual(allowed.exit.exitCode, 0, allowed.stderr)
        assert.include(allowed.stdout, '"url":"/hello?x=1"')
        assert.include(allowed.stdout, '"host":"allowed.example"')
        assert.isTrue(upstream.arrived.some((a) => a.url === "/hello?x=1"))

        const blocked = yield* inTask(
          task
            .run([
              "curl",
              "-sS",
              "--max-time",
              "10",
              "-o",
              "/dev/null",
              "-w",
              "%{http_code}",
              "https://blocked.example/x",
            ])
            .pipe(Effect.flatMap(collect)),
        )
        assert.strictEqual(blocked.stdout, "403")
        assert.strictEqual(blocked.exit.exitCode, 0)
        // The surrogate, not the real key, is what the command sees.
        const env = yield* inTask(
          task.run(["sh", "-c", 'printf %s "$ANTHROPIC_API_KEY"']).pipe(Effect.flatMap(collect)),
        )
        assert.notStrictEqual(env.stdout, "")
        assert.notStrictEqual(env.stdout, realKey)

        const three = yield* inTask(
          task.run(["sh", "-c", "echo out; echo err >&2; exit 3"]).pipe(Effect.flatMap(collect)),
        )
        assert.deepStrictEqual([three.stdout, three.stderr, three.exit.exitCode], ["out", "err", 3])

        const timedOut = yield* inTask(
          task
            .run(["sleep", "60"], { timeout: "2 seconds" })
            .pipe(Effect.flatMap((r) => Effect.flip(r.exit))),
        )
        assert.strictEqual(timedOut._tag, "CommandTimeout")
        const t5 = yield* Clock.currentTimeMillis
        assert.isBelow(t5 - t4, 30_000)

        // One prompt through the same sandbox: the real CLI, the fake API behind the proxy.
        yield* fake.script([Turn.Text({ text: "Hello from the library sandbox." })])
        const outcome = yield* inTask(
          Effect.gen(function* () {
            const agent = yield* task.prompt({
              prompt: "Say hello. MARK-LIBRARY",
              model: "claude-sonnet-4-5",
              claudeVersion,
              timeout: "3 minutes",
            })
            const events = yield* Stream.runCollect(agent.events)
            assert.isTrue(Chunk.some(events, (e) => e._tag === "SystemInit"))
            assert.isTrue(Chunk.some(events, (e) => e._tag === "ResultEvent"))
            return yield* agent.outcome
          }),
        )
        const t6 = yield* Clock.currentTimeMillis
        yield* Effect.logInfo(`one-turn prompt through the sandbox: ${t6 - t5} ms`)
        assert.strictEqual(outcome.replyText, "Hello from the library sandbox.")
        const calls = (yield* fake.messageRequests).filter((r) => r.body.includes("MARK-LIBRARY"))
        assert.strictEqual(calls.length, 1)
        assert.strictEqual(calls[0]?.headers["x-api-key"], realKey)

        const requests = (yield* Ref.get(log)).flatMap((l) => (l.kind === "request" ? [l] : []))
        assert.isTrue(
          requests.some((r) => r.host === "blocked.example" && r.action === "blocked" && r.status === 403),
        )
        assert.isTrue(requests.some((r) => r.host === "allowed.example" && r.action === "allowed"))

        // Closing the task removes its containers (sidecar included) and its network.
        const before = yield* runtime.listContainers({ "airut.task": task.id })
        assert.isAtLeast(before.length, 1)
        yield* Scope.close(scope, Exit.void)
        const t7 = yield* Clock.currentTimeMillis
        yield* Effect.logInfo(`task scope closed in ${t7 - t6} ms`)
        assert.deepStrictEqual(yield* runtime.listContainers({ "airut.task": task.id }), [])
        assert.deepStrictEqual(yield* runtime.listNetworks({ "airut.task": task.id }), [])
        assert.deepStrictEqual(yield* runtime.listContainers({ "airut.sandbox": "libtest" }), [])
      }),
    600_000,
  )
})
