/**
 * Surrogate credentials: what the agent's container holds instead of a real secret. A surrogate
 * has the real value's shape (length, a known prefix such as `ghp_` or `AKIA`, and each
 * character's class), so tools that validate a token's format accept it, while it is worthless
 * anywhere the proxy does not swap it. A fresh one is made for every task.
 *
 * Randomness comes from Effect's `Random` service: tasks run with `cryptoRandom` (node:crypto),
 * tests with a seeded `Random.make(seed)`, so their surrogates are reproducible.
 */
import { randomBytes, randomInt } from "node:crypto"
import { Chunk, Effect, Random, Redacted } from "effect"
import type { MaskedSecret, SigningCredential } from "./Credentials.js"
import type { ProxyMaskedSecret, ProxySigningCredential } from "./ProxyConfig.js"

/** Prefixes kept verbatim, longest first so `sk-ant-` wins over `sk-`. */
export const knownPrefixes: ReadonlyArray<string> = [
  "github_pat_",
  "sk-ant-",
  "xoxb-",
  "xoxp-",
  "ghp_",
  "gho_",
  "ghs_",
  "ghr_",
  "ghu_",
  "AKIA",
  "ASIA",
  "sk-",
]

const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
const lower = "abcdefghijklmnopqrstuvwxyz"
const digits = "0123456789"

const alphabetOf = (c: string): string | undefined =>
  c >= "A" && c <= "Z" ? upper : c >= "a" && c <= "z" ? lower : c >= "0" && c <= "9" ? digits : undefined

const pick = (alphabet: string) =>
  Effect.map(Random.nextIntBetween(0, alphabet.length), (i) => alphabet.charAt(i))

/** Letters and digits replaced within their class; anything else (`-`, `.`, `=`) kept as structure. */
const reshape = (body: string) =>
  Effect.map(
    Effect.forEach(Array.from(body), (c) => {
      const alphabet = alphabetOf(c)
      return alphabet === undefined ? Effect.succeed(c) : pick(alphabet)
    }),
    (chars) => chars.join(""),
  )

const randomAlnum = (length: number) =>
  Effect.map(
    Effect.forEach(Array.from({ length }), () => pick(upper + lower + digits)),
    (chars) => chars.join(""),
  )

/**
 * A surrogate for `real`: same length, same known prefix, same character classes, and never
 * equal to `real` (the original could hand out the real value when the part after the prefix
 * was empty or short). A value with nothing to randomize (only a prefix, only punctuation)
 * becomes random letters and digits of the same length.
 */
export const makeSurrogate = (real: string): Effect.Effect<string> =>
  Effect.gen(function* () {
    const prefix = knownPrefixes.find((p) => real.startsWith(p) && real.length > p.length) ?? ""
    const body = real.slice(prefix.length)
    const shapeable = Array.from(body).some((c) => alphabetOf(c) !== undefined)
    // Each attempt differs from `real` with probability at least 9/10, so this ends quickly.
    while (true) {
      const candidate = shapeable ? prefix + (yield* reshape(body)) : yield* randomAlnum(real.length)
      if (candidate !== real) return candidate
    }
  })

/** `Random` backed by node:crypto, for surrogates that must not be guessable. */
export const cryptoRandom: Random.Random = {
  [Random.RandomTypeId]: Random.RandomTypeId,
  next: Effect.sync(() => randomBytes(6).readUIntBE(0, 6) / 2 ** 48),
  nextBoolean: Effect.sync(() => randomInt(0, 2) === 1),
  nextInt: Effect.sync(() => randomInt(0, 2 ** 48 - 1)),
  nextRange: (min, max) => Effect.sync(() => min + (randomBytes(6).readUIntBE(0, 6) / 2 ** 48) * (max - min)),
  nextIntBetween: (min, max) => Effect.sync(() => randomInt(min, max)),
  shuffle: (elements) =>
    Effect.sync(() => {
      const items = Array.from(elements)
      for (let i = items.length - 1; i > 0; i--) {
        const j = randomInt(0, i + 1)
        const a = items[i]
        const b = items[j]
        if (a !== undefined && b !== undefined) {
          items[i] = b
          items[j] = a
        }
      }
      return Chunk.fromIterable(items)
    }),
}

/** Surrogates for one task: the container's environment and the proxy's swap table. */
export interface SurrogatePlan {
  /** Environment variable → surrogate, for the agent's container. */
  readonly env: Readonly<Record<string, string>>
  readonly maskedSecrets: ReadonlyArray<ProxyMaskedSecret>
  readonly signingCredentials: ReadonlyArray<ProxySigningCredential>
}

/** Makes fresh surrogates for a repository's `masked_secrets` and `signing_credentials`. */
export const planSurrogates = (
  masked: Readonly<Record<string, MaskedSecret>>,
  signing: Readonly<Record<string, SigningCredential>>,
): Effect.Effect<SurrogatePlan> =>
  Effect.gen(function* () {
    const env: Record<string, string> = {}
    const maskedSecrets: Array<ProxyMaskedSecret> = []
    for (const [name, secret] of Object.entries(masked)) {
      const surrogate = yield* makeSurrogate(Redacted.value(secret.value))
      env[name] = surrogate
      maskedSecrets.push({
        name,
        surrogate,
        value: secret.value,
        scopes: secret.scopes,
        headers: secret.headers,
        allowForeignCredentials: secret.allow_foreign_credentials,
      })
    }
    const signingCredentials: Array<ProxySigningCredential> = []
    for (const [name, credential] of Object.entries(signing)) {
      const keyId = yield* makeSurrogate(Redacted.value(credential.access_key_id.value))
      const secretKey = yield* makeSurrogate(Redacted.value(credential.secret_access_key.value))
      env[credential.access_key_id.name] = keyId
      env[credential.secret_access_key.name] = secretKey
      const token = credential.session_token
      let sessionToken: ProxySigningCredential["sessionToken"]
      if (token !== undefined) {
        const surrogate = yield* makeSurrogate(Redacted.value(token.value))
        env[token.name] = surrogate
        sessionToken = { surrogate, value: token.value }
      }
      signingCredentials.push({
        name,
        scopes: credential.scopes,
        accessKeyId: { surrogate: keyId, value: credential.access_key_id.value },
        secretAccessKey: credential.secret_access_key.value,
        ...(sessionToken === undefined ? {} : { sessionToken }),
      })
    }
    return { env, maskedSecrets, signingCredentials }
  })
