/**
 * The agent's only DNS server. Every A query is answered with the proxy's own address, so every
 * name leads to the proxy, which then decides per request; anything else (AAAA, MX, TXT, ...)
 * gets NOTIMP. Nothing is ever forwarded: a query cannot carry data out (DNS exfiltration), and
 * the answer reveals nothing about the outside. Queries we cannot read with certainty,
 * including names using compression pointers, are dropped without an answer.
 */
import * as dgram from "node:dgram"
import * as dnsPacket from "dns-packet"
import { Effect, Either, Option } from "effect"
import type { ListenAddress } from "../../schema/ProxyConfig.js"
import type { Run } from "./http.js"
import { ListenFailed } from "./http.js"
import { emitLine, isoNow, type LogSink } from "./log.js"

const NOTIMP = 4
const typeA = 1
const typeOpt = 41
const classIn = 1

export interface DnsQuestion {
  readonly id: number
  readonly name: string
  readonly type: dnsPacket.RecordType
  readonly typeCode: number
  readonly classCode: number
  readonly recursionDesired: boolean
}

/**
 * Walks the question's name label by label: only plain labels (no pointers, no extended label
 * types), at most 255 bytes. Returns the offset after the name.
 */
const skipPlainName = (msg: Buffer, start: number): Option.Option<number> => {
  let offset = start
  let total = 0
  while (offset < msg.length) {
    const length = msg[offset] ?? 0
    if (length === 0) return Option.some(offset + 1)
    if ((length & 0xc0) !== 0) return Option.none()
    total += length + 1
    if (total > 255) return Option.none()
    offset += length + 1
  }
  return Option.none()
}

/** The single question of a well-formed standard query, or none (the packet is then dropped). */
export const readQuestion = (msg: Buffer): Option.Option<DnsQuestion> => {
  if (msg.length < 12 || msg.length > 4096) return Option.none()
  const flags = msg.readUInt16BE(2)
  const qr = (flags >> 15) & 1
  const opcode = (flags >> 11) & 0xf
  const qdcount = msg.readUInt16BE(4)
  const ancount = msg.readUInt16BE(6)
  const nscount = msg.readUInt16BE(8)
  const arcount = msg.readUInt16BE(10)
  if (qr !== 0 || opcode !== 0 || qdcount !== 1 || ancount !== 0 || nscount !== 0 || arcount > 1) {
    return Option.none()
  }
  const afterName = skipPlainName(msg, 12)
  if (Option.isNone(afterName) || afterName.value + 4 > msg.length) return Option.none()
  const typeCode = msg.readUInt16BE(afterName.value)
  const classCode = msg.readUInt16BE(afterName.value + 2)
  let end = afterName.value + 4
  if (arcount === 1) {
    // The only additional record a query may carry is EDNS OPT, whose owner name is the root.
    if (msg[end] !== 0 || end + 11 > msg.length || msg.readUInt16BE(end + 1) !== typeOpt) return Option.none()
    end += 11 + msg.readUInt16BE(end + 9)
  }
  if (end !== msg.length) return Option.none()
  const decoded = Either.try(() => dnsPacket.decode(msg))
  if (Either.isLeft(decoded)) return Option.none()
  const question = decoded.right.questions?.[0]
  if (question === undefined) return Option.none()
  return Option.some({
    id: decoded.right.id ?? 0,
    name: question.name,
    type: question.type,
    typeCode,
    classCode,
    recursionDesired: decoded.right.flag_rd,
  })
}

/** The answer: the proxy's address for A, NOTIMP for everything else. */
export const answerFor = (question: DnsQuestion, address: string): Buffer => {
  const flags = dnsPacket.AUTHORITATIVE_ANSWER | (question.recursionDesired ? dnsPacket.RECURSION_DESIRED : 0)
  const asked: dnsPacket.Question = { name: question.name, type: question.type, class: "IN" }
  if (question.typeCode === typeA && question.classCode === classIn) {
    return dnsPacket.encode({
      type: "response",
      id: question.id,
      flags,
      questions: [asked],
      answers: [{ type: "A", name: question.name, ttl: 60, data: address }],
    })
  }
  return dnsPacket.encode({
    type: "response",
    id: question.id,
    flags: flags | NOTIMP,
    questions: question.classCode === classIn ? [asked] : [],
  })
}

export const serveDns = (at: ListenAddress, address: string, emit: LogSink, run: Run) =>
  Effect.gen(function* () {
    const socket = yield* Effect.acquireRelease(
      Effect.async<dgram.Socket, ListenFailed>((resume) => {
        const s = dgram.createSocket(at.host.includes(":") ? "udp6" : "udp4")
        const onError = (error: Error) =>
          resume(
            Effect.fail(new ListenFailed({ address: `${at.host}:${at.port}/udp`, detail: error.message })),
          )
        s.once("error", onError)
        s.bind(at.port, at.host, () => {
          s.off("error", onError)
          resume(Effect.succeed(s))
        })
      }),
      (s) =>
        Effect.async<void>((resume) => {
          s.close(() => resume(Effect.void))
        }).pipe(Effect.timeoutOption("2 seconds"), Effect.asVoid),
    )
    socket.on("message", (msg: Buffer, from: dgram.RemoteInfo) => {
      const question = readQuestion(msg)
      if (Option.isNone(question)) return
      const q = question.value
      socket.send(answerFor(q, address), from.port, from.address)
      const answered = q.typeCode === typeA && q.classCode === classIn ? address : "NOTIMP"
      run(
        Effect.flatMap(isoNow, (time) =>
          emitLine(emit, { kind: "dns", time, name: q.name, type: q.type, answer: answered }),
        ),
      )
    })
    // A send error on UDP concerns one datagram; the socket stays usable.
    socket.on("error", (error: Error) => {
      run(Effect.logWarning(`DNS responder: ${error.message}`))
    })
    const bound = socket.address()
    return bound.port
  })
