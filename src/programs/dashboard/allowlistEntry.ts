import { Option } from "effect"
import type { NetworkLogEntry } from "../../schema/NetworkLogEntry.js"

/**
 * The `url_prefixes` entry of `.airut/network-allowlist.yaml` that would let a blocked request
 * through: its host, its path (a query string becomes a `*` wildcard, since the allowlist
 * matches the query too) and its method. Values are JSON strings, which YAML reads as they are,
 * so an odd host or path cannot change the entry's meaning.
 */
export const allowlistEntryFor = (
  entry: Pick<NetworkLogEntry, "verdict" | "host" | "path" | "method">,
): Option.Option<string> => {
  if (entry.verdict !== "blocked") return Option.none()
  const query = entry.path.indexOf("?")
  const path = query === -1 ? entry.path : `${entry.path.slice(0, query)}*`
  return Option.some(
    `- { host: ${JSON.stringify(entry.host)}, path: ${JSON.stringify(path)}, methods: [${JSON.stringify(entry.method.toUpperCase())}] }`,
  )
}
