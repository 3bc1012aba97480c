import { createHash } from "node:crypto"
import { gzipSync } from "node:zlib"
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, TestClock, TestServices } from "effect"
import * as TarStream from "tar-stream"
import { ClaudeBinaryLive } from "../../src/layers/ClaudeBinaryLive.js"
import { AirutPaths } from "../../src/services/AirutPaths.js"
import { ClaudeBinary } from "../../src/services/ClaudeBinary.js"

/**
 * The cache against a fake `npm` (a shell script serving a small package), so every rule runs
 * in milliseconds: download and verification, cache hits, tampering, integrity failures, one
 * download for concurrent callers, retries.
 */

const binaryText = "#!/bin/sh\necho 9.9.9 '(Claude Code)'\n"

const packTarball = (files: Readonly<Record<string, string>>) =>
  Effect.async<Buffer>((resume) => {
    const pack = TarStream.pack()
    const parts: Array<Buffer> = []
    pack.on("data", (chunk: unknown) => {
      if (Buffer.isBuffer(chunk)) parts.push(chunk)
    })
    pack.on("end", () => resume(Effect.succeed(gzipSync(Buffer.concat(parts)))))
    for (const [name, content] of Object.entries(files)) {
      pack.entry({ name, mode: 0o755 }, content)
    }
    pack.finalize()
  })

interface FakeNpm {
  readonly npm: string
  readonly stateDir: string
  readonly log: string
  readonly binarySha256: string
}

/**
 * A fake npm in a temp dir. `view` prints the dist (its integrity is the real tarball's unless
 * `badIntegrity`), `pack` copies the tarball into `--pack-destination`; `failPacks` packs fail
 * first. Each call is logged, one line per call.
 */
const makeFakeNpm = (options: { readonly badIntegrity?: boolean; readonly failPacks?: number } = {}) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "airut-fake-npm-" })
    const tarball = yield* packTarball({
      "package/package.json": '{"name":"@anthropic-ai/claude-code-linux-x64","version":"9.9.9"}',
      "package/claude": binaryText,
      "package/README.md": "fake",
    })
    const integrity = `sha512-${createHash("sha512")
      .update(options.badIntegrity ? Buffer.from("other") : tarball)
      .digest("base64")}`
    const filename = "anthropic-ai-claude-code-linux-x64-9.9.9.tgz"
    yield* fs.writeFile(path.join(dir, "pkg.tgz"), tarball)
    yield* fs.writeFileString(
      path.join(dir, "view.json"),
      JSON.stringify({ integrity, tarball: "https://registry.invalid/x.tgz", shasum: "0" }),
    )
    yield* fs.writeFileString(
      path.join(dir, "pack.json"),
      JSON.stringify([{ filename, integrity, version: "9.9.9", files: [] }]),
    )
    yield* fs.writeFileString(path.join(dir, "failures"), "x".repeat(options.failPacks ?? 0))
    const log = path.join(dir, "calls.log")
    const npm = path.join(dir, "npm")
    yield* fs.writeFileString(
      npm,
      `#!/bin/sh
echo "$1 $2" >> '${log}'
case "$1" in
  view) cat '${dir}/view.json' ;;
  pack)
    left=$(cat '${dir}/failures')
    if [ -n "$left" ]; then
      printf '%s' "\${left#x}" > '${dir}/failures'
      echo "npm error network ETIMEDOUT" >&2
      exit 1
    fi
    while [ $# -gt 0 ]; do
      if [ "$1" = "--pack-destination" ]; then dest="$2"; fi
      shift
    done
    sleep 0.2
    cp '${dir}/pkg.tgz' "$dest/${filename}"
    cat '${dir}/pack.json' ;;
  *) exit 2 ;;
esac
`,
    )
    yield* fs.chmod(npm, 0o755)
    yield* fs.writeFileString(log, "")
    const stateDir = path.join(dir, "state")
    const fake: FakeNpm = {
      npm,
      stateDir,
      log,
      binarySha256: createHash("sha256").update(binaryText).digest("hex"),
    }
    return fake
  })

/**
 * The retry backoff sleeps on the TestClock while npm runs in real time: let real time pass in
 * small steps and move the clock after each, until the fiber is done.
 */
const driveUntilDone = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function* () {
    // The fake npm is a real process, so time must pass for real between clock steps; the loop
    // is bounded by the test timeout, not by a step count that a slow machine could exhaust.
    while (Option.isNone(yield* Fiber.poll(fiber))) {
      yield* TestServices.provideLive(Effect.sleep("20 millis"))
      yield* TestClock.adjust("500 millis")
    }
    return yield* Fiber.join(fiber)
  })

const calls = (fake: FakeNpm) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(fake.log)).pipe(
    Effect.map((text) => text.split("\n").filter((l) => l !== "")),
  )

const withCache = <A, E>(fake: FakeNpm, body: Effect.Effect<A, E, ClaudeBinary>) =>
  body.pipe(
    Effect.provide(
      ClaudeBinaryLive({ npm: fake.npm, platform: "linux-x64" }).pipe(
        Layer.provide(Layer.succeed(AirutPaths, { configFile: "/nonexistent", stateDir: fake.stateDir })),
        Layer.provide(NodeContext.layer),
      ),
    ),
  )

describe("ClaudeBinaryLive", () => {
  it.scoped("downloads, verifies and caches the binary; a later use reads the cache", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const fake = yield* makeFakeNpm()
      const info = yield* withCache(
        fake,
        Effect.flatMap(ClaudeBinary, (c) => c.ensure("9.9.9")),
      )
      assert.strictEqual(info.path, `${fake.stateDir}/claude/9.9.9/claude`)
      assert.strictEqual(info.sha256, fake.binarySha256)
      assert.strictEqual(yield* fs.readFileString(info.path), binaryText)
      assert.strictEqual((yield* fs.stat(info.path)).mode & 0o777, 0o755)
      const manifest = JSON.parse(yield* fs.readFileString(`${fake.stateDir}/claude/9.9.9/claude.json`))
      assert.strictEqual(manifest.sha256, fake.binarySha256)
      assert.strictEqual(manifest.package, "@anthropic-ai/claude-code-linux-x64")
      // No temporary directories left beside the versions.
      assert.deepStrictEqual(yield* fs.readDirectory(`${fake.stateDir}/claude`), ["9.9.9"])

      // A new layer (a daemon restart) verifies the file against the manifest, no npm call.
      const again = yield* withCache(
        fake,
        Effect.flatMap(ClaudeBinary, (c) => c.ensure("9.9.9")),
      )
      assert.strictEqual(again.sha256, info.sha256)
      assert.deepStrictEqual(yield* calls(fake), [
        "view @anthropic-ai/claude-code-linux-x64@9.9.9",
        "pack @anthropic-ai/claude-code-linux-x64@9.9.9",
      ])
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.scoped("concurrent callers share one download", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeNpm()
      const infos = yield* withCache(
        fake,
        Effect.flatMap(ClaudeBinary, (c) =>
          Effect.all(
            Array.from({ length: 4 }, () => c.ensure("9.9.9")),
            {
              concurrency: "unbounded",
            },
          ),
        ),
      )
      assert.strictEqual(new Set(infos.map((i) => i.sha256)).size, 1)
      assert.strictEqual((yield* calls(fake)).filter((c) => c.startsWith("pack")).length, 1)
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.scoped("a binary changed on disk is fetched again", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const fake = yield* makeFakeNpm()
      const first = yield* withCache(
        fake,
        Effect.flatMap(ClaudeBinary, (c) => c.ensure("9.9.9")),
      )
      yield* fs.writeFileString(first.path, "#!/bin/sh\necho tampered\n")
      const second = yield* withCache(
        fake,
        Effect.flatMap(ClaudeBinary, (c) => c.ensure("9.9.9")),
      )
      assert.strictEqual(second.sha256, fake.binarySha256)
      assert.strictEqual(yield* fs.readFileString(second.path), binaryText)
      assert.strictEqual((yield* calls(fake)).filter((c) => c.startsWith("pack")).length, 2)
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.scoped("a tarball that does not match the registry's integrity is refused and not cached", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const fake = yield* makeFakeNpm({ badIntegrity: true })
      const error = yield* withCache(
        fake,
        Effect.flatMap(ClaudeBinary, (c) => c.ensure("9.9.9")),
      ).pipe(Effect.flip)
      assert.strictEqual(error.reason, "Integrity")
      assert.include(error.detail, "differs from the registry's")
      assert.isFalse(yield* fs.exists(`${fake.stateDir}/claude/9.9.9/claude`))
      // Integrity failures are not retried.
      assert.strictEqual((yield* calls(fake)).filter((c) => c.startsWith("pack")).length, 1)
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.scoped("only exact versions are accepted, before npm is asked anything", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeNpm()
      for (const version of ["latest", "stable", "^2.1.0", "2.1", "file:../x", "2.1.330 --registry=x"]) {
        const error = yield* withCache(
          fake,
          Effect.flatMap(ClaudeBinary, (c) => c.ensure(version)),
        ).pipe(Effect.flip)
        assert.strictEqual(error.reason, "InvalidVersion", version)
      }
      assert.deepStrictEqual(yield* calls(fake), [])
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.scoped("a failing download is retried with backoff, then succeeds", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeNpm({ failPacks: 2 })
      const fiber = yield* withCache(
        fake,
        Effect.flatMap(ClaudeBinary, (c) => c.ensure("9.9.9")),
      ).pipe(Effect.fork)
      const info = yield* driveUntilDone(fiber)
      assert.strictEqual(info.sha256, fake.binarySha256)
      assert.strictEqual((yield* calls(fake)).filter((c) => c.startsWith("pack")).length, 3)
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it.scoped("npm failing every time ends in Download with npm's message, after three attempts", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeNpm({ failPacks: 10 })
      const fiber = yield* withCache(
        fake,
        Effect.flatMap(ClaudeBinary, (c) => c.ensure("9.9.9")),
      ).pipe(Effect.flip, Effect.fork)
      const error = yield* driveUntilDone(fiber)
      assert.strictEqual(error.reason, "Download")
      assert.include(error.detail, "ETIMEDOUT")
      assert.strictEqual((yield* calls(fake)).filter((c) => c.startsWith("pack")).length, 3)
    }).pipe(Effect.provide(NodeContext.layer)),
  )
})
