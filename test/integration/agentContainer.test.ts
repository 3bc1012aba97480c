import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import { ImageCacheLive } from "../../src/layers/ImageCacheLive.js"
import { agentContainerSpec } from "../../src/schema/RunPolicy.js"
import { ContainerRuntime } from "../../src/services/ContainerRuntime.js"
import { runContainer } from "../../src/services/ContainerScope.js"
import { ImageCache } from "../../src/services/ImageCache.js"
import { PodmanRuntimeRemovingImages } from "./support/images.js"
import { baseImage, uniqueRunId } from "./support/podman.js"

// Stands in for the Claude binary: reports what the agent would see.
const fakeClaude = `#!/bin/sh
echo "args: $*"
echo "prompt: $(cat)"
echo "env: $IS_SANDBOX $CLAUDE_CODE_DISABLE_BACKGROUND_TASKS $GH_TOKEN"
echo "pwd: $(pwd)"
grep -E '^(CapEff|NoNewPrivs):' /proc/self/status
awk -v root="$HOST_ROOT" 'index($4, root) == 1 { print "mount:", $5, substr($6, 1, 2) }' /proc/self/mountinfo | sort
echo "pids.max: $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
echo "memory: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
echo x 2>/dev/null >/opt/claude/claude || echo "binary: read-only"
echo done >/outbox/result.txt
`

const hostTree = Effect.acquireRelease(
  Effect.sync(() => {
    const root = mkdtempSync(join(tmpdir(), "airut-agent-"))
    for (const dir of ["workspace", "inbox", "outbox", "storage", "claude"]) mkdirSync(join(root, dir))
    writeFileSync(join(root, "claude-bin"), fakeClaude)
    chmodSync(join(root, "claude-bin"), 0o755)
    return root
  }),
  (root) => Effect.sync(() => rmSync(root, { recursive: true, force: true })),
)

layer(PodmanRuntimeRemovingImages, { excludeTestServices: true, timeout: "60 seconds" })(
  "an agent container on Podman",
  (it) => {
    it.scoped("runs the overlay's entrypoint into the Claude binary under the run policy", () =>
      Effect.gen(function* () {
        const runtime = yield* ContainerRuntime
        const root = yield* hostTree
        const taskId = yield* uniqueRunId
        const image = yield* Effect.flatMap(ImageCache, (cache) =>
          cache.ensureImage({ context: new Map([["Dockerfile", Buffer.from(`FROM ${baseImage}\n`)]]) }),
        ).pipe(
          Effect.provide(
            ImageCacheLive({ prefix: `localhost/airut-test-${taskId}` }).pipe(
              Layer.provide(Layer.succeed(ContainerRuntime, runtime)),
            ),
          ),
        )
        const spec = agentContainerSpec({
          image: image.tag,
          taskId,
          conversationId: "deadbeef",
          repoId: "example",
          hostPaths: {
            workspace: join(root, "workspace"),
            inbox: join(root, "inbox"),
            outbox: join(root, "outbox"),
            storage: join(root, "storage"),
            claudeState: join(root, "claude"),
            claudeBinary: join(root, "claude-bin"),
          },
          args: ["-p", "-", "--output-format", "stream-json"],
          env: { GH_TOKEN: "surrogate", IS_SANDBOX: "0", HOST_ROOT: root },
          limits: { memoryBytes: 256 * 1024 * 1024, cpus: 1, pidsLimit: 128 },
        })
        const lines = yield* Effect.scoped(
          Effect.gen(function* () {
            const c = yield* runContainer(spec, { stdin: "do the thing" })
            const listed = yield* runtime.listContainers({ "airut.task": taskId, "airut.repo": "example" })
            assert.deepStrictEqual(
              listed.map((l) => l.id),
              [c.id],
            )
            const [out, exit] = yield* Effect.all([Stream.runCollect(c.stdout), c.wait], { concurrency: 2 })
            assert.strictEqual(exit.exitCode, 0)
            return Chunk.toArray(out)
          }),
        )
        assert.deepStrictEqual(lines, [
          "args: -p - --output-format stream-json",
          "prompt: do the thing",
          "env: 1 1 surrogate",
          "pwd: /workspace",
          // CHOWN, DAC_OVERRIDE, FOWNER, SETGID, SETUID: bits 0, 1, 3, 6, 7.
          "CapEff:\t00000000000000cb",
          "NoNewPrivs:\t1",
          "mount: /inbox rw",
          "mount: /opt/claude/claude ro",
          "mount: /outbox rw",
          "mount: /root/.claude rw",
          "mount: /storage rw",
          "mount: /workspace rw",
          "pids.max: 128",
          `memory: ${256 * 1024 * 1024}`,
          "binary: read-only",
        ])
        assert.strictEqual(readFileSync(join(root, "outbox", "result.txt"), "utf8"), "done\n")
        assert.deepStrictEqual(yield* runtime.listContainers({ "airut.task": taskId }), [])
      }),
    )
  },
)
