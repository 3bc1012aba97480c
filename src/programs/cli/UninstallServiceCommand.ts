import { Command } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import { Console, Effect, Either } from "effect"
import { unitFile, unitName } from "./serviceUnit.js"
import { SystemctlFailed, systemctl } from "./systemctl.js"

/**
 * Stops and disables the service, removes its unit and reloads systemd. The file goes even when
 * systemctl fails (a unit left behind would start airut again at the next login); the failure is
 * still reported, since a service that could not be stopped may be running.
 */
export const uninstallService = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const file = yield* unitFile
  if (!(yield* fs.exists(file))) {
    yield* Console.log(`unit     none at ${file}; nothing to remove`)
    return
  }
  const stopped = yield* Effect.either(systemctl("disable", "--now", unitName))
  yield* fs.remove(file)
  yield* Console.log(`unit     removed ${file}`)
  const reloaded = yield* Effect.either(systemctl("daemon-reload"))
  if (Either.isLeft(stopped)) {
    return yield* new SystemctlFailed({
      command: stopped.left.command,
      detail: `${stopped.left.detail}. The unit file is removed; if airut still runs, stop it yourself`,
    })
  }
  yield* Console.log("service  stopped and disabled")
  if (Either.isLeft(reloaded)) return yield* reloaded.left
})

/** `airut uninstall-service`. */
export const uninstallServiceCommand = Command.make("uninstall-service", {}, () => uninstallService).pipe(
  Command.withDescription("Stop and disable the airut systemd user service and remove its unit."),
)
