import { HttpServerResponse } from "@effect/platform"
import { Schedule, Stream } from "effect"

/** One Server-Sent Event: a name the page listens for, the data (may span lines), an id to resume from. */
export interface SseEvent {
  readonly event: string
  readonly data: string
  readonly id?: number
}

/** The wire form: each data line on its own `data:` field, so multi-line HTML survives. */
export const encodeSse = (e: SseEvent): string => {
  const lines = [`event: ${e.event}`]
  if (e.id !== undefined) lines.push(`id: ${e.id}`)
  for (const line of e.data.split(/\r\n|\r|\n/)) lines.push(`data: ${line}`)
  return `${lines.join("\n")}\n\n`
}

// A comment line now and then keeps proxies and the browser from timing the stream out.
const heartbeat = Stream.fromSchedule(Schedule.spaced("15 seconds")).pipe(Stream.as(": heartbeat\n\n"))

/**
 * An event stream response. The browser reconnects after a second when it ends or breaks; the
 * stream is interrupted when the client goes away.
 */
export const sseResponse = <E>(events: Stream.Stream<SseEvent, E>): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.stream(
    Stream.make("retry: 1000\n\n").pipe(
      Stream.concat(Stream.merge(events.pipe(Stream.map(encodeSse)), heartbeat, { haltStrategy: "left" })),
      Stream.encodeText,
    ),
    {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no" },
    },
  )
