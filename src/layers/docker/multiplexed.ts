import { Chunk, Effect, Either, Stream } from "effect"

/**
 * The Engine API's multiplexed stream format (attach and logs of a container without a TTY):
 * each frame is an 8-byte header [stream type, 0, 0, 0, size as big-endian uint32] followed by
 * `size` bytes. Stream type 0 is stdin, 1 stdout, 2 stderr, 3 Docker's system error. Chunks of
 * the socket cut frames anywhere, headers included.
 */

export interface Frame {
  readonly fd: 0 | 1 | 2 | 3
  readonly payload: Uint8Array
}

export interface DemuxState {
  readonly pending: Uint8Array
}

export const initialDemuxState: DemuxState = { pending: new Uint8Array(0) }

const headerSize = 8

const asFd = (byte: number): Frame["fd"] | undefined =>
  byte === 0 || byte === 1 || byte === 2 || byte === 3 ? byte : undefined

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

/**
 * Pure step: feed one chunk, get the complete frames and what is left over. Left: a header whose
 * type byte is not 0-3 (the stream is not multiplexed, i.e. a TTY, or it is corrupt).
 */
export const demuxStep = (
  state: DemuxState,
  chunk: Uint8Array,
): Either.Either<readonly [DemuxState, ReadonlyArray<Frame>], string> => {
  const buf = concat(state.pending, chunk)
  const frames: Array<Frame> = []
  let offset = 0
  while (buf.length - offset >= headerSize) {
    const typeByte = buf[offset] ?? 0
    const fd = asFd(typeByte)
    if (fd === undefined) return Either.left(`not a multiplexed stream (frame type ${typeByte})`)
    const size = new DataView(buf.buffer, buf.byteOffset + offset + 4, 4).getUint32(0, false)
    if (buf.length - offset - headerSize < size) break
    frames.push({ fd, payload: buf.subarray(offset + headerSize, offset + headerSize + size) })
    offset += headerSize + size
  }
  return Either.right([{ pending: buf.subarray(offset) }, frames])
}

/**
 * Stream of socket chunks → stream of frames. Fails with `onProtocolError(detail)` on a bad
 * header or when the input ends inside a frame (the engine writes whole frames, so a cut
 * means the connection broke).
 */
export const demultiplex =
  <E2>(onProtocolError: (detail: string) => E2) =>
  <E>(chunks: Stream.Stream<Uint8Array, E>): Stream.Stream<Frame, E | E2> =>
    Stream.suspend(() => {
      // Local to one run of the stream: the bytes of a frame cut by the last chunk.
      let state = initialDemuxState
      return chunks.pipe(
        Stream.mapChunksEffect((input) => {
          const out: Array<Frame> = []
          for (const chunk of input) {
            const step = demuxStep(state, chunk)
            if (Either.isLeft(step)) return Effect.fail(onProtocolError(step.left))
            const [next, frames] = step.right
            state = next
            out.push(...frames)
          }
          return Effect.succeed(Chunk.unsafeFromArray(out))
        }),
        Stream.concat(
          Stream.suspend(() =>
            state.pending.length === 0
              ? Stream.empty
              : Stream.fail(
                  onProtocolError(`stream ended inside a frame (${state.pending.length} bytes left)`),
                ),
          ),
        ),
      )
    })
