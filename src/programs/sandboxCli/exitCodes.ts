import { Cause, Data, Effect, Exit, Option, Predicate } from "effect"
import type { ConfigInvalid, ConfigUnreadable } from "../../schema/ConfigIssue.js"
import type { ContainerError, EngineUnreachable, ImageBuildFailed } from "../../services/ContainerRuntime.js"
import type {
  IsolationUnsupported,
  NetworkNotIsolated,
  ProbeFailed,
} from "../../services/NetworkIsolation.js"
import type { ProxyFailed } from "../../services/NetworkProxy.js"
import type { CommandFailed, ImageSourceUnreadable, TaskSetupFailed } from "../../services/Sandbox.js"

/**
 * Exit codes a CI system can act on, as `docker run` and `timeout(1)` use them: the command's
 * own code when it ran; 124 when it outlived `--timeout`; 125 when the sandbox could not be set
 * up (the command never ran, or its container could not be started); 137 (SIGKILL) when the
 * memory limit killed it; 130 when airut-sandbox itself was stopped by SIGINT or SIGTERM.
 */
export const exitCodes = {
  timeout: 124,
  setupFailed: 125,
  killed: 137,
  interrupted: 130,
} as const

/**
 * The sandbox could not be set up. `what` names the part that failed (`container engine`,
 * `image build`, `.airut/sandbox.yaml`, ...); printed as one line `airut-sandbox: what: detail`.
 */
export class SetupFailed extends Data.TaggedError("SetupFailed")<{
  readonly what: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.what}: ${this.detail}`
  }
}

/** The command ended with a code other than 0 (or timed out): the process exits with `code`. */
export class CommandExited extends Data.TaggedError("CommandExited")<{
  readonly code: number
}> {}

/** What can go wrong before the command runs, from the library and from reading the repository. */
export type SetupError =
  | ConfigInvalid
  | ConfigUnreadable
  | EngineUnreachable
  | ContainerError
  | ImageBuildFailed
  | ImageSourceUnreadable
  | NetworkNotIsolated
  | IsolationUnsupported
  | ProbeFailed
  | ProxyFailed
  | TaskSetupFailed
  | CommandFailed

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, "; ").trim()

/** The one line that says which part of the sandbox failed, and why. */
export const describeSetupError = (error: SetupError): SetupFailed => {
  switch (error._tag) {
    case "ConfigInvalid":
      return new SetupFailed({
        what: error.file,
        detail: error.issues.map((i) => `${i.path === "" ? "(top level)" : i.path}: ${i.message}`).join("; "),
      })
    case "ConfigUnreadable":
      return new SetupFailed({ what: error.file, detail: `cannot read: ${error.reason}` })
    case "EngineUnreachable":
      return new SetupFailed({
        what: "container engine",
        detail: `no answer on ${error.socketPath}: ${error.detail}`,
      })
    case "ContainerError":
      return new SetupFailed({ what: "container engine", detail: oneLine(error.message) })
    case "ImageBuildFailed": {
      const last = error.lastLines.at(-1)
      return new SetupFailed({
        what: "image build",
        detail: oneLine(
          `${error.tag}: ${error.detail}${last === undefined || last === error.detail ? "" : ` (last output: ${last})`}`,
        ),
      })
    }
    case "ImageSourceUnreadable":
      return new SetupFailed({ what: "image build", detail: oneLine(error.message) })
    case "NetworkNotIsolated":
    case "IsolationUnsupported":
    case "ProbeFailed":
      return new SetupFailed({ what: "isolation probe", detail: oneLine(error.message) })
    case "ProxyFailed":
      return new SetupFailed({ what: "network proxy", detail: oneLine(error.message) })
    case "TaskSetupFailed":
      return new SetupFailed({ what: "sandbox setup", detail: oneLine(error.message) })
    case "CommandFailed":
      return new SetupFailed({ what: "command container", detail: oneLine(error.detail) })
  }
}

/** Turns the library's setup errors into the one-line `SetupFailed`. */
export const asSetupFailed = <A, R>(
  effect: Effect.Effect<A, SetupError | SetupFailed, R>,
): Effect.Effect<A, SetupFailed, R> =>
  effect.pipe(Effect.mapError((e) => (e._tag === "SetupFailed" ? e : describeSetupError(e))))

/**
 * The process's exit code for the program's end: 0 on success, the command's code, 125 for a
 * sandbox that could not be set up or a bad command line, 130 when stopped by a signal.
 */
export const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return 0
  if (Cause.isInterruptedOnly(exit.cause)) return exitCodes.interrupted
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure) && Predicate.isTagged(failure.value, "CommandExited")) {
    const code = Predicate.hasProperty(failure.value, "code") ? failure.value.code : undefined
    if (Predicate.isNumber(code)) return code
  }
  // A bad command line, a setup failure or a defect of ours: the command did not run.
  return exitCodes.setupFailed
}

/** The exit code of a command that ended: its own; an OOM kill is 137 whatever the engine said. */
export const commandExitCode = (exit: { readonly exitCode: number; readonly oomKilled: boolean }) =>
  exit.oomKilled ? exitCodes.killed : exit.exitCode

/**
 * The hint printed after a command killed by the memory limit. Engines on cgroup v1 report no
 * OOM flag, only 137: with a memory limit set, that is said as likely.
 */
export const oomHint = (
  exit: { readonly exitCode: number; readonly oomKilled: boolean },
  memoryLimited: boolean,
): Option.Option<string> =>
  exit.oomKilled
    ? Option.some(
        "airut-sandbox: the command was killed by the memory limit (resource_limits.memory in .airut/sandbox.yaml)",
      )
    : exit.exitCode === exitCodes.killed && memoryLimited
      ? Option.some(
          "airut-sandbox: the command was killed (137); with resource_limits.memory set, likely by the memory limit",
        )
      : Option.none()
