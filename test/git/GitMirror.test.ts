import { mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { GitMirrorLive } from "../../src/layers/GitMirrorLive.js"
import { AirutPaths } from "../../src/services/AirutPaths.js"
import { GitMirror, type MirroredRepo } from "../../src/services/GitMirror.js"
import { gitIn } from "../support/git.js"

/** A source repository on `main` with a container context, and a mirror layer over a fresh state dir. */
const fixture = () => {
  const root = mkdtempSync(join(tmpdir(), "airut-git-"))
  const source = join(root, "source")
  mkdirSync(join(source, ".airut", "container", "etc"), { recursive: true })
  gitIn(source, "init", "--quiet", "--initial-branch=main")
  writeFileSync(join(source, ".airut", "container", "Dockerfile"), "FROM localhost/airut-base:bookworm\n")
  writeFileSync(join(source, ".airut", "container", "etc", "gitconfig"), "[user]\n  name = agent\n")
  writeFileSync(join(source, ".airut", "network-allowlist.yaml"), "domains: [example.com]\n")
  gitIn(source, "add", ".")
  gitIn(source, "commit", "--quiet", "-m", "initial")
  const stateDir = join(root, "state")
  const layer = GitMirrorLive.pipe(
    Layer.provide(Layer.succeed(AirutPaths, { configFile: join(root, "airut.yaml"), stateDir })),
    Layer.provide(NodeContext.layer),
  )
  const repo: MirroredRepo = { repoId: "app", url: source }
  return { root, source, stateDir, layer, repo }
}

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

describe("GitMirror", () => {
  it.live("mirrors the repository and reads files from the default branch only", () => {
    const { source, layer, repo } = fixture()
    return Effect.gen(function* () {
      const mirror = yield* GitMirror
      yield* mirror.refresh(repo)
      assert.strictEqual(yield* mirror.defaultBranch(repo), "main")
      const allowlist = yield* mirror.readFile(repo, ".airut/network-allowlist.yaml")
      assert.strictEqual(decode(Option.getOrThrow(allowlist)), "domains: [example.com]\n")
      assert.isTrue(Option.isNone(yield* mirror.readFile(repo, ".airut/sandbox.yaml")))

      // A change on another branch is fetched but never read: only the default branch counts.
      gitIn(source, "checkout", "--quiet", "-b", "agent-branch")
      writeFileSync(join(source, ".airut", "network-allowlist.yaml"), "domains: ['*']\n")
      gitIn(source, "commit", "--quiet", "-am", "widen the allowlist")
      gitIn(source, "checkout", "--quiet", "main")
      yield* mirror.refresh(repo)
      const after = yield* mirror.readFile(repo, ".airut/network-allowlist.yaml")
      assert.strictEqual(decode(Option.getOrThrow(after)), "domains: [example.com]\n")

      // A new commit on main is seen after a refresh.
      writeFileSync(join(source, ".airut", "network-allowlist.yaml"), "domains: [example.org]\n")
      gitIn(source, "commit", "--quiet", "-am", "switch host")
      yield* mirror.refresh(repo)
      const refreshed = yield* mirror.readFile(repo, ".airut/network-allowlist.yaml")
      assert.strictEqual(decode(Option.getOrThrow(refreshed)), "domains: [example.org]\n")
    }).pipe(Effect.provide(layer))
  })

  it.live("reads a container context as relative paths with their bytes", () => {
    const { layer, repo } = fixture()
    return Effect.gen(function* () {
      const mirror = yield* GitMirror
      yield* mirror.refresh(repo)
      const tree = yield* mirror.readTree(repo, ".airut/container")
      assert.deepStrictEqual([...tree.keys()].sort(), ["Dockerfile", "etc/gitconfig"])
      assert.strictEqual(
        decode(tree.get("Dockerfile") ?? new Uint8Array()),
        "FROM localhost/airut-base:bookworm\n",
      )
      assert.strictEqual((yield* mirror.readTree(repo, ".devcontainer")).size, 0)
    }).pipe(Effect.provide(layer))
  })

  it.live("refuses unsafe paths and symbolic links in a context", () => {
    const { source, layer, repo } = fixture()
    symlinkSync("/etc/passwd", join(source, ".airut", "container", "passwd"))
    gitIn(source, "add", ".")
    gitIn(source, "commit", "--quiet", "-m", "link")
    return Effect.gen(function* () {
      const mirror = yield* GitMirror
      yield* mirror.refresh(repo)
      const traversal = yield* Effect.flip(mirror.readFile(repo, "../outside"))
      assert.include(traversal.detail, "unsafe path")
      const absolute = yield* Effect.flip(mirror.readTree(repo, "/etc"))
      assert.include(absolute.detail, "unsafe path")
      const link = yield* Effect.flip(mirror.readTree(repo, ".airut/container"))
      assert.include(link.detail, "symbolic link")
    }).pipe(Effect.provide(layer))
  })

  it.live("clones a workspace with origin at the real URL and no object shared with the mirror", () => {
    const { root, source, stateDir, layer, repo } = fixture()
    const dest = join(root, "conversation", "workspace")
    return Effect.gen(function* () {
      const mirror = yield* GitMirror
      yield* mirror.refresh(repo)
      yield* mirror.cloneInto(repo, dest)
      assert.strictEqual(gitIn(dest, "remote", "get-url", "origin").trim(), source)
      assert.strictEqual(gitIn(dest, "log", "--format=%s").trim(), "initial")
      const objects = join(dest, ".git", "objects")
      const files = readdirSync(objects, { recursive: true, encoding: "utf8" })
        .map((f) => join(objects, f))
        .filter((f) => statSync(f).isFile())
      assert.isAbove(files.length, 0)
      // Hard links would let the agent rewrite the mirror's objects through its workspace.
      for (const f of files) assert.strictEqual(statSync(f).nlink, 1, f)
      assert.isTrue(statSync(join(stateDir, "mirrors", "app.git")).isDirectory())
    }).pipe(Effect.provide(layer))
  })

  it.live("serializes concurrent refreshes of one repository and reports a bad URL with git's reason", () => {
    const { root, layer, repo } = fixture()
    return Effect.gen(function* () {
      const mirror = yield* GitMirror
      yield* Effect.all([mirror.refresh(repo), mirror.refresh(repo), mirror.refresh(repo)], {
        concurrency: 3,
      })
      assert.strictEqual(yield* mirror.defaultBranch(repo), "main")
      const missing = yield* Effect.flip(mirror.refresh({ repoId: "gone", url: join(root, "nope") }))
      assert.strictEqual(missing.operation, "clone")
      assert.include(missing.detail, "does not exist")
    }).pipe(Effect.provide(layer))
  })
})
