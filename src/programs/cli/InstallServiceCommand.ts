import { Command, Options } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { Config, Console, Data, Effect, Option } from "effect"
import { SelfCommand } from "../../services/SelfCommand.js"
import { configOption } from "./configOption.js"
import { loadInstallation } from "./installation.js"
import { renderUnit, unitFile, unitName } from "./serviceUnit.js"
import { SystemctlFailed, systemctl } from "./systemctl.js"

/** The program was not started through its bin file, so there is no command line to repeat. */
export class SelfCommandUnknown extends Data.TaggedError("SelfCommandUnknown")<Record<never, never>> {
  override get message(): string {
    return "cannot tell how airut was started, so there is no command for the unit to run; run install-service through the airut command"
  }
}

const noStartOption = Options.boolean("no-start").pipe(
  Options.withDescription("Write the unit and reload systemd, but do not enable or start the service."),
)

/** Whether systemd keeps this user's services running without a login session. */
const lingerAdvice = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const user = yield* Config.option(Config.nonEmptyString("USER"))
  const name = Option.getOrElse(user, () => "$USER")
  if (Option.isSome(user) && (yield* fs.exists(`/var/lib/systemd/linger/${user.value}`))) {
    return "linger   on: the service keeps running after you log out and starts at boot"
  }
  return `linger   off: the service runs only while you are logged in; to keep it running and start it at boot: loginctl enable-linger ${name}`
})

/**
 * Writes the unit (replacing an earlier one), reloads systemd and, unless `noStart`, enables and
 * starts the service (restarts it when it was installed before, so the new unit applies). A
 * systemctl failure leaves the unit written and says what to run once the cause is fixed.
 */
export const installService = (options: {
  readonly config: Option.Option<string>
  readonly noStart: boolean
}) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const self = yield* SelfCommand
    if (self.argv.length === 0) return yield* new SelfCommandUnknown()
    // The config must load: a service that fails at every start helps nobody.
    const { loaded, paths } = yield* loadInstallation(options.config)
    const file = yield* unitFile
    const PATH = yield* Config.string("PATH").pipe(Config.withDefault("/usr/local/bin:/usr/bin:/bin"))
    const unit = renderUnit({
      execStart: [
        ...self.argv,
        "run",
        ...(Option.isSome(options.config) ? ["--config", paths.configFile] : []),
      ],
      path: PATH,
      shutdownTimeoutSeconds: loaded.config.execution.shutdown_timeout,
    })
    const existed = yield* fs.exists(file)
    yield* fs.makeDirectory(path.dirname(file), { recursive: true })
    yield* fs.writeFileString(file, unit, { mode: 0o644 })
    yield* Console.log(`unit     ${existed ? "replaced" : "wrote"} ${file}`)
    if (!loaded.exists) {
      yield* Console.log(
        `config   ${loaded.file} does not exist yet: the service starts on embedded defaults (airut init writes one)`,
      )
    }

    const steps = options.noStart
      ? [["daemon-reload"]]
      : existed
        ? [["daemon-reload"], ["enable", unitName], ["restart", unitName]]
        : [["daemon-reload"], ["enable", "--now", unitName]]
    yield* Effect.forEach(steps, (args) => systemctl(...args), { discard: true }).pipe(
      Effect.catchTag("SystemctlFailed", (e) =>
        Effect.fail(
          new SystemctlFailed({
            command: e.command,
            detail: `${e.detail}. The unit ${file} is written; once the cause is fixed run: systemctl --user daemon-reload && systemctl --user enable --now ${unitName}`,
          }),
        ),
      ),
    )
    yield* Console.log(
      options.noStart
        ? `service  not started (--no-start); start it with: systemctl --user enable --now ${unitName}`
        : existed
          ? "service  enabled and restarted with the new unit"
          : "service  enabled and started",
    )
    yield* Console.log("logs     journalctl --user -u airut -f")
    yield* Console.log(yield* lingerAdvice)
  })

/** `airut install-service [--config FILE] [--no-start]`. */
export const installServiceCommand = Command.make(
  "install-service",
  { config: configOption, noStart: noStartOption },
  installService,
).pipe(
  Command.withDescription(
    "Run `airut run` as a systemd user service (~/.config/systemd/user/airut.service), restarted when it fails.",
  ),
)
