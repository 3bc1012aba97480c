import { Command } from "@effect/cli"
import { Path } from "@effect/platform"
import { Console, Effect } from "effect"
import { DockerRuntimeLive } from "../../layers/DockerRuntimeLive.js"
import { pingEngine, resolveSocket } from "./engine.js"
import { asSetupFailed as setup } from "./exitCodes.js"
import { imageHashes } from "./imageFiles.js"
import { engineOptions } from "./options.js"
import { readBuildContext } from "./repoFiles.js"

/** `airut-sandbox image hash`: `repo=<sha256>` and `proxy=<sha256>`, the keys of the CI cache. */
export const imageHashCommand = Command.make("hash", engineOptions, (args) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const context = yield* setup(readBuildContext(path.resolve(args.contextDir)))
    const socketPath = yield* resolveSocket(args.socket)
    // Only the engine: hashing builds nothing and needs no CA.
    const hashes = yield* setup(pingEngine.pipe(Effect.zipRight(imageHashes(context)))).pipe(
      Effect.provide(DockerRuntimeLive({ socketPath })),
    )
    yield* Console.log(`repo=${hashes.repo}\nproxy=${hashes.proxy}`)
  }),
).pipe(Command.withDescription("Print the content hashes of the sandbox's images (cache keys for CI)."))
