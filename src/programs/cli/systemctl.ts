import { Command } from "@effect/platform"
import { Config, Data, Effect, Stream } from "effect"

/** A `systemctl --user` call that could not run or did not succeed. */
export class SystemctlFailed extends Data.TaggedError("SystemctlFailed")<{
  /** The command as the operator would type it. */
  readonly command: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.command} failed: ${this.detail}`
  }
}

// enable --now waits for the start job; a manager that does not answer in this long is stuck.
const callTimeout = "60 seconds"

/**
 * Runs `systemctl --user ARGS` with the PATH from Effect Config (the one the operator's shell
 * has; tests put a fake systemctl first). Fails with what systemctl said on stderr.
 */
export const systemctl = (...args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const command = `systemctl --user ${args.join(" ")}`
    const fail = (detail: string) => new SystemctlFailed({ command, detail })
    const PATH = yield* Config.string("PATH").pipe(
      Config.withDefault("/usr/local/bin:/usr/bin:/bin"),
      Effect.mapError((e) => fail(`cannot read PATH: ${String(e)}`)),
    )
    return yield* Effect.gen(function* () {
      const proc = yield* Command.make("systemctl", "--user", ...args).pipe(
        Command.env({ PATH }),
        Command.start,
      )
      const [, stderr, exitCode] = yield* Effect.all(
        [Stream.runDrain(proc.stdout), proc.stderr.pipe(Stream.decodeText(), Stream.mkString), proc.exitCode],
        { concurrency: "unbounded" },
      )
      if (exitCode !== 0) {
        const said = stderr.trim().split("\n").slice(-3).join(" / ")
        return yield* fail(`exit ${exitCode}${said === "" ? "" : `: ${said}`}`)
      }
    }).pipe(
      Effect.scoped,
      Effect.timeoutFail({ duration: callTimeout, onTimeout: () => fail(`no answer within ${callTimeout}`) }),
      Effect.catchTags({
        SystemError: (e) =>
          Effect.fail(fail(e.reason === "NotFound" ? "systemctl is not on PATH" : e.message)),
        BadArgument: (e) => Effect.fail(fail(e.message)),
      }),
    )
  })
