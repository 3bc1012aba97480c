/**
 * The effective configuration as YAML (for `airut config show`): defaults filled in, every
 * secret shown as `<redacted>`.
 */
import { Predicate, Redacted } from "effect"
import { stringify } from "yaml"
import type { ServerConfig } from "./ServerConfig.js"

const hidden = "<redacted>"

export interface ConfigDisplayOptions {
  /**
   * Known secret values; any string containing one is hidden too. Secret fields are hidden by
   * their type already; this also covers a secret reused where no secret was expected.
   */
  readonly secrets?: Iterable<string | Redacted.Redacted<string>>
}

export const renderConfig = (config: ServerConfig, options: ConfigDisplayOptions = {}): string => {
  const known = [...(options.secrets ?? [])]
    .map((s) => (Redacted.isRedacted(s) ? Redacted.value(s) : s))
    .filter((s) => s !== "")
  const show = (u: unknown): unknown => {
    if (Redacted.isRedacted(u)) return hidden
    if (typeof u === "string") return known.some((s) => u.includes(s)) ? hidden : u
    if (Array.isArray(u)) return u.map(show)
    if (Predicate.isRecord(u)) return Object.fromEntries(Object.entries(u).map(([k, v]) => [k, show(v)]))
    return u
  }
  return [
    "# Effective configuration: defaults filled in, secrets shown as <redacted>.",
    stringify(show(config), { lineWidth: 0 }),
  ].join("\n")
}
