/**
 * The proxy's log channel: one JSON object per line (see src/schema/NetworkLogLine.ts). Lines are
 * built in their encoded (JSON) form, which the schema's `Encoded` type checks, and handed to a
 * sink: stdout in the sidecar, a queue in the in-process layer.
 */
import { Chunk, Clock, Duration, Effect, Queue, type Scope } from "effect"
import type { NetworkLogLineJson } from "../../schema/NetworkLogLine.js"

/**
 * Takes one line; synchronous and never blocking. Every request calls it on the hot path, where
 * an Effect per line (a fiber, its scheduling) cost more than building and forwarding the
 * request head; sinks are therefore a queue's `unsafeOffer` (an unbounded queue always accepts),
 * with a fiber on the other side doing the slow part (writing) in batches.
 */
export type LogSink = (line: NetworkLogLineJson) => void

export const isoNow = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

/** Emits a line from Effect code (everything but the per-request path). */
export const emitLine = (sink: LogSink, line: NetworkLogLineJson) => Effect.sync(() => sink(line))

const batchPause = Duration.millis(20)

const writeStdout = (lines: Chunk.Chunk<string>) =>
  Effect.sync(() => {
    if (Chunk.isNonEmpty(lines)) process.stdout.write(`${Chunk.join(lines, "\n")}\n`)
  })

/**
 * Writes lines to stdout as JSON, batched: a writer fiber takes whatever has accumulated, so a
 * busy proxy makes one write (a synchronous syscall on a pipe) per batch instead of per request.
 * After each write it pauses briefly: woken by every line, the fiber's own scheduling cost as
 * much as a tenth of the proxy's CPU under load; lines wait at most that pause. What is still
 * queued when the scope closes is written then.
 */
export const makeStdoutSink: Effect.Effect<LogSink, never, Scope.Scope> = Effect.gen(function* () {
  const queue = yield* Queue.unbounded<string>()
  yield* Effect.addFinalizer(() => Effect.flatMap(Queue.takeAll(queue), writeStdout))
  yield* Queue.takeBetween(queue, 1, 4096).pipe(
    Effect.flatMap(writeStdout),
    Effect.zipRight(Effect.sleep(batchPause)),
    Effect.forever,
    Effect.forkScoped,
  )
  return (line) => {
    queue.unsafeOffer(JSON.stringify(line))
  }
})
