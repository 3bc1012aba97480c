import { Command, CommandExecutor, FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Chunk, Effect, HashMap, Layer, Option, Stream, SynchronizedRef } from "effect"
import { AirutPaths } from "../services/AirutPaths.js"
import { GitError, GitMirror, type MirroredRepo } from "../services/GitMirror.js"

// How much of git's stderr a GitError keeps: enough to show the cause, not a whole transcript.
const stderrTailLines = 8

const concat = (chunks: Chunk.Chunk<Uint8Array>) => {
  const out = new Uint8Array(Chunk.reduce(chunks, 0, (n, c) => n + c.length))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/** `container/Dockerfile` style paths only: relative, no `..`, no empty segments. */
const isSafeRelative = (p: string) =>
  p !== "" && !p.startsWith("/") && p.split("/").every((s) => s !== "" && s !== "." && s !== "..")

export const makeGitMirror = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const executor = yield* CommandExecutor.CommandExecutor
  const { stateDir } = yield* AirutPaths
  const mirrorsDir = path.join(stateDir, "mirrors")
  const locks = yield* SynchronizedRef.make(HashMap.empty<string, Effect.Semaphore>())

  const lockFor = (repoId: string) =>
    SynchronizedRef.modifyEffect(locks, (map) =>
      Option.match(HashMap.get(map, repoId), {
        onSome: (lock) => Effect.succeed([lock, map] as const),
        onNone: () =>
          Effect.map(Effect.makeSemaphore(1), (lock) => [lock, HashMap.set(map, repoId, lock)] as const),
      }),
    )

  const mirrorDir = (repo: MirroredRepo) => path.join(mirrorsDir, `${repo.repoId}.git`)

  const platformFailure = (repo: MirroredRepo, operation: string) => (e: PlatformError) =>
    new GitError({ repoId: repo.repoId, operation, detail: e.message })

  /** Runs git, returning stdout; a non-zero exit is a GitError with the end of stderr. */
  const git = (repo: MirroredRepo, operation: string, args: ReadonlyArray<string>, cwd?: string) =>
    Effect.scoped(
      Effect.gen(function* () {
        const base = Command.make("git", ...args).pipe(
          // Never wait for a password prompt nobody will answer; stable messages for errors.
          Command.env({ GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" }),
        )
        const proc = yield* executor.start(cwd === undefined ? base : Command.workingDirectory(base, cwd))
        const [stdout, stderr, code] = yield* Effect.all(
          [
            Stream.runCollect(proc.stdout).pipe(Effect.map(concat)),
            Stream.runCollect(proc.stderr).pipe(Effect.map((c) => new TextDecoder().decode(concat(c)))),
            proc.exitCode,
          ],
          { concurrency: "unbounded" },
        )
        if (code !== 0) {
          const tail = stderr.trim().split("\n").slice(-stderrTailLines).join("\n")
          return yield* new GitError({ repoId: repo.repoId, operation, detail: tail || `exit code ${code}` })
        }
        return stdout
      }),
    ).pipe(Effect.catchTag("SystemError", "BadArgument", platformFailure(repo, operation)))

  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim()

  const refresh = Effect.fn("GitMirror.refresh")(function* (repo: MirroredRepo) {
    const lock = yield* lockFor(repo.repoId)
    yield* lock.withPermits(1)(
      Effect.gen(function* () {
        const dir = mirrorDir(repo)
        if (yield* fs.exists(dir).pipe(Effect.mapError(platformFailure(repo, "refresh")))) {
          yield* git(repo, "fetch", ["--git-dir", dir, "remote", "update", "--prune"])
          return
        }
        // Clone beside the final place and rename, so a crash mid-clone never leaves a mirror
        // that looks complete.
        yield* fs
          .makeDirectory(mirrorsDir, { recursive: true })
          .pipe(Effect.mapError(platformFailure(repo, "clone")))
        const partial = `${dir}.partial`
        yield* fs
          .remove(partial, { recursive: true, force: true })
          .pipe(Effect.mapError(platformFailure(repo, "clone")))
        yield* git(repo, "clone", ["clone", "--mirror", "--quiet", repo.url, partial])
        yield* fs.rename(partial, dir).pipe(Effect.mapError(platformFailure(repo, "clone")))
      }),
    )
  })

  const defaultBranch = Effect.fn("GitMirror.defaultBranch")(function* (repo: MirroredRepo) {
    return text(
      yield* git(repo, "default branch", ["--git-dir", mirrorDir(repo), "symbolic-ref", "--short", "HEAD"]),
    )
  })

  const checkPath = (repo: MirroredRepo, operation: string, p: string) =>
    isSafeRelative(p)
      ? Effect.void
      : Effect.fail(
          new GitError({ repoId: repo.repoId, operation, detail: `unsafe path ${JSON.stringify(p)}` }),
        )

  const readFile = Effect.fn("GitMirror.readFile")(function* (repo: MirroredRepo, file: string) {
    yield* checkPath(repo, "read file", file)
    const branch = yield* defaultBranch(repo)
    const listing = text(
      yield* git(repo, "read file", [
        "--git-dir",
        mirrorDir(repo),
        "ls-tree",
        "--full-tree",
        branch,
        "--",
        file,
      ]),
    )
    if (listing === "") return Option.none<Uint8Array>()
    return Option.some(
      yield* git(repo, "read file", ["--git-dir", mirrorDir(repo), "show", `${branch}:${file}`]),
    )
  })

  const readTree = Effect.fn("GitMirror.readTree")(function* (repo: MirroredRepo, dir: string) {
    yield* checkPath(repo, "read tree", dir)
    const branch = yield* defaultBranch(repo)
    const listing = text(
      yield* git(repo, "read tree", [
        "--git-dir",
        mirrorDir(repo),
        "ls-tree",
        "-r",
        "-z",
        "--full-tree",
        branch,
        "--",
        `${dir}/`,
      ]),
    )
    const files = new Map<string, Uint8Array>()
    for (const entry of listing.split("\0").filter((e) => e !== "")) {
      // "<mode> <type> <object>\t<path>"
      const [meta = "", fullPath = ""] = entry.split("\t")
      const [mode = "", type = "", object = ""] = meta.split(" ")
      if (type === "commit") continue // a submodule: not part of the build context
      if (mode === "120000") {
        return yield* new GitError({
          repoId: repo.repoId,
          operation: "read tree",
          detail: `${fullPath} is a symbolic link; the container context must hold regular files only`,
        })
      }
      const content = yield* git(repo, "read tree", [
        "--git-dir",
        mirrorDir(repo),
        "cat-file",
        "blob",
        object,
      ])
      files.set(fullPath.slice(dir.length + 1), content)
    }
    const tree: ReadonlyMap<string, Uint8Array> = files
    return tree
  })

  const cloneInto = Effect.fn("GitMirror.cloneInto")(function* (repo: MirroredRepo, dest: string) {
    const lock = yield* lockFor(repo.repoId)
    // --no-local: a local clone would hard-link the mirror's object files into the workspace,
    // where the agent (root in its container) could rewrite them and so poison the mirror that
    // repo files and images are read from.
    yield* lock.withPermits(1)(git(repo, "clone", ["clone", "--no-local", "--quiet", mirrorDir(repo), dest]))
    yield* git(repo, "set origin", ["-C", dest, "remote", "set-url", "origin", repo.url])
  })

  return GitMirror.of({ refresh, defaultBranch, readFile, readTree, cloneInto })
})

/** Needs FileSystem, Path and CommandExecutor (NodeContext.layer) and AirutPaths. */
export const GitMirrorLive = Layer.effect(GitMirror, makeGitMirror)
