import * as path from "node:path"
import { Config, Effect, Option } from "effect"

/** The systemd user unit `airut install-service` writes. */
export const unitName = "airut.service"

/** `$XDG_CONFIG_HOME/systemd/user` (else `~/.config/systemd/user`): where systemd reads user units. */
export const unitFile = Effect.gen(function* () {
  const xdg = yield* Config.option(Config.nonEmptyString("XDG_CONFIG_HOME"))
  const base = Option.isSome(xdg)
    ? xdg.value
    : path.join(yield* Config.string("HOME").pipe(Config.withDefault("/root")), ".config")
  return path.join(base, "systemd", "user", unitName)
})

// systemd expands `%x` specifiers in both lines and `$VAR` in ExecStart; C-style escapes inside
// double quotes. Escaping all of them keeps every path exactly as given, spaces included.
const escapeForSystemd = (s: string) =>
  s
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/%/g, "%%")
    .replace(/\$/g, () => "$$")

const bare = /^[A-Za-z0-9_/.,:=+@-]+$/

/** One ExecStart argument: bare when it needs nothing, else quoted and escaped. */
export const quoteArgument = (arg: string) => (bare.test(arg) ? arg : `"${escapeForSystemd(arg)}"`)

export interface UnitSettings {
  /** Node, its options and the entry script, absolute; then the arguments of `airut`. */
  readonly execStart: ReadonlyArray<string>
  /** The PATH the daemon gets: git, podman and the like are found through it. */
  readonly path: string
  /** `execution.shutdown_timeout`: systemd waits this plus a margin before it kills. */
  readonly shutdownTimeoutSeconds: number
}

// Time for the steps after the tasks' grace period (interrupting them, removing their
// containers and networks, closing channels and the store) before systemd sends SIGKILL.
const stopMarginSeconds = 30

export const renderUnit = (settings: UnitSettings) =>
  [
    "# Written by `airut install-service`; run it again after moving airut or its config.",
    "# `airut uninstall-service` stops and removes it.",
    "[Unit]",
    "Description=Airut gateway: Claude Code tasks from email and Slack in sandboxed containers",
    "",
    "[Service]",
    "Type=exec",
    `ExecStart=${settings.execStart.map(quoteArgument).join(" ")}`,
    `Environment="PATH=${escapeForSystemd(settings.path)}"`,
    "Restart=on-failure",
    "RestartSec=10",
    // SIGTERM to airut alone: it stops taking messages, lets running tasks finish and removes
    // their containers itself. Its child processes (git) get SIGKILL only if it overstays.
    "KillSignal=SIGTERM",
    "KillMode=mixed",
    `TimeoutStopSec=${settings.shutdownTimeoutSeconds + stopMarginSeconds}`,
    "",
    "[Install]",
    "WantedBy=default.target",
    "",
  ].join("\n")
