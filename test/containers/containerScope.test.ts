import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Layer, Option, Scope, Stream, TestClock } from "effect"
import { ContainerRuntimeTest, FakeEngine } from "../../src/layers/ContainerRuntimeTest.js"
import { ContainerError, ContainerRuntime } from "../../src/services/ContainerRuntime.js"
import {
  acquireNetwork,
  managedLabels,
  runContainer,
  sweepOrphans,
} from "../../src/services/ContainerScope.js"

const image = "localhost/test-overlay:abc"

/** The fake engine with one image in it. */
const engineWith = (options: Parameters<typeof ContainerRuntimeTest>[0] = {}) =>
  Layer.effectDiscard(
    Effect.flatMap(ContainerRuntime, (rt) =>
      rt.buildImage({ tag: image, context: new Map([["Dockerfile", new Uint8Array()]]) }),
    ),
  ).pipe(Layer.provideMerge(ContainerRuntimeTest(options)))

/** A runtime whose container removal never answers: releases must still finish. */
const stuckRemoval = Layer.effect(
  ContainerRuntime,
  Effect.map(ContainerRuntime, (rt) => ContainerRuntime.of({ ...rt, removeContainer: () => Effect.never })),
)
/** A runtime whose container removal fails: releases must log it, not fail the scope. */
const failingRemoval = Layer.effect(
  ContainerRuntime,
  Effect.map(ContainerRuntime, (rt) =>
    ContainerRuntime.of({
      ...rt,
      removeContainer: () =>
        Effect.fail(new ContainerError({ operation: "removeContainer", reason: "Rejected", detail: "busy" })),
    }),
  ),
)

describe("scoped containers and networks", () => {
  it.effect("a container lives as long as its scope, labelled managed, fed its stdin", () =>
    Effect.gen(function* () {
      const runtime = yield* ContainerRuntime
      const { lines, exit, stdin } = yield* Effect.scoped(
        Effect.gen(function* () {
          const c = yield* runContainer({ image, labels: { "airut.task": "t1" } }, { stdin: "the prompt" })
          const lines = Chunk.toArray(yield* Stream.runCollect(c.stdout))
          return { lines, exit: yield* c.wait, stdin: yield* (yield* FakeEngine).stdinOf(c.id) }
        }),
      )
      assert.deepStrictEqual(lines, ["hello"])
      assert.deepStrictEqual(exit, { exitCode: 3, oomKilled: false })
      assert.strictEqual(stdin, "the prompt")
      const created = (yield* (yield* FakeEngine).created)[0]
      assert.deepStrictEqual(created?.labels, { "airut.task": "t1", ...managedLabels })
      assert.isTrue(created?.openStdin)
      assert.deepStrictEqual(yield* runtime.listContainers({}), [])
    }).pipe(Effect.provide(engineWith({ script: () => ({ stdout: ["hello"], exitCode: 3 }) }))),
  )

  it.effect("interrupting the owner kills and removes its container, then its network", () =>
    Effect.gen(function* () {
      const runtime = yield* ContainerRuntime
      const fiber = yield* Effect.scoped(
        Effect.gen(function* () {
          const net = yield* acquireNetwork({ name: "airut-conv-1", internal: true })
          const c = yield* runContainer({ image, network: { name: net.name } })
          return yield* c.wait
        }),
      ).pipe(Effect.fork)
      yield* Effect.yieldNow()
      assert.strictEqual((yield* runtime.listContainers(managedLabels)).length, 1)
      assert.strictEqual((yield* runtime.listNetworks(managedLabels)).length, 1)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* runtime.listContainers({}), [])
      assert.deepStrictEqual(yield* runtime.listNetworks({}), [])
    }).pipe(Effect.provide(engineWith({ script: () => ({ runsUntilKilled: true }) }))),
  )

  it.effect("a release whose engine never answers gives up after its time bound", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      yield* runContainer({ image }).pipe(Scope.extend(scope))
      const closing = yield* Scope.close(scope, Exit.void).pipe(Effect.fork)
      yield* TestClock.adjust("29 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.poll(closing)))
      yield* TestClock.adjust("1 second")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(closing)))
    }).pipe(
      Effect.provide(
        Layer.provideMerge(stuckRemoval, engineWith({ script: () => ({ runsUntilKilled: true }) })),
      ),
    ),
  )

  it.effect("a release that fails is logged and does not fail the scope", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.scoped(runContainer({ image })).pipe(Effect.exit)
      assert.isTrue(Exit.isSuccess(exit))
    }).pipe(Effect.provide(Layer.provideMerge(failingRemoval, engineWith()))),
  )

  it.effect("the orphan sweep removes labelled containers, then networks, and leaves the rest", () =>
    Effect.gen(function* () {
      const runtime = yield* ContainerRuntime
      const net = yield* runtime.createNetwork({
        name: "airut-conv-2",
        internal: true,
        labels: managedLabels,
      })
      const orphan = yield* runtime.createContainer({
        image,
        labels: managedLabels,
        network: { name: net.name },
      })
      yield* runtime.startContainer(orphan)
      const foreign = yield* runtime.createContainer({ image, labels: { app: "other" } })
      yield* runtime.createNetwork({ name: "someone-elses", internal: false })
      const report = yield* sweepOrphans()
      assert.deepStrictEqual(report, { containers: [orphan], networks: ["airut-conv-2"], failures: [] })
      assert.deepStrictEqual(
        (yield* runtime.listContainers({})).map((c) => c.id),
        [foreign],
      )
      assert.deepStrictEqual(
        (yield* runtime.listNetworks({})).map((n) => n.name),
        ["someone-elses"],
      )
    }).pipe(Effect.provide(engineWith({ script: () => ({ runsUntilKilled: true }) }))),
  )

  it.effect("the sweep reports what it could not remove", () =>
    Effect.gen(function* () {
      const runtime = yield* ContainerRuntime
      const orphan = yield* runtime.createContainer({ image, labels: managedLabels })
      const report = yield* sweepOrphans()
      assert.deepStrictEqual(report.containers, [])
      assert.deepStrictEqual(
        report.failures.map((f) => [f.kind, f.id, f.error._tag]),
        [["container", orphan, "ContainerError"]],
      )
    }).pipe(Effect.provide(Layer.provideMerge(failingRemoval, engineWith()))),
  )
})
