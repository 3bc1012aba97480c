import { Effect, Layer, MutableRef, Redacted } from "effect"
import { redactedMarker, SecretRedactor } from "../services/SecretRedactor.js"

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

// A PEM key logged line by line, or a value logged inside JSON or a URL, must not slip through:
// besides the value itself we hide its JSON-escaped and URL-encoded forms and each long line.
const minLineLength = 16

const formsOf = (value: string): ReadonlyArray<string> => {
  const forms = new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)])
  for (const line of value.split(/\r?\n/)) {
    const trimmed = line.trim()
    if (trimmed.length >= minLineLength && !trimmed.startsWith("-----")) forms.add(trimmed)
  }
  return [...forms].filter((f) => f !== "")
}

interface State {
  readonly values: ReadonlySet<string>
  readonly pattern: RegExp | undefined
}

const build = (values: ReadonlySet<string>): State => {
  // Longest first, so a secret that contains another is hidden whole.
  const alternatives = [...values].sort((a, b) => b.length - a.length).map(escapeRegExp)
  return { values, pattern: alternatives.length === 0 ? undefined : new RegExp(alternatives.join("|"), "g") }
}

export const makeSecretRedactor = Effect.sync(() => {
  // Made per layer build, never at module level: two programs in one process keep their own.
  const state = MutableRef.make<State>(build(new Set()))

  const register = (values: Iterable<string | Redacted.Redacted<string>>) =>
    Effect.sync(() => {
      const next = new Set(MutableRef.get(state).values)
      for (const v of values) {
        for (const form of formsOf(Redacted.isRedacted(v) ? Redacted.value(v) : v)) next.add(form)
      }
      if (next.size !== MutableRef.get(state).values.size) MutableRef.set(state, build(next))
    })

  const redact = (text: string): string => {
    const { pattern } = MutableRef.get(state)
    return pattern === undefined ? text : text.replace(pattern, redactedMarker)
  }

  return SecretRedactor.of({ register, redact })
})

export const SecretRedactorLive = Layer.effect(SecretRedactor, makeSecretRedactor)
