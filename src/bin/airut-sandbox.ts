import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { exitCodeOf } from "../programs/sandboxCli/exitCodes.js"
import { reportDefect, reportFailure, SandboxCliLive, sandboxCli } from "../programs/sandboxCli/SandboxCli.js"

sandboxCli(process.argv).pipe(
  Effect.tapError(reportFailure),
  Effect.tapDefect(reportDefect),
  Effect.provide(SandboxCliLive),
  // The exit code is the command's own, or the sandbox's (exitCodes.ts), never runMain's 0 or 1.
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => onExit(exitCodeOf(exit)),
  }),
)
