/** Finding the secrets in a decoded configuration: every secret field decodes to `Redacted`. */
import { Predicate, Redacted } from "effect"

/** Every `Redacted` string inside `value` (objects and arrays are searched). */
export const secretValues = (value: unknown): ReadonlyArray<Redacted.Redacted<string>> => {
  const found: Array<Redacted.Redacted<string>> = []
  const visit = (u: unknown): void => {
    if (Redacted.isRedacted(u)) {
      const inner = Redacted.value(u)
      if (typeof inner === "string" && inner !== "") found.push(Redacted.make(inner))
    } else if (Array.isArray(u)) {
      u.forEach(visit)
    } else if (Predicate.isRecord(u)) {
      Object.values(u).forEach(visit)
    }
  }
  visit(value)
  return found
}
