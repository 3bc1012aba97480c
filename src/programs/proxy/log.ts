/**
 * The proxy's log channel: one JSON object per line (see src/schema/NetworkLogLine.ts). Lines are
 * built in their encoded (JSON) form, which the schema's `Encoded` type checks, and handed to a
 * sink: stdout in the sidecar, a queue in the in-process layer.
 */
import { Clock, Effect } from "effect"
import type { NetworkLogLineJson } from "../../schema/NetworkLogLine.js"

export type LogSink = (line: NetworkLogLineJson) => Effect.Effect<void>

export const isoNow = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

/** Writes each line to stdout as JSON. */
export const stdoutSink: LogSink = (line) =>
  Effect.sync(() => {
    process.stdout.write(`${JSON.stringify(line)}\n`)
  })
