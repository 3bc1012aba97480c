/**
 * Who may reach the agent by mail: one strict From address, automatic mail ignored (loop
 * protection), and an allowlist of addresses and domains. Pure functions over header values.
 */
import { Either, Option } from "effect"

/** A header as the message has it: lower-case name, unfolded value. */
export interface RawHeader {
  readonly name: string
  readonly value: string
}

export const headerValues = (headers: ReadonlyArray<RawHeader>, name: string): ReadonlyArray<string> =>
  headers.filter((h) => h.name === name).map((h) => h.value)

const atext = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
const addrSpec = new RegExp(
  `^${atext}(\\.${atext})*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$`,
)

export interface Sender {
  /** Lower-case address. */
  readonly address: string
  /** The display name, when the header has one. */
  readonly name: Option.Option<string>
}

const decodeDisplayName = (raw: string): string =>
  raw
    .trim()
    .replace(/^"(.*)"$/s, "$1")
    .replace(/\\(.)/g, "$1")
    .trim()

/**
 * The sender from the raw From header(s): exactly one header with exactly one address, a plain
 * `local@domain` (dot-atom local part, host name domain) either bare or as `Name <addr>`. What
 * DMARC vouches for is this header, so anything ambiguous (two headers, two addresses, odd
 * brackets, quoted local parts, comments) is refused rather than interpreted.
 */
export const parseFrom = (
  headers: ReadonlyArray<RawHeader>,
  decodedName: (raw: string) => string = decodeDisplayName,
): Either.Either<Sender, string> => {
  const froms = headerValues(headers, "from")
  if (froms.length !== 1) return Either.left(`${froms.length} From headers (exactly one is required)`)
  const value = (froms[0] ?? "").trim()
  const lt = value.indexOf("<")
  const gt = value.indexOf(">")
  let address: string
  let name = ""
  if (lt < 0 && gt < 0) {
    address = value
  } else {
    if (lt < 0 || gt < lt || value.indexOf("<", lt + 1) >= 0 || value.indexOf(">", gt + 1) >= 0) {
      return Either.left("malformed From header")
    }
    if (value.slice(gt + 1).trim().length > 0) return Either.left("malformed From header")
    address = value.slice(lt + 1, gt).trim()
    name = value.slice(0, lt)
    if (/[,;]/.test(name.replace(/"(\\.|[^"\\])*"/g, ""))) return Either.left("more than one From address")
  }
  if (!addrSpec.test(address)) return Either.left("From address is not a plain address")
  const display = decodedName(name)
  return Either.right({
    address: address.toLowerCase(),
    name: display.length > 0 ? Option.some(display) : Option.none(),
  })
}

/** The address inside `Name <addr>` or a bare address, lower-case; None if it has none. */
export const addressOf = (value: string): Option.Option<string> => {
  const m = /<([^<>\s]+@[^<>\s]+)>/.exec(value) ?? /^\s*([^<>\s]+@[^<>\s]+)\s*$/.exec(value)
  return m?.[1] === undefined ? Option.none() : Option.some(m[1].toLowerCase())
}

/** Exact address or `*@domain` (that domain only, not its subdomains), case-insensitive. */
export const isAuthorizedSender = (address: string, patterns: ReadonlyArray<string>): boolean => {
  const lower = address.toLowerCase()
  const domain = lower.slice(lower.lastIndexOf("@") + 1)
  return patterns.some((p) => {
    const pattern = p.toLowerCase()
    return pattern.startsWith("*@") ? pattern.slice(2) === domain : pattern === lower
  })
}

const bounceSenders = /^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|noreply-dmarc-support)@/

/**
 * Why a message is automatic mail we must not answer (RFC 3834 and common practice), or None:
 * `Auto-Submitted` other than `no`, `Precedence: bulk/junk/list`, mailing-list headers,
 * delivery reports, bounce senders, an empty Return-Path, or our own address. Answering any of
 * them could start a mail loop with an auto-responder or another bot.
 */
export const automaticMailReason = (
  headers: ReadonlyArray<RawHeader>,
  sender: string,
  ownAddress: string,
): Option.Option<string> => {
  const first = (name: string) =>
    Option.fromNullable(headerValues(headers, name)[0]).pipe(Option.map((v) => v.trim()))
  const autoSubmitted = first("auto-submitted")
  if (Option.isSome(autoSubmitted) && autoSubmitted.value.split(";")[0]?.trim().toLowerCase() !== "no") {
    return Option.some(`Auto-Submitted: ${autoSubmitted.value}`)
  }
  const precedence = first("precedence").pipe(Option.map((v) => v.toLowerCase()))
  if (Option.isSome(precedence) && ["bulk", "junk", "list", "auto_reply"].includes(precedence.value)) {
    return Option.some(`Precedence: ${precedence.value}`)
  }
  if (Option.isSome(first("list-id"))) return Option.some("mailing list (List-Id)")
  for (const name of ["x-autoreply", "x-autorespond", "x-auto-response"]) {
    if (Option.isSome(first(name))) return Option.some(`automatic reply (${name})`)
  }
  const contentType = first("content-type").pipe(Option.map((v) => v.toLowerCase()))
  if (Option.isSome(contentType) && contentType.value.startsWith("multipart/report")) {
    return Option.some("delivery or read report")
  }
  const returnPath = first("return-path")
  if (Option.isSome(returnPath) && /^<\s*>$/.test(returnPath.value))
    return Option.some("bounce (empty Return-Path)")
  if (bounceSenders.test(sender)) return Option.some(`bounce sender ${sender}`)
  if (sender === ownAddress.toLowerCase()) return Option.some("our own address")
  return Option.none()
}
