import * as dgram from "node:dgram"
import { assert, describe, it } from "@effect/vitest"
import * as dnsPacket from "dns-packet"
import { Effect, Option } from "effect"
import type { DnsLogLine } from "../../src/schema/NetworkLogLine.js"
import { linesSoFar, proxyLayer, rig } from "./harness.js"

/** Sends one datagram and waits for an answer; none within `waitMs` is `none`. */
const ask = (port: number, packet: Buffer, waitMs = 400) =>
  Effect.gen(function* () {
    const socket = yield* Effect.acquireRelease(
      Effect.sync(() => dgram.createSocket("udp4")),
      (s) => Effect.sync(() => s.close()),
    )
    return yield* Effect.async<Buffer>((resume) => {
      socket.on("message", (msg) => resume(Effect.succeed(msg)))
      socket.send(packet, port, "127.0.0.1")
    }).pipe(Effect.timeoutOption(waitMs))
  }).pipe(Effect.scoped)

const query = (name: string, type: dnsPacket.RecordType, id = 4242) =>
  dnsPacket.encode({
    type: "query",
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: "IN" }],
  })

const rcodeOf = (msg: Buffer) => msg.readUInt16BE(2) & 0xf

describe("DNS responder", () => {
  it.live("answers every A query with the proxy's address, for any name", () =>
    Effect.gen(function* () {
      const { handle } = yield* rig({ allowlist: "domains: []\n" })
      for (const name of ["example.com", "api.github.com", "exfil-c2VjcmV0.attacker.test", "localhost"]) {
        const answer = yield* ask(handle.endpoints.dns.port, query(name, "A"))
        assert.isTrue(Option.isSome(answer), name)
        if (Option.isNone(answer)) return
        const decoded = dnsPacket.decode(answer.value)
        assert.strictEqual(decoded.id, 4242)
        assert.isTrue(decoded.flag_aa)
        assert.strictEqual(rcodeOf(answer.value), 0)
        assert.deepStrictEqual(
          decoded.answers?.map((a) => (a.type === "A" ? a.data : a.type)),
          [handle.dnsServer],
        )
      }
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live("answers NOTIMP to AAAA and every other type, with no records", () =>
    Effect.gen(function* () {
      const { handle } = yield* rig({ allowlist: "domains: []\n" })
      for (const type of ["AAAA", "MX", "TXT", "SOA", "SRV"] as const) {
        const answer = yield* ask(handle.endpoints.dns.port, query("example.com", type))
        assert.isTrue(Option.isSome(answer), type)
        if (Option.isNone(answer)) return
        assert.strictEqual(rcodeOf(answer.value), 4, type)
        assert.strictEqual(dnsPacket.decode(answer.value).answers?.length ?? 0, 0)
      }
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live("drops compression-pointer, malformed and non-query packets without answering", () =>
    Effect.gen(function* () {
      const { handle } = yield* rig({ allowlist: "domains: []\n" })
      const port = handle.endpoints.dns.port
      // Header (id 1, RD, one question), then a name that is only a pointer back into the header.
      const pointer = Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1])
      const labelThenPointer = Buffer.concat([
        Buffer.from([0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3]),
        Buffer.from("www"),
        Buffer.from([0xc0, 0x0c, 0, 1, 0, 1]),
      ])
      const truncated = query("example.com", "A").subarray(0, 20)
      const response = dnsPacket.encode({
        type: "response",
        id: 3,
        questions: [{ name: "x.test", type: "A" }],
      })
      const trailing = Buffer.concat([query("example.com", "A"), Buffer.from([1, 2, 3])])
      for (const [what, packet] of [
        ["pointer", pointer],
        ["label then pointer", labelThenPointer],
        ["truncated", truncated],
        ["too short", Buffer.from([1, 2, 3])],
        ["a response", response],
        ["trailing bytes", trailing],
      ] as const) {
        assert.isTrue(Option.isNone(yield* ask(port, packet, 250)), what)
      }
      // Still serving after all that.
      assert.isTrue(Option.isSome(yield* ask(port, query("example.com", "A"))))
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live("logs each query it answers", () =>
    Effect.gen(function* () {
      const { handle } = yield* rig({ allowlist: "domains: []\n" })
      yield* ask(handle.endpoints.dns.port, query("one.test", "A"))
      yield* ask(handle.endpoints.dns.port, query("two.test", "AAAA"))
      const dns = (yield* linesSoFar(handle)).filter((l): l is DnsLogLine => l.kind === "dns")
      assert.deepStrictEqual(
        dns.map((l) => [l.name, l.type, l.answer]),
        [
          ["one.test", "A", handle.dnsServer],
          ["two.test", "AAAA", "NOTIMP"],
        ],
      )
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )
})
