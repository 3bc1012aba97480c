import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { AirutCliLive, airutCli, reportFailure } from "../programs/cli/AirutCli.js"

airutCli(process.argv).pipe(
  Effect.tapError(reportFailure),
  Effect.provide(AirutCliLive),
  // runMain's pretty logger would print beside ours without redaction: ours is the only one.
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true }),
)
