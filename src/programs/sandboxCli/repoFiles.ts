import { FileSystem, Path } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import { ConfigUnreadable } from "../../schema/ConfigIssue.js"
import {
  decodeNetworkAllowlist,
  type NetworkAllowlist,
  networkAllowlistPath,
} from "../../schema/NetworkAllowlist.js"
import { MemorySize, type ResourceLimits } from "../../schema/RunPolicy.js"
import { decodeSandboxFile, type SandboxFile, sandboxFilePath } from "../../schema/SandboxFile.js"
import type { BuildContext } from "../../services/ContainerRuntime.js"
import { ImageSourceUnreadable } from "../../services/Sandbox.js"
import { SetupFailed } from "./exitCodes.js"

/**
 * The repository's `.airut/` files as `airut-sandbox` reads them from the current directory:
 * the image's build context, `sandbox.yaml` (absent: the defaults) and the allowlist. All are
 * read and checked before the engine is touched, so a bad file or a missing `!env` variable
 * fails before any container starts.
 */

const readText = (file: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const exists = yield* fs
      .exists(file)
      .pipe(Effect.mapError((e) => new ConfigUnreadable({ file, reason: e.message })))
    if (!exists) return Option.none<string>()
    return Option.some(
      yield* fs
        .readFileString(file)
        .pipe(Effect.mapError((e) => new ConfigUnreadable({ file, reason: e.message }))),
    )
  })

/** `.airut/sandbox.yaml` (or `--config`); the defaults when the default file is absent. */
export const loadSandboxFile = (cwd: string, given: Option.Option<string>) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const file = path.resolve(
      cwd,
      Option.getOrElse(given, () => sandboxFilePath),
    )
    const text = yield* readText(file)
    if (Option.isNone(text)) {
      if (Option.isSome(given)) return yield* new ConfigUnreadable({ file, reason: "no such file" })
      return yield* decodeSandboxFile("{}\n", file)
    }
    return yield* decodeSandboxFile(
      text.value,
      Option.getOrElse(given, () => sandboxFilePath),
    )
  })

/** `--allowlist FILE`, else `.airut/network-allowlist.yaml`; required for a sandboxed network. */
export const loadAllowlist = (cwd: string, given: Option.Option<string>) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const shown = Option.getOrElse(given, () => networkAllowlistPath)
    const file = path.resolve(cwd, shown)
    const text = yield* readText(file)
    if (Option.isNone(text)) {
      return yield* new SetupFailed({
        what: shown,
        detail:
          "no such file; the sandbox needs an allowlist (pass --allowlist FILE, or set network_sandbox: false in .airut/sandbox.yaml for open network access)",
      })
    }
    const allowlist: NetworkAllowlist = yield* decodeNetworkAllowlist(text.value, shown)
    return allowlist
  })

/** Every regular file under the context directory, by relative path with forward slashes. */
export const readBuildContext = (dir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const unreadable = (e: { readonly message: string }) =>
      new ImageSourceUnreadable({ path: dir, detail: e.message })
    const entries = yield* fs.readDirectory(dir, { recursive: true }).pipe(Effect.mapError(unreadable))
    const files = yield* Effect.forEach(
      [...entries].sort(),
      (entry) =>
        Effect.gen(function* () {
          const full = path.join(dir, entry)
          const info = yield* fs.stat(full)
          if (info.type !== "File") return Option.none()
          const file: readonly [string, Uint8Array] = [
            entry.split(path.sep).join("/"),
            yield* fs.readFile(full),
          ]
          return Option.some(file)
        }).pipe(Effect.mapError(unreadable)),
      { concurrency: 8 },
    )
    const context: BuildContext = new Map(files.flatMap(Option.toArray))
    if (!context.has("Dockerfile")) {
      return yield* new ImageSourceUnreadable({ path: dir, detail: "it has no Dockerfile" })
    }
    return context
  })

/** sandbox.yaml's limits as the container gets them (the timeout is the CLI's own business). */
export const containerLimits = (file: SandboxFile) =>
  Effect.gen(function* () {
    const limits = file.resource_limits
    const memoryBytes =
      limits.memory === undefined
        ? undefined
        : yield* Schema.decode(MemorySize)(limits.memory).pipe(
            Effect.mapError(
              (e) =>
                new SetupFailed({ what: sandboxFilePath, detail: `resource_limits.memory: ${e.message}` }),
            ),
          )
    const result: ResourceLimits = {
      ...(memoryBytes === undefined ? {} : { memoryBytes }),
      ...(limits.cpus === undefined ? {} : { cpus: limits.cpus }),
      ...(limits.pids_limit === undefined ? {} : { pidsLimit: limits.pids_limit }),
    }
    return result
  })
