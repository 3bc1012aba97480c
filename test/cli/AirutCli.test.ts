import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { repoConfig, runAirut, runDaemonUntil } from "./support.js"

const freshHome = () => {
  const home = mkdtempSync(join(tmpdir(), "airut-cli-"))
  return { home, env: { HOME: home }, configFile: join(home, ".config", "airut", "airut.yaml") }
}

const modeOf = (file: string) => statSync(file).mode & 0o777

describe("airut init", () => {
  it.live("writes a starter config and the proxy CA with owner-only keys, and keeps them on a rerun", () =>
    Effect.gen(function* () {
      const { home, env, configFile } = freshHome()
      const first = yield* runAirut(["init"], env)
      assert.isUndefined(first.failure, first.err)
      assert.include(first.out, `wrote ${configFile}`)
      assert.include(first.out, "proxy CA generated")
      assert.include(first.out, "airut check")
      assert.strictEqual(modeOf(configFile), 0o600)
      const keyFile = join(home, ".local", "state", "airut", "ca", "ca.key")
      assert.strictEqual(modeOf(keyFile), 0o600)
      assert.include(readFileSync(keyFile, "utf8"), "BEGIN PRIVATE KEY")

      writeFileSync(configFile, `${readFileSync(configFile, "utf8")}\n# edited by the operator\n`)
      const key = readFileSync(keyFile, "utf8")
      const second = yield* runAirut(["init"], env)
      assert.isUndefined(second.failure, second.err)
      assert.include(second.out, "exists; left as it is")
      assert.include(second.out, "proxy CA exists")
      assert.include(readFileSync(configFile, "utf8"), "# edited by the operator")
      assert.strictEqual(readFileSync(keyFile, "utf8"), key)
    }),
  )
})

describe("airut check", () => {
  it.live("reports every check, fails when the engine is unreachable, and names the socket", () =>
    Effect.gen(function* () {
      const { home, env, configFile } = freshHome()
      yield* runAirut(["init"], env)
      const socket = join(home, "no-engine.sock")
      writeFileSync(configFile, `container:\n  socket: ${socket}\n`)
      const run = yield* runAirut(["check"], env)
      assert.isDefined(run.failure)
      assert.include(run.failure, "ChecksFailed")
      assert.match(run.out, /^ok {4}config/m)
      assert.match(run.out, /^ok {4}git {8}git \d+\.\d+/m)
      assert.match(run.out, new RegExp(`^FAIL  engine .*${socket}`, "m"))
      assert.match(run.out, /^ok {4}store .*airut\.db writable/m)
      assert.match(run.out, /^ok {4}proxy CA .*SHA-256/m)
      // The report was the message: nothing repeated on stderr.
      assert.strictEqual(run.err, "")
    }),
  )

  it.scopedLive("asks a running daemon's dashboard for its health, and says when none is running", () =>
    Effect.gen(function* () {
      const { home, env, configFile } = freshHome()
      yield* runAirut(["init"], env)
      // A stand-in daemon: the dashboard's health answer, as the real one serves it.
      const health = {
        status: "degraded",
        store: "ok",
        channels: [{ repoId: "app", kind: "email", health: { _tag: "Degraded", reason: "reconnecting" } }],
        activeTasks: 1,
        maxConcurrent: 3,
      }
      const server = yield* Effect.acquireRelease(
        Effect.async<Server>((resume) => {
          const s = createServer((req, res) => {
            res.writeHead(req.url === "/api/health" ? 200 : 404, { "content-type": "application/json" })
            res.end(JSON.stringify(health))
          })
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) =>
          Effect.async<void>((resume) => {
            s.close(() => resume(Effect.void))
          }),
      )
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const socket = join(home, "no-engine.sock")
      writeFileSync(configFile, `container:\n  socket: ${socket}\ndashboard:\n  port: ${port}\n`)
      const running = yield* runAirut(["check"], env)
      assert.match(
        running.out,
        /^WARN {2}daemon {5}running: 1 task\(s\) active of 3; channels: app\/email degraded/m,
      )

      server.close()
      const stopped = yield* runAirut(["check"], env)
      assert.match(
        stopped.out,
        new RegExp(
          `^info {2}daemon {5}not running \\(nothing answers at http://127\\.0\\.0\\.1:${port}/api/health\\)`,
          "m",
        ),
      )
    }),
  )

  it.live("lists every config problem with its path and does not print a stack trace", () =>
    Effect.gen(function* () {
      const { env, configFile } = freshHome()
      yield* runAirut(["init"], env)
      writeFileSync(configFile, "execution:\n  max_concurrent: 0\ndashbord:\n  port: 1\n")
      const run = yield* runAirut(["check"], env)
      assert.isDefined(run.failure)
      assert.match(run.out, /^FAIL {2}config .*2 problems/m)
      assert.include(run.out, "execution.max_concurrent:")
      assert.include(run.out, "dashbord:")
      assert.notInclude(run.out, "    at ")
    }),
  )

  it.live("without a CA says to run airut init", () =>
    Effect.gen(function* () {
      const { env } = freshHome()
      const run = yield* runAirut(["check"], env)
      assert.match(run.out, /^ok {4}config .*not found: embedded defaults/m)
      assert.match(run.out, /^FAIL {2}proxy CA .*run `airut init`/m)
    }),
  )
})

describe("airut config show", () => {
  it.live("prints the effective config with secrets redacted", () =>
    Effect.gen(function* () {
      const { home, env, configFile } = freshHome()
      yield* runAirut(["init"], env)
      const secret = "s3cr3t-password-value-9f2"
      writeFileSync(configFile, repoConfig(join(home, "engine.sock")))
      const run = yield* runAirut(["config", "show"], { ...env, MAIL_PW: secret })
      assert.isUndefined(run.failure, run.err)
      assert.include(run.out, "max_concurrent: 3")
      assert.include(run.out, "repo_url: https://example.com/app.git")
      assert.include(run.out, "<redacted>")
      assert.notInclude(run.out, secret)
    }),
  )

  it.live("fails with the config problem on stderr, one line per issue", () =>
    Effect.gen(function* () {
      const { env, configFile } = freshHome()
      yield* runAirut(["init"], env)
      writeFileSync(configFile, "dashboard:\n  port: abc\n")
      const run = yield* runAirut(["config", "show", "--config", configFile], env)
      assert.isDefined(run.failure)
      assert.include(run.err, "dashboard.port:")
      assert.include(run.err, '"abc"')
    }),
  )
})

describe("airut run", () => {
  it.live("refuses to call the network proven when the probe cannot run, and keeps serving", () =>
    Effect.gen(function* () {
      const { home, env, configFile } = freshHome()
      yield* runAirut(["init"], env)
      writeFileSync(configFile, repoConfig(join(home, "no-engine.sock")))
      const logs = yield* runDaemonUntil({ ...env, MAIL_PW: "pw" }, (l) => l.includes("network isolation"))
      const verdict = logs.find((l) => l.includes("network isolation")) ?? ""
      assert.include(verdict, "NOT proven; sandboxed tasks will refuse to run")
      assert.include(logs, "airut stopped")
    }),
  )

  it.live(
    "starts on embedded defaults, says what to configure next, and stops cleanly when interrupted",
    () =>
      Effect.gen(function* () {
        const { home, env } = freshHome()
        const logs = yield* runDaemonUntil(env, (l) => l.includes("no repositories configured"))
        assert.isTrue(existsSync(join(home, ".local", "state", "airut", "airut.db")))
        const warning = logs.findIndex((l) => l.includes("no repositories configured"))
        assert.include(logs[warning], "airut init")
        // Stopped by the interruption, after it had started and said what to do: not before.
        assert.strictEqual(logs.indexOf("airut stopped"), logs.length - 1)
        assert.isAbove(logs.length - 1, warning)
      }),
  )
})
