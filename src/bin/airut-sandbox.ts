import { NodeRuntime } from "@effect/platform-node"
import { Console, Data, Effect } from "effect"

// The package already declares this bin; until its CLI exists, say so plainly and exit non-zero
// rather than crash on a missing module.
class NotAvailable extends Data.TaggedError("NotAvailable") {}

Console.error(
  "airut-sandbox: the CI command line is not available in this version yet. The same sandbox is " +
    "usable as a library today: see the README's Library section and examples/.",
).pipe(Effect.zipRight(Effect.fail(new NotAvailable())), NodeRuntime.runMain({ disableErrorReporting: true }))
