import { Duration, Effect, Option, Stream } from "effect"

/** How often an open page asks the store for new lines while nothing new has come. */
export const POLL_INTERVAL = Duration.millis(400)

interface Read<P> {
  readonly page: P
  readonly advanced: boolean
}

/**
 * Reads a log from `from` on, for as long as the client listens, emitting each read that moved
 * on: each read starts where the last ended; when nothing came, it waits a moment before asking
 * again. The store has no change notification for log lines, and a read per open page every
 * 0.4 s costs it little.
 */
export const tailLog = <P extends { readonly nextOffset: number }, E, R>(
  from: number,
  read: (offset: number) => Effect.Effect<P, E, R>,
): Stream.Stream<P, E, R> =>
  Stream.unfoldEffect(from, (offset) =>
    read(offset).pipe(
      Effect.tap((page) => (page.nextOffset === offset ? Effect.sleep(POLL_INTERVAL) : Effect.void)),
      Effect.map(
        (page): Option.Option<readonly [Read<P>, number]> =>
          Option.some([{ page, advanced: page.nextOffset !== offset }, page.nextOffset]),
      ),
    ),
  ).pipe(Stream.filterMap((r) => (r.advanced ? Option.some(r.page) : Option.none())))
