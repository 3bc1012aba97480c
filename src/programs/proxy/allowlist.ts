/**
 * The network allowlist, compiled once per proxy: which host, path and method may pass, and
 * which GraphQL operations a guarded endpoint may run. Also writes the 403 a miss gets, with the
 * exact YAML lines that would allow the request, so the agent can propose them in a PR.
 */
import type { NetworkAllowlist } from "../../schema/NetworkAllowlist.js"
import { networkAllowlistPath } from "../../schema/NetworkAllowlist.js"
import { Blocked } from "./errors.js"
import { type Glob, glob, hostGlob, isLiteral } from "./glob.js"
import type { GraphqlOperations } from "./graphql.js"
import type { NormalizedHost } from "./requestTarget.js"

interface HostRule {
  readonly pattern: Glob
  readonly literal: boolean
}

interface PrefixRule {
  readonly host: HostRule
  readonly path: Glob
  readonly methods: ReadonlySet<string> | undefined
  readonly graphql: GraphqlOperations | undefined
}

export interface CompiledAllowlist {
  readonly domains: ReadonlyArray<HostRule>
  readonly prefixes: ReadonlyArray<PrefixRule>
}

const hostRule = (pattern: string): HostRule => ({ pattern: hostGlob(pattern), literal: isLiteral(pattern) })

export const compileAllowlist = (allowlist: NetworkAllowlist): CompiledAllowlist => ({
  domains: allowlist.domains.map(hostRule),
  prefixes: allowlist.url_prefixes.map((p) => ({
    host: hostRule(p.host),
    path: glob(p.path),
    methods: p.methods === undefined ? undefined : new Set(p.methods),
    graphql: p.graphql,
  })),
})

// An IP literal is only matched by an entry naming exactly that address: `*` or `*.example.com`
// were written for names, and must not open the cloud metadata address or the host's LAN.
const hostMatches = (rule: HostRule, host: NormalizedHost) =>
  host.isIp ? rule.literal && rule.pattern.source === host.name : rule.pattern.test(host.name)

export type Decision =
  | {
      readonly _tag: "Allowed"
      /** Non-empty: the body must pass at least one of these GraphQL rules. */
      readonly graphql: ReadonlyArray<GraphqlOperations>
    }
  | { readonly _tag: "Denied"; readonly what: "host" | "path" | "method" }

/**
 * Decides one request. A matching entry with `graphql` always applies its operation check,
 * even when `domains` or another entry would allow the host (the original skipped the check
 * when the host was also under `domains`).
 */
export const decide = (
  allowlist: CompiledAllowlist,
  host: NormalizedHost,
  method: string,
  target: string,
): Decision => {
  let hostKnown = false
  let pathKnown = false
  let allowed = false
  const graphql: Array<GraphqlOperations> = []
  for (const rule of allowlist.prefixes) {
    if (!hostMatches(rule.host, host)) continue
    hostKnown = true
    if (!rule.path.test(target)) continue
    pathKnown = true
    if (rule.methods !== undefined && !rule.methods.has(method)) continue
    allowed = true
    if (rule.graphql !== undefined) graphql.push(rule.graphql)
  }
  if (allowed || allowlist.domains.some((d) => hostMatches(d, host))) return { _tag: "Allowed", graphql }
  return { _tag: "Denied", what: pathKnown ? "method" : hostKnown ? "path" : "host" }
}

/**
 * True when GET on every path of `host` and of all its subdomains is allowed without a GraphQL
 * check: what Anthropic's server-side fetch and search may reach for an `allowed_domains` entry
 * (those include subdomains).
 */
export const allowsSiteWideGet = (allowlist: CompiledAllowlist, host: NormalizedHost): boolean => {
  const everyPath = (h: NormalizedHost) =>
    allowlist.domains.some((d) => hostMatches(d, h)) ||
    allowlist.prefixes.some(
      (p) =>
        hostMatches(p.host, h) &&
        p.graphql === undefined &&
        (p.methods === undefined || p.methods.has("GET")) &&
        (p.path.source === "*" || p.path.source === "/*"),
    )
  // `%%` can appear in no allowlist name, so only a wildcard entry matches this subdomain.
  return everyPath(host) && (host.isIp || everyPath({ name: `%%.${host.name}`, isIp: false }))
}

const yamlString = (s: string) => JSON.stringify(s)

/** The list entry to add under `url_prefixes:`. */
export const entryLines = (
  host: string,
  path: string,
  method: string,
  graphql?: { readonly kind: string; readonly fields: ReadonlyArray<string> },
): string => {
  const lines = [`  - host: ${yamlString(host)}`, `    path: ${yamlString(path)}`, `    methods: [${method}]`]
  if (graphql !== undefined) {
    const key =
      graphql.kind === "query" ? "queries" : graphql.kind === "mutation" ? "mutations" : "subscriptions"
    lines.push("    graphql:", `      ${key}: [${graphql.fields.map(yamlString).join(", ")}]`)
  }
  return lines.join("\n")
}

/** The path an entry needs: exact, or with `?*` when the request has a query string. */
export const suggestedPath = (decodedPath: string, hasQuery: boolean): string =>
  hasQuery ? `${decodedPath}?*` : decodedPath

export const howToAdd = `Add these lines under url_prefixes: in ${networkAllowlistPath} on the default branch (in a pull request); the change applies to tasks started after it is merged.`

/** The 403 for a denied request. */
export const deniedRequest = (
  what: "host" | "path" | "method",
  host: string,
  method: string,
  decodedPath: string,
  hasQuery: boolean,
): Blocked => {
  const add = entryLines(host, suggestedPath(decodedPath, hasQuery), method)
  const explanation =
    what === "method"
      ? `${method} is not allowed for ${host}${decodedPath} by the network allowlist (the path is listed, the method is not). ${howToAdd} Or add ${method} to the methods of the existing entry.`
      : what === "path"
        ? `${host}${decodedPath} is not in the network allowlist (other paths of ${host} are). ${howToAdd}`
        : `${host} is not in the network allowlist. ${howToAdd}`
  return new Blocked({
    status: 403,
    code: "blocked_by_network_allowlist",
    explanation,
    reason: `${what} not allowed`,
    add,
  })
}
