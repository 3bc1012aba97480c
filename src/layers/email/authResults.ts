/**
 * Reading `Authentication-Results` headers (RFC 8601) written by the receiving mail server.
 *
 * The original matched a regex over the whole header, so `dmarc=pass` inside a comment, or a
 * second `dmarc=pass` after a `dmarc=fail`, was accepted. Here the header is parsed: comments
 * are removed (they never count), the value is split into result entries, and a message passes
 * only when there is a `dmarc` entry and every `dmarc` entry says `pass`.
 */
import { Either } from "effect"

export interface MethodResult {
  readonly method: string
  readonly result: string
  /** `header.from`, `smtp.mailfrom`, ... lower-case keys. */
  readonly properties: Readonly<Record<string, string>>
}

export interface AuthenticationResults {
  /** Empty when the server wrote none (Microsoft 365). */
  readonly authservId: string
  readonly results: ReadonlyArray<MethodResult>
}

/** Drops comments (nested parentheses), keeping quoted strings and escapes intact. */
const stripComments = (value: string): string => {
  let out = ""
  let depth = 0
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const c = value.charAt(i)
    if (c === "\\" && i + 1 < value.length) {
      if (depth === 0) out += c + value.charAt(i + 1)
      i++
      continue
    }
    if (quoted) {
      out += c
      if (c === '"') quoted = false
      continue
    }
    if (c === "(") {
      depth++
      continue
    }
    if (c === ")" && depth > 0) {
      depth--
      if (depth === 0) out += " "
      continue
    }
    if (depth > 0) continue
    if (c === '"') quoted = true
    out += c
  }
  return out
}

/** Splits on `;` outside quoted strings. */
const splitOutsideQuotes = (value: string, separator: string): Array<string> => {
  const parts: Array<string> = []
  let current = ""
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const c = value.charAt(i)
    if (c === "\\" && i + 1 < value.length) {
      current += c + value.charAt(i + 1)
      i++
      continue
    }
    if (c === '"') quoted = !quoted
    if (c === separator && !quoted) {
      parts.push(current)
      current = ""
    } else {
      current += c
    }
  }
  parts.push(current)
  return parts
}

const unquote = (s: string): string =>
  s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).replace(/\\(.)/g, "$1") : s

const parseResinfo = (text: string): MethodResult | undefined => {
  // "method [/version] = result" may have folding whitespace around "=" and "/".
  const compact = text
    .replace(/\s*=\s*/g, "=")
    .replace(/\s*\/\s*/g, "/")
    .trim()
  const tokens = splitOutsideQuotes(compact, " ").filter((t) => t.length > 0)
  const head = tokens[0]
  if (head === undefined) return undefined
  const eq = head.indexOf("=")
  if (eq <= 0) return undefined
  const method = head.slice(0, eq).split("/")[0]?.toLowerCase() ?? ""
  const result = unquote(head.slice(eq + 1)).toLowerCase()
  if (!/^[a-z0-9_-]+$/.test(method) || result.length === 0) return undefined
  const properties: Record<string, string> = {}
  for (const token of tokens.slice(1)) {
    const at = token.indexOf("=")
    if (at <= 0) continue
    properties[token.slice(0, at).toLowerCase()] = unquote(token.slice(at + 1))
  }
  return { method, result, properties }
}

/** Parses one header value; Left with a reason when it is not an Authentication-Results value. */
export const parseAuthenticationResults = (value: string): Either.Either<AuthenticationResults, string> => {
  const parts = splitOutsideQuotes(stripComments(value.replace(/\r?\n[ \t]+/g, " ")), ";")
  const idPart = (parts[0] ?? "").trim().split(/\s+/)[0] ?? ""
  // Microsoft 365 writes no authserv-id: the value starts with a result (`spf=pass ...`).
  const withoutId = idPart.includes("=")
  const authservId = withoutId ? "" : unquote(idPart)
  if (!withoutId && authservId.length === 0) return Either.left("no authserv-id")
  const results = parts
    .slice(withoutId ? 0 : 1)
    .map((p) => p.trim())
    .filter((p) => p.length > 0 && p.toLowerCase() !== "none")
    .flatMap((p) => {
      const r = parseResinfo(p)
      return r === undefined ? [] : [r]
    })
  return Either.right({ authservId, results })
}

/**
 * The DMARC verdict from the headers (topmost first, as the message has them). Only the first
 * header written by `trustedAuthservId` counts: anything below it, or written by others, may
 * come from the sender. An empty `trustedAuthservId` (Microsoft 365 writes no id) trusts the
 * topmost header. Right when DMARC passed, Left with the reason otherwise.
 */
export const dmarcVerdict = (
  headerValues: ReadonlyArray<string>,
  trustedAuthservId: string,
): Either.Either<void, string> => {
  const parsed = headerValues.map(parseAuthenticationResults)
  const trusted =
    trustedAuthservId === ""
      ? parsed[0]
      : parsed.find(
          (p) => Either.isRight(p) && p.right.authservId.toLowerCase() === trustedAuthservId.toLowerCase(),
        )
  if (trusted === undefined) {
    return Either.left(
      headerValues.length === 0
        ? "no Authentication-Results header"
        : `no Authentication-Results header from ${trustedAuthservId === "" ? "the receiving server" : trustedAuthservId}`,
    )
  }
  if (Either.isLeft(trusted)) return Either.left(`unreadable Authentication-Results header: ${trusted.left}`)
  const dmarc = trusted.right.results.filter((r) => r.method === "dmarc")
  if (dmarc.length === 0) return Either.left("no DMARC result")
  const failed = dmarc.find((r) => r.result !== "pass")
  if (failed !== undefined) return Either.left(`dmarc=${failed.result}`)
  return Either.right(undefined)
}
