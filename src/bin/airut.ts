import * as path from "node:path"
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { AirutCliLive, airutCli, reportFailure } from "../programs/cli/AirutCli.js"
import { SelfCommand } from "../services/SelfCommand.js"

// How this process was started (Node, its loader options, the script), for install-service.
const script = process.argv[1]
const self = {
  argv: script === undefined ? [] : [process.execPath, ...process.execArgv, path.resolve(script)],
}

airutCli(process.argv).pipe(
  Effect.tapError(reportFailure),
  Effect.provideService(SelfCommand, self),
  Effect.provide(AirutCliLive),
  // runMain's pretty logger would print beside ours without redaction: ours is the only one.
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true }),
)
