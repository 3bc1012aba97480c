/**
 * `.airut/network-allowlist.yaml`: where the agent's container may connect. Read from the
 * repository's default branch at each task start, so a change takes effect only once merged.
 */
import { Effect, Schema } from "effect"
import type { ConfigInvalid } from "./ConfigIssue.js"
import {
  ExpectedId,
  HostPattern,
  list,
  NonEmptyString,
  nonEmptyList,
  optional,
  required,
  withDefault,
} from "./ConfigPrimitives.js"
import { decodeYaml } from "./YamlSource.js"

export const networkAllowlistPath = ".airut/network-allowlist.yaml"

/** Methods are matched case-insensitively; we store them upper-case. */
const HttpMethod = Schema.transform(
  Schema.String.pipe(Schema.filter((s) => /^[A-Za-z]+$/.test(s))),
  Schema.String,
  { strict: true, decode: (s) => s.toUpperCase(), encode: (s) => s },
).annotations({ [ExpectedId]: "an HTTP method such as GET or POST" })

const PathPattern = Schema.String.pipe(
  Schema.filter((s) => s.startsWith("/") && !/[\s\\]/.test(s)),
  Schema.annotations({ [ExpectedId]: "a path pattern starting with / (use * as a wildcard)" }),
)

const operationNames = (kind: string) =>
  optional(
    list(NonEmptyString, "operation name patterns"),
    `Top-level ${kind} fields allowed (patterns with * allowed). None when absent.`,
  )

const GraphqlOperations = Schema.Struct({
  queries: operationNames("query"),
  mutations: operationNames("mutation"),
  subscriptions: operationNames("subscription"),
})

const UrlPrefix = Schema.Struct({
  host: required(HostPattern, "Host, case-insensitive; `*` matches any run of characters."),
  path: required(
    PathPattern,
    "Path the request must match (case-sensitive, query string included). `*` matches any run of characters, `/` included: end with `*` for a prefix (`/repos/org/app/*`).",
  ),
  methods: optional(
    nonEmptyList(HttpMethod, "HTTP methods"),
    "Methods allowed (case-insensitive). Every method when absent.",
  ),
  graphql: optional(
    GraphqlOperations,
    "For a GraphQL endpoint: the operations a request body may execute. A body with any other operation is blocked.",
  ),
})

export const NetworkAllowlist = Schema.Struct({
  domains: withDefault(
    list(HostPattern, "host patterns"),
    [],
    "Hosts the container may reach with any method and path, e.g. `registry.npmjs.org` or `*.pages.dev`.",
  ),
  url_prefixes: withDefault(
    list(UrlPrefix, "entries"),
    [],
    "Finer entries: a host plus a path pattern, optionally limited to some methods.",
  ),
})
export type NetworkAllowlist = typeof NetworkAllowlist.Type
export type UrlPrefixRule = NetworkAllowlist["url_prefixes"][number]

/**
 * Decodes the allowlist from its text. No `!env` or `!var`: the file comes from the repository,
 * and must not be able to pull values out of the host's environment.
 */
export const decodeNetworkAllowlist = (
  text: string,
  file: string = networkAllowlistPath,
): Effect.Effect<NetworkAllowlist, ConfigInvalid> =>
  decodeYaml({ file, text, schema: NetworkAllowlist, envAllowed: false }).pipe(
    Effect.map((decoded) => decoded.value),
  )
