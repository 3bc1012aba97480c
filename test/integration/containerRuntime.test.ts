import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream } from "effect"
import { ContainerRuntime } from "../../src/services/ContainerRuntime.js"
import {
  acquireNetwork,
  managedLabels,
  runContainer,
  sweepOrphans,
} from "../../src/services/ContainerScope.js"
import { baseImage, PodmanRuntime, uniqueRunId } from "./support/podman.js"

const collect = <E>(stream: Stream.Stream<string, E>) =>
  Stream.runCollect(stream).pipe(Effect.map(Chunk.toArray))

layer(PodmanRuntime, { excludeTestServices: true, timeout: "60 seconds" })(
  "ContainerRuntime on Podman",
  (it) => {
    it.effect("reports a Podman engine with the libpod API", () =>
      Effect.gen(function* () {
        const runtime = yield* ContainerRuntime
        const info = yield* runtime.version
        assert.strictEqual(info.product, "podman")
        assert.isTrue(info.libpod)
      }),
    )

    it.scoped("runs with mounts, env, stdin and capabilities; the scope removes the container", () =>
      Effect.gen(function* () {
        const runtime = yield* ContainerRuntime
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => mkdtempSync(join(tmpdir(), "airut-rt-"))),
          (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true })),
        )
        writeFileSync(join(dir, "in.txt"), "from the host\n")
        const run = uniqueRunId
        const label = yield* run
        const id = yield* Effect.scoped(
          Effect.gen(function* () {
            const c = yield* runContainer(
              {
                image: baseImage,
                command: [
                  "sh",
                  "-c",
                  'cat /ws/in.txt; echo "$GREETING"; cat; echo out > /ws/out.txt; echo x 2>/dev/null > /ro/x || echo read-only; grep CapEff /proc/self/status; echo oops >&2; exit 7',
                ],
                env: { GREETING: "hello there" },
                labels: { "airut.test": label },
                mounts: [
                  { source: dir, target: "/ws", readOnly: false },
                  { source: dir, target: "/ro", readOnly: true },
                ],
                capDrop: ["ALL"],
                capAdd: ["CHOWN"],
              },
              { stdin: "typed on stdin\n" },
            )
            const [stdout, stderr, exit] = yield* Effect.all([collect(c.stdout), collect(c.stderr), c.wait], {
              concurrency: "unbounded",
            })
            assert.deepStrictEqual(stdout, [
              "from the host",
              "hello there",
              "typed on stdin",
              "read-only",
              "CapEff:\t0000000000000001",
            ])
            assert.deepStrictEqual(stderr, ["oops"])
            assert.deepStrictEqual(exit, { exitCode: 7, oomKilled: false })
            assert.strictEqual(readFileSync(join(dir, "out.txt"), "utf8"), "out\n")
            const listed = yield* runtime.listContainers({ ...managedLabels, "airut.test": label })
            assert.deepStrictEqual(
              listed.map((l) => l.id),
              [c.id],
            )
            return c.id
          }),
        )
        const after = yield* runtime.inspectContainer(id).pipe(Effect.flip)
        assert.strictEqual(after._tag === "ContainerError" && after.reason, "NotFound")
      }),
    )

    it.scoped("streams stdout lines while the container still runs", () =>
      Effect.gen(function* () {
        const runtime = yield* ContainerRuntime
        const c = yield* runContainer({
          image: baseImage,
          command: ["sh", "-c", "echo first; sleep 30; echo never"],
        })
        const first = yield* c.stdout.pipe(Stream.take(1), collect)
        assert.deepStrictEqual(first, ["first"])
        const info = yield* runtime.inspectContainer(c.id)
        assert.isTrue(info.running, "the line arrived before the container ended")
      }),
    )

    it.scoped("a pids limit holds a fork bomb", () =>
      Effect.gen(function* () {
        const runtime = yield* ContainerRuntime
        const c = yield* runContainer({
          image: baseImage,
          command: ["sh", "-c", "b() { b | b & }; b; exec sleep 60"],
          pidsLimit: 48,
        })
        yield* Effect.sleep("2 seconds")
        const stats = yield* runtime.statsContainer(c.id)
        assert.isAtMost(stats.pids, 48)
        assert.isAtLeast(stats.pids, 24, "the bomb did fork up to the limit")
        const stderr = yield* c.stderr.pipe(Stream.take(1), collect)
        assert.match(stderr[0] ?? "", /fork/i)
      }),
    )

    it.scoped("a memory limit kills the container", () =>
      Effect.gen(function* () {
        const c = yield* runContainer({
          image: baseImage,
          command: ["sh", "-c", "x=a; while true; do x=$x$x; done"],
          memoryBytes: 32 * 1024 * 1024,
          memorySwapBytes: 32 * 1024 * 1024,
        })
        const exit = yield* c.wait
        // cgroup v1 hosts: Podman reports 137 (SIGKILL) but not the OOM flag.
        assert.isTrue(exit.exitCode === 137 || exit.oomKilled, `exit ${exit.exitCode}`)
      }),
    )

    it.effect("interrupting the owning fiber removes its container and network", () =>
      Effect.gen(function* () {
        const runtime = yield* ContainerRuntime
        const label = yield* uniqueRunId
        const fiber = yield* Effect.scoped(
          Effect.gen(function* () {
            const net = yield* acquireNetwork({
              name: `airut-test-${label}`,
              internal: true,
              labels: { "airut.test": label },
            })
            const c = yield* runContainer({
              image: baseImage,
              command: ["sh", "-c", "echo up; exec sleep 300"],
              labels: { "airut.test": label },
              network: { name: net.name },
            })
            yield* c.stdout.pipe(Stream.take(1), Stream.runDrain)
            return yield* c.wait
          }),
        ).pipe(Effect.fork)
        // Running: the container and its network exist.
        yield* Effect.repeat(runtime.listContainers({ "airut.test": label }), {
          until: (l) => l.some((c) => c.state === "running"),
        })
        assert.isTrue(Option.isSome(yield* runtime.inspectNetwork(`airut-test-${label}`)))
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(yield* runtime.listContainers({ "airut.test": label }), [])
        assert.deepStrictEqual(yield* runtime.listNetworks({ "airut.test": label }), [])
        assert.isTrue(Option.isNone(yield* runtime.inspectNetwork(`airut-test-${label}`)))
      }),
    )

    it.effect("the orphan sweep removes what a crash left behind, by label", () =>
      Effect.gen(function* () {
        const runtime = yield* ContainerRuntime
        const label = yield* uniqueRunId
        const labels = { ...managedLabels, "airut.test": label }
        // Made outside any scope, as a crashed daemon would have left them.
        const net = yield* runtime.createNetwork({ name: `airut-orphan-${label}`, internal: true, labels })
        const id = yield* runtime.createContainer({
          image: baseImage,
          command: ["sleep", "300"],
          labels,
          network: { name: net.name },
        })
        yield* runtime.startContainer(id)
        const other = yield* runtime.createContainer({
          image: baseImage,
          command: ["true"],
          labels: { "airut.test": label },
        })
        const report = yield* sweepOrphans(labels)
        assert.deepStrictEqual(report.containers, [id])
        assert.deepStrictEqual(report.networks, [net.name])
        assert.deepStrictEqual(report.failures, [])
        assert.deepStrictEqual(yield* runtime.listContainers(labels), [])
        assert.deepStrictEqual(yield* runtime.listNetworks(labels), [])
        // Unmanaged containers are not ours to remove.
        assert.strictEqual((yield* runtime.inspectContainer(other)).id, other)
        yield* runtime.removeContainer(other)
      }),
    )
  },
)
