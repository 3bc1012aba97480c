import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Stream } from "effect"
import { demultiplex, demuxStep, initialDemuxState } from "../../src/layers/docker/multiplexed.js"

const frame = (fd: number, text: string) => {
  const payload = Buffer.from(text, "utf8")
  const header = Buffer.alloc(8)
  header[0] = fd
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}

const decoded = (chunks: ReadonlyArray<Uint8Array>) =>
  Stream.fromIterable(chunks).pipe(
    demultiplex((detail) => detail),
    Stream.map((f) => `${f.fd}:${Buffer.from(f.payload).toString("utf8")}`),
    Stream.runCollect,
    Effect.map(Chunk.toArray),
  )

describe("multiplexed stream", () => {
  it.effect("splits frames cut anywhere, headers included", () =>
    Effect.gen(function* () {
      const bytes = Buffer.concat([frame(1, "out one\n"), frame(2, "err\n"), frame(1, "out two\n")])
      // Every cut position, including inside the 8-byte headers.
      for (let cut = 1; cut < bytes.length; cut++) {
        const frames = yield* decoded([bytes.subarray(0, cut), bytes.subarray(cut)])
        assert.deepStrictEqual(frames, ["1:out one\n", "2:err\n", "1:out two\n"])
      }
      const byteByByte = yield* decoded([...bytes].map((b) => Uint8Array.of(b)))
      assert.deepStrictEqual(byteByByte, ["1:out one\n", "2:err\n", "1:out two\n"])
    }),
  )

  it.effect("keeps empty frames and multi-byte characters split across chunks", () =>
    Effect.gen(function* () {
      const bytes = Buffer.concat([frame(1, ""), frame(1, "héllo ✓")])
      const frames = yield* decoded([bytes.subarray(0, 12), bytes.subarray(12)])
      assert.deepStrictEqual(frames, ["1:", "1:héllo ✓"])
    }),
  )

  it.effect("fails on a stream that is not multiplexed (a TTY)", () =>
    Effect.gen(function* () {
      const error = yield* decoded([Buffer.from("plain text output\n")]).pipe(Effect.flip)
      assert.match(error, /not a multiplexed stream/)
    }),
  )

  it.effect("fails when the input ends inside a frame", () =>
    Effect.gen(function* () {
      const error = yield* decoded([frame(1, "complete"), frame(2, "cut short").subarray(0, 12)]).pipe(
        Effect.flip,
      )
      assert.match(error, /ended inside a frame/)
    }),
  )

  it("a step keeps the unfinished frame for the next chunk", () => {
    const step = demuxStep(initialDemuxState, frame(1, "abc").subarray(0, 9))
    assert.isTrue(Either.isRight(step))
    if (Either.isRight(step)) {
      const [state, frames] = step.right
      assert.strictEqual(frames.length, 0)
      assert.strictEqual(state.pending.length, 9)
    }
  })
})
