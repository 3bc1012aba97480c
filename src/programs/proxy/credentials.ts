/**
 * Masked secrets: the agent holds surrogates; the proxy puts the real value in only inside the
 * headers listed for a secret (also inside `Authorization: Basic base64(user:pass)`) and only on
 * requests to the secret's scopes. A surrogate sent anywhere else goes out unchanged, worthless.
 * On a scoped host, a value in an exactly-named listed header that is not a surrogate is removed
 * (unless `allow_foreign_credentials`), so the agent cannot use credentials of its own there.
 * Bodies and query strings are never touched.
 */
import { Redacted } from "effect"
import type { ProxyMaskedSecret } from "../../schema/ProxyConfig.js"
import { type Glob, glob, hostGlob, isLiteral } from "./glob.js"

interface CompiledSecret {
  readonly surrogate: string
  readonly value: Redacted.Redacted<string>
  readonly scopes: ReadonlyArray<Glob>
  readonly headers: ReadonlyArray<Glob>
  /** Lower-case header names listed without wildcards: where foreign values are stripped. */
  readonly exactHeaders: ReadonlySet<string>
  readonly allowForeign: boolean
}

export interface MaskedSecrets {
  readonly secrets: ReadonlyArray<CompiledSecret>
}

export const compileMaskedSecrets = (secrets: ReadonlyArray<ProxyMaskedSecret>): MaskedSecrets => ({
  secrets: secrets.map((s) => ({
    surrogate: s.surrogate,
    value: s.value,
    scopes: s.scopes.map(hostGlob),
    headers: s.headers.map((h) => glob(h.toLowerCase())),
    exactHeaders: new Set(s.headers.filter(isLiteral).map((h) => h.toLowerCase())),
    allowForeign: s.allowForeignCredentials,
  })),
})

export interface SwapResult {
  /** Raw header list (`[name, value, name, value, ...]`) to send. */
  readonly headers: ReadonlyArray<string>
  readonly swapped: number
  readonly stripped: number
}

const basicRe = /^(basic)(\s+)([A-Za-z0-9+/=_-]+)\s*$/i

const replaceIn = (
  value: string,
  secrets: ReadonlyArray<CompiledSecret>,
): { value: string; count: number } => {
  let out = value
  let count = 0
  for (const s of secrets) {
    if (out.includes(s.surrogate)) {
      out = out.split(s.surrogate).join(Redacted.value(s.value))
      count++
    }
  }
  return { value: out, count }
}

const swapValue = (
  value: string,
  secrets: ReadonlyArray<CompiledSecret>,
): { value: string; count: number } => {
  const direct = replaceIn(value, secrets)
  if (direct.count > 0) return direct
  const basic = basicRe.exec(value)
  if (basic === null) return direct
  const decoded = Buffer.from(basic[3] ?? "", "base64").toString("utf8")
  const inner = replaceIn(decoded, secrets)
  if (inner.count === 0) return direct
  return {
    value: `${basic[1]}${basic[2]}${Buffer.from(inner.value, "utf8").toString("base64")}`,
    count: inner.count,
  }
}

/** Swaps surrogates (and strips foreign credentials) in the headers of a request to `host`. */
export const swapMaskedSecrets = (
  masked: MaskedSecrets,
  host: string,
  rawHeaders: ReadonlyArray<string>,
): SwapResult => {
  const inScope = masked.secrets.filter((s) => s.scopes.some((g) => g.test(host)))
  if (inScope.length === 0) return { headers: rawHeaders, swapped: 0, stripped: 0 }
  const out: Array<string> = []
  let swapped = 0
  let stripped = 0
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? ""
    const value = rawHeaders[i + 1] ?? ""
    const lower = name.toLowerCase()
    const applicable = inScope.filter((s) => s.headers.some((g) => g.test(lower)))
    if (applicable.length === 0) {
      out.push(name, value)
      continue
    }
    const result = swapValue(value, applicable)
    if (result.count > 0) {
      swapped += result.count
      out.push(name, result.value)
      continue
    }
    const guarding = applicable.filter((s) => s.exactHeaders.has(lower))
    if (guarding.length > 0 && guarding.every((s) => !s.allowForeign)) {
      stripped++
      continue
    }
    out.push(name, value)
  }
  return { headers: out, swapped, stripped }
}
