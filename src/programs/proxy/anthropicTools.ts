/**
 * Anthropic's server-side tools (`web_fetch_*`, `web_search_*`) fetch pages from Anthropic's
 * side, around the sandbox. For requests to `api.anthropic.com/v1/messages` the proxy rewrites
 * each such tool's `allowed_domains` to the hosts the allowlist already lets the agent GET
 * anywhere, and adds an empty list when the tool has none, so the model can reach nothing it
 * could not reach directly. An empty list stays empty: the original dropped the key for
 * `web_search` then, which left search unrestricted.
 */
import { Either, Option } from "effect"
import { Blocked } from "./errors.js"
import { normalizeHost } from "./requestTarget.js"

export const anthropicHost = "api.anthropic.com"
export const messagesBodyLimit = 32 * 1024 * 1024

/** POST /v1/messages and below (batches), on api.anthropic.com. */
export const isMessagesRequest = (host: string, decodedPath: string, method: string): boolean =>
  host === anthropicHost &&
  method === "POST" &&
  (decodedPath === "/v1/messages" || decodedPath.startsWith("/v1/messages/"))

const guardedPrefixes = ["web_fetch_", "web_search_"]

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const refuse = (explanation: string, reason: string) =>
  new Blocked({ status: 403, code: "server_tool_domains_blocked", explanation, reason })

export interface TrimResult {
  /** The body to send (re-serialized), or the original when nothing could be parsed as tools. */
  readonly body: Uint8Array
  /** For the log: what was kept and dropped, per tool; absent when no server tool was present. */
  readonly note: Option.Option<string>
}

/**
 * Rewrites the request body. `permits(host)` says whether an `allowed_domains` entry may stay.
 * The body is always re-serialized from the parsed value, so Anthropic reads exactly the JSON we
 * checked (duplicate keys or escapes cannot show it a different `tools` list).
 */
export const trimServerTools = (
  body: Uint8Array,
  permits: (host: string) => boolean,
): Either.Either<TrimResult, Blocked> => {
  const parsed = Either.try((): unknown => JSON.parse(Buffer.from(body).toString("utf8")))
  if (Either.isLeft(parsed)) {
    return Either.left(refuse("The request body is not JSON.", "messages body is not JSON"))
  }
  const root = parsed.right
  const toolLists: Array<Array<unknown>> = []
  if (isRecord(root)) {
    if (Array.isArray(root.tools)) toolLists.push(root.tools)
    if (Array.isArray(root.requests)) {
      for (const r of root.requests) {
        if (isRecord(r) && isRecord(r.params) && Array.isArray(r.params.tools)) toolLists.push(r.params.tools)
      }
    }
  }
  const notes: Array<string> = []
  for (const tools of toolLists) {
    for (const tool of tools) {
      if (!isRecord(tool) || typeof tool.type !== "string") continue
      const type = tool.type
      if (!guardedPrefixes.some((p) => type.startsWith(p))) continue
      const blocked = tool.blocked_domains
      if (blocked !== undefined && blocked !== null && !(Array.isArray(blocked) && blocked.length === 0)) {
        return Either.left(
          refuse(
            `The ${type} tool declares blocked_domains; the sandbox only allows allowed_domains, limited to hosts in the network allowlist.`,
            `${type} with blocked_domains`,
          ),
        )
      }
      const requested = tool.allowed_domains ?? []
      if (!Array.isArray(requested)) {
        return Either.left(
          refuse(`The ${type} tool's allowed_domains is not a list.`, `${type} bad allowed_domains`),
        )
      }
      const kept: Array<string> = []
      const dropped: Array<string> = []
      for (const entry of requested) {
        if (
          typeof entry !== "string" ||
          entry.length === 0 ||
          /[*?\s]/.test(entry) ||
          entry.startsWith(".")
        ) {
          return Either.left(
            refuse(
              `The ${type} tool's allowed_domains entry ${JSON.stringify(entry)} is not a plain domain.`,
              `${type} bad allowed_domains entry`,
            ),
          )
        }
        const hostPart = entry.split("/")[0] ?? ""
        const host = normalizeHost(hostPart)
        if (Option.isSome(host) && permits(host.value.name)) kept.push(entry)
        else dropped.push(entry)
      }
      tool.allowed_domains = kept
      delete tool.blocked_domains
      notes.push(
        `${type}: ${kept.length === 0 ? "none" : kept.join(" ")}${dropped.length > 0 ? ` (dropped ${dropped.slice(0, 10).join(" ")})` : ""}`,
      )
    }
  }
  return Either.right({
    body: Buffer.from(JSON.stringify(root), "utf8"),
    note: notes.length === 0 ? Option.none() : Option.some(notes.join("; ").slice(0, 1000)),
  })
}
