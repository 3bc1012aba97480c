import { Args, Command } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { Console, Effect } from "effect"
import { ContainerRuntime } from "../../services/ContainerRuntime.js"
import { Sandbox } from "../../services/Sandbox.js"
import { SidecarImages } from "../../services/SidecarImages.js"
import { pingEngine, resolveSocket, resolveStateDir, sandboxLayerFor } from "./engine.js"
import { SetupFailed, asSetupFailed as setup } from "./exitCodes.js"
import { archiveNames } from "./imageFiles.js"
import { engineOptions } from "./options.js"
import { readBuildContext } from "./repoFiles.js"
import { withVerbosity } from "./verbosity.js"

/** `airut-sandbox image save DIR`: builds what is missing, then writes `repo.tar` and `proxy.tar`. */
export const imageSaveCommand = Command.make(
  "save",
  { ...engineOptions, dir: Args.directory({ name: "dir", exists: "either" }) },
  (args) =>
    Effect.gen(function* () {
      const path = yield* Path.Path
      const fs = yield* FileSystem.FileSystem
      const dir = path.resolve(args.dir)
      const context = yield* setup(readBuildContext(path.resolve(args.contextDir)))
      const socketPath = yield* resolveSocket(args.socket)
      const stateDir = yield* resolveStateDir(args.stateDir)
      yield* fs
        .makeDirectory(dir, { recursive: true })
        .pipe(Effect.mapError((e) => new SetupFailed({ what: dir, detail: e.message })))
      yield* setup(
        Effect.gen(function* () {
          yield* pingEngine
          const sandbox = yield* Sandbox
          const sidecars = yield* SidecarImages
          const runtime = yield* ContainerRuntime
          const image = yield* sandbox.ensureImage(context)
          const proxyTag = yield* sidecars.proxyImage
          const nodeTag = yield* sidecars.nodeImage
          const archives = [
            [archiveNames.repo, [image.repoTag, image.commandTag, image.agentTag]],
            [archiveNames.proxy, [nodeTag, proxyTag]],
          ] as const
          for (const [name, tags] of archives) {
            yield* runtime.saveImage(tags, path.join(dir, name))
            if (args.verbose) yield* Console.error(`airut-sandbox: saved ${tags.join(", ")} to ${name}`)
          }
        }),
      ).pipe(Effect.provide(sandboxLayerFor(args, socketPath, stateDir)))
    }).pipe(withVerbosity(args.verbose)),
).pipe(
  Command.withDescription("Build the sandbox's images if needed and save them to DIR (repo.tar, proxy.tar)."),
)
