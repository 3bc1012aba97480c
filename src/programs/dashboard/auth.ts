import { createHash, timingSafeEqual } from "node:crypto"
import type { HttpServerRequest } from "@effect/platform"
import { Option, Redacted } from "effect"

/** The cookie a browser gets from the login form; it holds a digest, never the token itself. */
export const sessionCookie = "airut_session"

const digest = (text: string) => createHash("sha256").update(text).digest()

/** What the session cookie holds for a token. */
export const sessionValue = (token: Redacted.Redacted<string>): string =>
  digest(`airut-dashboard-session:${Redacted.value(token)}`).toString("hex")

// Both sides hashed to 32 bytes first: timingSafeEqual needs equal lengths, and the time taken
// then says nothing about the token's length either.
const sameSecret = (given: string, expected: string) => timingSafeEqual(digest(given), digest(expected))

/** Whether the given token is the configured one (constant time). */
export const tokenMatches = (given: string, token: Redacted.Redacted<string>): boolean =>
  sameSecret(given, Redacted.value(token))

/** Whether two strings are equal, in constant time (CSRF tokens). */
export const secretEquals = sameSecret

const bearer = (request: HttpServerRequest.HttpServerRequest): Option.Option<string> => {
  const header = request.headers.authorization
  if (header === undefined) return Option.none()
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return Option.fromNullable(match?.[1])
}

/** A request is in when no token is configured, or it brings the token or the session cookie. */
export const isAuthorized = (
  request: HttpServerRequest.HttpServerRequest,
  token: Option.Option<Redacted.Redacted<string>>,
): boolean => {
  if (Option.isNone(token)) return true
  const fromHeader = bearer(request)
  if (Option.isSome(fromHeader)) return tokenMatches(fromHeader.value, token.value)
  const cookie = request.cookies[sessionCookie]
  return cookie !== undefined && sameSecret(cookie, sessionValue(token.value))
}

/**
 * A state-changing request from a browser must come from our own pages: when it names an
 * Origin, that origin's host must be the one it asked (a cross-site form post names the other
 * site). Clients that send no Origin (curl, scripts) are judged by the CSRF token alone.
 */
export const sameOrigin = (request: HttpServerRequest.HttpServerRequest): boolean => {
  const origin = request.headers.origin
  if (origin === undefined) return true
  const host = request.headers.host
  if (host === undefined) return false
  try {
    return new URL(origin).host === host
  } catch {
    return false
  }
}
