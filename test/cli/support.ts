import { NodeContext } from "@effect/platform-node"
import { ConfigProvider, type Console, Effect, Fiber, Layer, Logger, Ref } from "effect"
import { ConfigLoaderLive } from "../../src/layers/ConfigLoaderLive.js"
import { SecretRedactorLive } from "../../src/layers/SecretRedactorLive.js"
import { airutCli, reportFailure } from "../../src/programs/cli/AirutCli.js"

/** What a CLI run printed, and how it ended. */
export interface CliRun {
  readonly out: string
  readonly err: string
  readonly failure: string | undefined
}

const testLayer = ConfigLoaderLive.pipe(
  Layer.provideMerge(SecretRedactorLive),
  Layer.provideMerge(NodeContext.layer),
)

/**
 * Runs `airut <args>` through the real command tree and layers, with exactly `env` visible to
 * Effect Config and Console output captured (the same path the bin takes, minus the process).
 */
export const runAirut = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>) =>
  Effect.gen(function* () {
    const out = yield* Ref.make<Array<string>>([])
    const err = yield* Ref.make<Array<string>>([])
    const base = yield* Effect.console
    const capture =
      (ref: Ref.Ref<Array<string>>) =>
      (...parts: ReadonlyArray<unknown>) =>
        Ref.update(ref, (lines) => [...lines, parts.map(String).join(" ")])
    const console: Console.Console = { ...base, log: capture(out), error: capture(err) }
    const exit = yield* airutCli(["node", "airut", ...args]).pipe(
      Effect.tapError(reportFailure),
      Effect.withConsole(console),
      Effect.provide(testLayer),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
      Effect.exit,
    )
    const run: CliRun = {
      out: (yield* Ref.get(out)).join("\n"),
      err: (yield* Ref.get(err)).join("\n"),
      failure: exit._tag === "Failure" ? String(exit.cause) : undefined,
    }
    return run
  })

/** A config with one email repository (sandbox on) and the engine at `socket`. */
export const repoConfig = (socket: string) =>
  [
    "container:",
    `  socket: ${socket}`,
    "repos:",
    "  app:",
    "    repo_url: https://example.com/app.git",
    "    email:",
    "      account: { username: a@example.com, from: a@example.com, password: !env MAIL_PW }",
    "      imap: { server: imap.example.com }",
    "      smtp: { server: smtp.example.com }",
    "      auth: { authorized_senders: [me@example.com], trusted_authserv_id: mx.example.com }",
    "",
  ].join("\n")

/** Runs `airut run` until a log line matches `until`, then interrupts it; returns every log line. */
export const runDaemonUntil = (env: Readonly<Record<string, string>>, until: (line: string) => boolean) =>
  Effect.gen(function* () {
    const logs: Array<string> = []
    const logger = Logger.make(({ message }) => {
      logs.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    const fiber = yield* runAirut(["run"], env).pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Effect.fork,
    )
    yield* Effect.sleep("50 millis").pipe(
      Effect.repeat({ until: () => logs.some(until) }),
      Effect.timeout("60 seconds"),
    )
    yield* Fiber.interrupt(fiber)
    return logs
  })
