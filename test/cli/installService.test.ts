import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { quoteArgument } from "../../src/programs/cli/serviceUnit.js"
import { SelfCommand } from "../../src/services/SelfCommand.js"
import { runAirut } from "./support.js"

const self = { argv: ["/opt/node/bin/node", "/opt/airut/bin/airut.js"] }

/**
 * A temp HOME with a config, and a fake `systemctl` first on PATH that logs its arguments, one
 * call a line, and fails (exit 1, a message on stderr) when its arguments contain `failOn`.
 */
const setup = (options: { readonly failOn?: string; readonly withSystemctl?: boolean } = {}) => {
  const home = mkdtempSync(join(tmpdir(), "airut-service-"))
  const bin = join(home, "bin")
  mkdirSync(bin)
  const log = join(home, "systemctl.log")
  if (options.withSystemctl !== false) {
    const fail =
      options.failOn === undefined
        ? ""
        : `case "$*" in *"${options.failOn}"*) echo "Failed to connect to bus: No medium found" >&2; exit 1;; esac\n`
    writeFileSync(join(bin, "systemctl"), `#!/bin/sh\necho "$*" >> ${log}\n${fail}exit 0\n`)
    chmodSync(join(bin, "systemctl"), 0o755)
  }
  const configFile = join(home, "airut.yaml")
  writeFileSync(configFile, "execution:\n  shutdown_timeout: 45\n")
  const env = { HOME: home, PATH: `${bin}:/usr/bin:/bin`, USER: "nobody-airut-test" }
  const unit = join(home, ".config", "systemd", "user", "airut.service")
  const calls = () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [])
  return { home, bin, env, configFile, unit, calls }
}

const airut = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>) =>
  runAirut(args, env).pipe(Effect.provideService(SelfCommand, self))

const expectedUnit = (
  configFile: string,
  path: string,
  timeout: number,
) => `# Written by \`airut install-service\`; run it again after moving airut or its config.
# \`airut uninstall-service\` stops and removes it.
[Unit]
Description=Airut gateway: Claude Code tasks from email and Slack in sandboxed containers

[Service]
Type=exec
ExecStart=/opt/node/bin/node /opt/airut/bin/airut.js run --config ${configFile}
Environment="PATH=${path}"
Restart=on-failure
RestartSec=10
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=${timeout}

[Install]
WantedBy=default.target
`

describe("airut install-service", () => {
  it.live("writes the unit, reloads systemd, enables and starts it, and says where the logs are", () =>
    Effect.gen(function* () {
      const { env, configFile, unit, calls } = setup()
      const run = yield* airut(["install-service", "--config", configFile], env)
      assert.isUndefined(run.failure, run.err)
      assert.strictEqual(readFileSync(unit, "utf8"), expectedUnit(configFile, env.PATH, 75))
      assert.deepStrictEqual(calls(), ["--user daemon-reload", "--user enable --now airut.service"])
      assert.include(run.out, `unit     wrote ${unit}`)
      assert.include(run.out, "service  enabled and started")
      assert.include(run.out, "journalctl --user -u airut -f")
      assert.include(run.out, "loginctl enable-linger nobody-airut-test")
    }),
  )

  it.live("a second install replaces the unit and restarts the service so the new one applies", () =>
    Effect.gen(function* () {
      const { env, configFile, unit, calls } = setup()
      yield* airut(["install-service", "--config", configFile], env)
      writeFileSync(configFile, "execution:\n  shutdown_timeout: 300\n")
      const run = yield* airut(["install-service", "--config", configFile], env)
      assert.isUndefined(run.failure, run.err)
      assert.strictEqual(readFileSync(unit, "utf8"), expectedUnit(configFile, env.PATH, 330))
      assert.include(run.out, `unit     replaced ${unit}`)
      assert.deepStrictEqual(calls().slice(2), [
        "--user daemon-reload",
        "--user enable airut.service",
        "--user restart airut.service",
      ])
    }),
  )

  it.live("without --config the unit runs `airut run` on the default config; --no-start only reloads", () =>
    Effect.gen(function* () {
      const { home, env, calls } = setup()
      const xdg = join(home, "xdg")
      const run = yield* airut(["install-service", "--no-start"], { ...env, XDG_CONFIG_HOME: xdg })
      assert.isUndefined(run.failure, run.err)
      const text = readFileSync(join(xdg, "systemd", "user", "airut.service"), "utf8")
      assert.include(text, "\nExecStart=/opt/node/bin/node /opt/airut/bin/airut.js run\n")
      // No config file: embedded defaults, shutdown_timeout 60.
      assert.include(text, "\nTimeoutStopSec=90\n")
      assert.include(run.out, "does not exist yet")
      assert.deepStrictEqual(calls(), ["--user daemon-reload"])
      assert.include(run.out, "systemctl --user enable --now airut.service")
    }),
  )

  it.live("a failing systemctl fails the command, names the call and still leaves the unit written", () =>
    Effect.gen(function* () {
      const { env, configFile, unit } = setup({ failOn: "enable" })
      const run = yield* airut(["install-service", "--config", configFile], env)
      assert.isDefined(run.failure)
      assert.include(
        run.err,
        "airut: systemctl --user enable --now airut.service failed: exit 1: Failed to connect to bus: No medium found",
      )
      assert.include(run.err, `The unit ${unit} is written`)
      assert.include(run.err, "systemctl --user daemon-reload && systemctl --user enable --now airut.service")
      assert.isTrue(existsSync(unit))
    }),
  )

  it.live("without systemctl on PATH the unit is written and the error says so", () =>
    Effect.gen(function* () {
      const { env, bin, configFile, unit } = setup({ withSystemctl: false })
      // Only the empty directory: a real systemctl on this machine must not be found either.
      const run = yield* airut(["install-service", "--config", configFile], { ...env, PATH: bin })
      assert.isDefined(run.failure)
      assert.include(run.err, "systemctl --user daemon-reload failed: systemctl is not on PATH", run.err)
      assert.isTrue(existsSync(unit))
    }),
  )

  it.live("refuses when it cannot tell how airut was started, writing nothing", () =>
    Effect.gen(function* () {
      const { env, configFile, unit, calls } = setup()
      const run = yield* runAirut(["install-service", "--config", configFile], env)
      assert.isDefined(run.failure)
      assert.include(run.err, "cannot tell how airut was started")
      assert.isFalse(existsSync(unit))
      assert.deepStrictEqual(calls(), [])
    }),
  )

  it.live("refuses a config that does not load", () =>
    Effect.gen(function* () {
      const { env, configFile, unit } = setup()
      writeFileSync(configFile, "execution:\n  shutdown_timeout: soon\n")
      const run = yield* airut(["install-service", "--config", configFile], env)
      assert.isDefined(run.failure)
      assert.include(run.err, "execution.shutdown_timeout")
      assert.isFalse(existsSync(unit))
    }),
  )
})

describe("airut uninstall-service", () => {
  it.live("stops and disables the service, removes the unit and reloads", () =>
    Effect.gen(function* () {
      const { env, configFile, unit, calls } = setup()
      yield* airut(["install-service", "--config", configFile], env)
      const run = yield* airut(["uninstall-service"], env)
      assert.isUndefined(run.failure, run.err)
      assert.isFalse(existsSync(unit))
      assert.deepStrictEqual(calls().slice(2), ["--user disable --now airut.service", "--user daemon-reload"])
      assert.include(run.out, `unit     removed ${unit}`)
      assert.include(run.out, "service  stopped and disabled")
    }),
  )

  it.live("with nothing installed it says so and calls nothing", () =>
    Effect.gen(function* () {
      const { env, calls } = setup()
      const run = yield* airut(["uninstall-service"], env)
      assert.isUndefined(run.failure, run.err)
      assert.include(run.out, "nothing to remove")
      assert.deepStrictEqual(calls(), [])
    }),
  )

  it.live("removes the unit even when systemctl cannot stop the service, and reports that", () =>
    Effect.gen(function* () {
      const { env, configFile, unit } = setup()
      yield* airut(["install-service", "--config", configFile, "--no-start"], env)
      const failing = setup({ failOn: "disable" })
      const run = yield* airut(["uninstall-service"], { ...env, PATH: `${failing.bin}:/usr/bin:/bin` })
      assert.isDefined(run.failure)
      assert.isFalse(existsSync(unit))
      assert.include(run.err, "systemctl --user disable --now airut.service failed: exit 1")
      assert.include(run.err, "if airut still runs, stop it yourself")
    }),
  )
})

describe("ExecStart quoting", () => {
  it("leaves plain paths bare and quotes and escapes the rest", () => {
    assert.strictEqual(quoteArgument("/usr/bin/node"), "/usr/bin/node")
    assert.strictEqual(quoteArgument("--import=file:///a/loader.mjs"), "--import=file:///a/loader.mjs")
    assert.strictEqual(quoteArgument("/home/a b/airut.yaml"), '"/home/a b/airut.yaml"')
    assert.strictEqual(quoteArgument('/x/"q"\\%h$HOME'), '"/x/\\"q\\"\\\\%%h$$HOME"')
  })
})
