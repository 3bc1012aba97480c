import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { repoConfig, runAirut, runDaemonUntil } from "../cli/support.js"

const socket = process.env.AIRUT_TEST_PODMAN_SOCKET ?? "/run/airut-test/podman.sock"

describe("airut check on a real engine", () => {
  it.live("reports the Podman version through the configured socket", () =>
    Effect.gen(function* () {
      const home = mkdtempSync(join(tmpdir(), "airut-check-"))
      const env = { HOME: home }
      const init = yield* runAirut(["init"], env)
      assert.isUndefined(init.failure, init.err)
      writeFileSync(join(home, ".config", "airut", "airut.yaml"), `container:\n  socket: ${socket}\n`)
      const run = yield* runAirut(["check"], env)
      assert.match(
        run.out,
        new RegExp(`^ok {4}engine {5}podman \\d+\\.\\d+\\.\\d+ \\(API [\\d.]+\\) at ${socket}`, "m"),
      )
      assert.match(run.out, /^ok {4}store/m)
      assert.match(run.out, /^ok {4}proxy CA/m)
    }),
  )
})

describe("airut run on a real engine", () => {
  it.live("proves the task network isolated before serving a sandboxed repository", () =>
    Effect.gen(function* () {
      const home = mkdtempSync(join(tmpdir(), "airut-run-"))
      const env = { HOME: home, MAIL_PW: "pw" }
      yield* runAirut(["init"], env)
      writeFileSync(join(home, ".config", "airut", "airut.yaml"), repoConfig(socket))
      const logs = yield* runDaemonUntil(env, (l) => l.includes("network isolation"))
      const verdict = logs.find((l) => l.includes("network isolation")) ?? ""
      assert.match(
        verdict,
        /^network isolation proven on podman [\d.]+: \d+ ways out tried, none got through/,
      )
    }),
  )
})
