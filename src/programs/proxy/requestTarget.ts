/**
 * Reading where a request goes: the Host header (or SNI) and the request target. Everything
 * here is about not being fooled: percent-encoding decoded exactly once, traversal and
 * double-encoding refused, an absolute-form URI or a second Host header that names another host
 * refused, and hosts normalized so `API.Example.COM.` and `api.example.com` are one host.
 */
import { Either, Option } from "effect"
import { Blocked } from "./errors.js"

export interface NormalizedHost {
  /** Lower-case, without port, trailing dot or IPv6 brackets. */
  readonly name: string
  /** An IP literal (or a name getaddrinfo would read as one, like `2130706433`): matched only by exact entries. */
  readonly isIp: boolean
}

const labelRe = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/
const ipv6Re = /^[0-9a-f:.]+$/
// The last label of a DNS name is never all-numeric; getaddrinfo reads `127.1`, `2130706433` or
// `0x7f.1` as IPv4 addresses.
const numericLabelRe = /^(?:0x[0-9a-f]*|[0-9]+)$/

/** Parses a Host header value or an SNI name. None when it is not a usable host. */
export const normalizeHost = (raw: string): Option.Option<NormalizedHost> => {
  let value = raw.trim().toLowerCase()
  if (value.startsWith("[")) {
    const end = value.indexOf("]")
    if (end < 0) return Option.none()
    const rest = value.slice(end + 1)
    if (rest !== "" && !/^:\d{1,5}$/.test(rest)) return Option.none()
    const address = value.slice(1, end)
    return ipv6Re.test(address) && address.includes(":")
      ? Option.some({ name: address, isIp: true })
      : Option.none()
  }
  const colon = value.indexOf(":")
  if (colon >= 0) {
    if (!/^\d{1,5}$/.test(value.slice(colon + 1))) return Option.none()
    value = value.slice(0, colon)
  }
  if (value.endsWith(".")) value = value.slice(0, -1)
  if (value.length === 0 || value.length > 253) return Option.none()
  const labels = value.split(".")
  if (!labels.every((l) => l.length <= 63 && labelRe.test(l))) return Option.none()
  return Option.some({ name: value, isIp: numericLabelRe.test(labels[labels.length - 1] ?? "") })
}

const hexValue = (code: number): number =>
  code >= 48 && code <= 57
    ? code - 48
    : code >= 65 && code <= 70
      ? code - 55
      : code >= 97 && code <= 102
        ? code - 87
        : -1

const utf8 = new TextDecoder("utf-8", { fatal: false })

/**
 * Decodes percent-escapes once. Never fails: an escape that is not `%` plus two hex digits stays
 * literal, bytes that are not UTF-8 become U+FFFD. (`+` stays `+`: this is a path, not a form.)
 */
export const percentDecode = (s: string): string => {
  if (!s.includes("%")) return s
  const bytes: Array<number> = []
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i)
    if (code === 37 && i + 2 < s.length) {
      const hi = hexValue(s.charCodeAt(i + 1))
      const lo = hexValue(s.charCodeAt(i + 2))
      if (hi >= 0 && lo >= 0) {
        bytes.push(hi * 16 + lo)
        i += 2
        continue
      }
    }
    if (code < 0x80) bytes.push(code)
    else for (const b of Buffer.from(s.charAt(i), "utf8")) bytes.push(b)
  }
  return utf8.decode(Uint8Array.from(bytes))
}

export interface RequestTarget {
  /** Origin-form target to forward (path and query, as sent). */
  readonly raw: string
  readonly rawPath: string
  /** Query string without `?`; undefined when the target has none. */
  readonly rawQuery: string | undefined
  readonly decodedPath: string
  /** What allowlist paths are matched against: decoded path, plus `?` and decoded query when present. */
  readonly match: string
}

const reject = (explanation: string, reason: string) =>
  new Blocked({ status: 403, code: "blocked_by_network_allowlist", explanation, reason })

// After one decode, any of these escapes left over means the target was encoded twice
// (`%252e%252e`), which a later decoder (an upstream framework) could turn into `..`, `/`, `\` or NUL.
const doubleEncodedRe = /%(?:2e|2f|5c|00|25)/i
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const controlRe = /[\u0000-\u001f\u007f\\]/

/**
 * Checks a request target against the request's host and returns it in origin form. Absolute
 * form (`GET https://host/path`) is accepted only when it names the same host.
 */
export const parseTarget = (
  rawTarget: string,
  host: NormalizedHost,
): Either.Either<RequestTarget, Blocked> => {
  let raw = rawTarget
  const absolute = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/i.exec(raw)
  if (absolute !== null) {
    const authority = absolute[2] ?? ""
    const named = authority.includes("@") ? Option.none() : normalizeHost(authority)
    if (Option.isNone(named) || named.value.name !== host.name) {
      return Either.left(
        reject(
          `The request URI names ${authority || "no host"} but the request is for ${host.name}; a request may only name its own host.`,
          "absolute-form URI names another host",
        ),
      )
    }
    raw = absolute[3] === "" || absolute[3] === undefined ? "/" : (absolute[3] ?? "/")
  }
  if (!raw.startsWith("/")) {
    return Either.left(
      reject(`The request target ${JSON.stringify(raw)} is not a path.`, "request target is not a path"),
    )
  }
  const hash = raw.indexOf("#")
  if (hash >= 0) raw = raw.slice(0, hash)
  const q = raw.indexOf("?")
  const rawPath = q < 0 ? raw : raw.slice(0, q)
  const rawQuery = q < 0 ? undefined : raw.slice(q + 1)
  const decodedPath = percentDecode(rawPath)
  const decodedQuery = rawQuery === undefined ? undefined : percentDecode(rawQuery)
  const hostile = (why: string) =>
    Either.left(reject(`The request path was refused: ${why}.`, `hostile path: ${why}`))
  if (controlRe.test(decodedPath) || (decodedQuery !== undefined && controlRe.test(decodedQuery))) {
    return hostile("it contains a NUL, control character or backslash")
  }
  if (decodedPath.includes("//")) return hostile("it contains an empty segment (//)")
  // `..;` too: some servers (Tomcat) strip `;params` before resolving the segment.
  if (decodedPath.split("/").some((segment) => segment.split(";")[0] === "..")) {
    return hostile("it contains a .. segment")
  }
  if (doubleEncodedRe.test(decodedPath)) return hostile("it is percent-encoded twice")
  return Either.right({
    raw,
    rawPath,
    rawQuery,
    decodedPath,
    match: decodedQuery === undefined ? decodedPath : `${decodedPath}?${decodedQuery}`,
  })
}
