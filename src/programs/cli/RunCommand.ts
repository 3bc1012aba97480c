import { Command } from "@effect/cli"
import { Effect, Layer } from "effect"
import { DaemonLive } from "../Daemon.js"
import { configOption } from "./configOption.js"
import { ensureStateDir, loadInstallation } from "./installation.js"

/** `airut run`: start the gateway and run until SIGINT/SIGTERM. */
export const runCommand = Command.make("run", { config: configOption }, ({ config }) =>
  Effect.gen(function* () {
    const installation = yield* loadInstallation(config)
    yield* ensureStateDir(installation.paths)
    return yield* Layer.launch(DaemonLive(installation))
  }),
).pipe(Command.withDescription("Start the gateway; runs until SIGINT or SIGTERM."))
