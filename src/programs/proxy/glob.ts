/**
 * `fnmatch`-style patterns as the allowlist and credential scopes use them: `*` matches any run
 * of characters (`/` included), `?` exactly one, everything else itself. Matching is the
 * classic two-pointer walk that backtracks only to the last `*`, so it takes at most
 * O(pattern × text) steps: request paths are chosen by the agent, and a regex built from a
 * pattern like `*a*a*a*` could be made to backtrack for minutes.
 */

export interface Glob {
  readonly source: string
  readonly test: (text: string) => boolean
}

const hasWildcard = (pattern: string) => pattern.includes("*") || pattern.includes("?")

export const globMatch = (pattern: string, text: string): boolean => {
  let p = 0
  let t = 0
  let starP = -1
  let starT = 0
  while (t < text.length) {
    const pc = pattern.charCodeAt(p)
    if (p < pattern.length && (pc === 63 /* ? */ || pc === text.charCodeAt(t))) {
      p++
      t++
    } else if (p < pattern.length && pc === 42 /* * */) {
      starP = p++
      starT = t
    } else if (starP >= 0) {
      p = starP + 1
      t = ++starT
    } else {
      return false
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++
  return p === pattern.length
}

/** A compiled pattern; literal patterns compare directly. */
export const glob = (pattern: string): Glob =>
  hasWildcard(pattern)
    ? { source: pattern, test: (text) => globMatch(pattern, text) }
    : { source: pattern, test: (text) => text === pattern }

/** Host patterns are case-insensitive: the pattern is lower-cased here, hosts are normalized lower-case. */
export const hostGlob = (pattern: string): Glob => glob(pattern.toLowerCase())

/** True when `pattern` has no wildcard (an exact name). */
export const isLiteral = (pattern: string): boolean => !hasWildcard(pattern)
