import { Args, Command } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { Console, Effect } from "effect"
import { DockerRuntimeLive } from "../../layers/DockerRuntimeLive.js"
import { ContainerRuntime } from "../../services/ContainerRuntime.js"
import { pingEngine, resolveSocket } from "./engine.js"
import { asSetupFailed as setup } from "./exitCodes.js"
import { archiveNames } from "./imageFiles.js"
import { engineOptions } from "./options.js"

/**
 * `airut-sandbox image load DIR`: loads the archives present in DIR. A missing or broken archive
 * is said and skipped: the next run builds what is missing, so a bad cache costs time, not a run.
 */
export const imageLoadCommand = Command.make(
  "load",
  { ...engineOptions, dir: Args.directory({ name: "dir", exists: "either" }) },
  (args) =>
    Effect.gen(function* () {
      const path = yield* Path.Path
      const fs = yield* FileSystem.FileSystem
      const socketPath = yield* resolveSocket(args.socket)
      yield* setup(
        Effect.gen(function* () {
          yield* pingEngine
          const runtime = yield* ContainerRuntime
          for (const name of [archiveNames.repo, archiveNames.proxy]) {
            const file = path.join(path.resolve(args.dir), name)
            const present = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
            if (!present) {
              if (args.verbose)
                yield* Console.error(`airut-sandbox: no ${name} in ${args.dir}; nothing to load`)
              continue
            }
            yield* runtime.loadImage(file).pipe(
              Effect.zipRight(args.verbose ? Console.error(`airut-sandbox: loaded ${name}`) : Effect.void),
              Effect.catchTag("ContainerError", (e) =>
                Console.error(
                  `airut-sandbox: could not load ${name} (the next run builds instead): ${e.message}`,
                ),
              ),
            )
          }
        }),
      ).pipe(Effect.provide(DockerRuntimeLive({ socketPath })))
    }),
).pipe(
  Command.withDescription("Load the images a previous `image save DIR` wrote; missing archives are skipped."),
)
