/**
 * Credential definitions handed to the network proxy. The task container only ever sees
 * surrogates; the proxy swaps in the real values for requests to in-scope hosts.
 */
import { Schema } from "effect"
import {
  EnvName,
  ExpectedId,
  Flag,
  HostPattern,
  HttpsUrl,
  integer,
  mapping,
  NonEmptyString,
  nonEmptyList,
  oneOf,
  optional,
  required,
  Secret,
  SecretId,
  withDefault,
} from "./ConfigPrimitives.js"

const HeaderPattern = Schema.String.pipe(
  Schema.filter((s) => /^[A-Za-z0-9*?_.-]+$/.test(s)),
  Schema.annotations({ [ExpectedId]: "a header name or pattern (letters, digits, '-', '_', '*' and '?')" }),
)

const scopes = (what: string) =>
  required(
    nonEmptyList(HostPattern, "host patterns"),
    `Hosts (patterns allowed, e.g. \`*.github.com\`) where ${what}; everywhere else the surrogate stays as it is.`,
  )

export const MaskedSecret = Schema.Struct({
  value: required(
    Secret,
    "The real secret. Only the proxy sees it; the container gets a surrogate of the same shape.",
  ),
  scopes: scopes("the proxy swaps the surrogate for the real value"),
  headers: withDefault(
    nonEmptyList(HeaderPattern, "header names or patterns"),
    ["Authorization"],
    "Request headers (case-insensitive, patterns allowed) in which the surrogate is replaced. The default covers bearer and basic authentication; APIs that use their own header need it listed, e.g. `x-api-key` for Anthropic.",
  ),
  allow_foreign_credentials: withDefault(
    Flag,
    false,
    "When false, values in the listed headers (exact names only) that are not the surrogate are removed before the request leaves, so the agent cannot send credentials of its own to these hosts. Set true only if it must.",
  ),
})
export type MaskedSecret = typeof MaskedSecret.Type

/** An environment variable name for the container plus the real value behind its surrogate. */
export const NamedSecret = Schema.Struct({
  name: required(EnvName, "Name of the environment variable the container sees (holding the surrogate)."),
  value: required(Secret, "The real value; only the proxy sees it."),
})
export type NamedSecret = typeof NamedSecret.Type

export const SigningCredential = Schema.Struct({
  type: required(oneOf("aws-sigv4"), "Signature scheme; `aws-sigv4` (covers SigV4 and SigV4A)."),
  access_key_id: required(NamedSecret, "The access key id (`AKIA...` or `ASIA...`)."),
  secret_access_key: required(NamedSecret, "The secret access key; the proxy re-signs requests with it."),
  session_token: optional(NamedSecret, "Session token, for temporary (`ASIA...`) credentials."),
  scopes: scopes("requests signed with the surrogate key are re-signed with the real one"),
})
export type SigningCredential = typeof SigningCredential.Type

const AppId = Schema.Union(
  NonEmptyString,
  Schema.transform(Schema.Int, Schema.String, {
    strict: true,
    decode: (n) => String(n),
    encode: (s) => Number(s),
  }),
).annotations({ [ExpectedId]: "a GitHub App client ID (Iv...) or a numeric app ID" })

const PrivateKeyPem = Schema.Redacted(
  Schema.String.pipe(Schema.filter((s) => /-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(s))),
).annotations({
  [ExpectedId]: "a PEM private key (-----BEGIN ... PRIVATE KEY-----)",
  [SecretId]: true,
})

const PermissionName = Schema.String.pipe(
  Schema.filter((s) => /^[a-z][a-z_]*$/.test(s)),
  Schema.annotations({ [ExpectedId]: "a GitHub permission name such as contents or pull_requests" }),
)

const RepositoryName = Schema.String.pipe(
  Schema.filter((s) => /^[A-Za-z0-9._-]+$/.test(s)),
  Schema.annotations({ [ExpectedId]: "a repository name (without the owner)" }),
)

export const GitHubAppCredential = Schema.Struct({
  app_id: required(
    AppId,
    "The app's client ID (`Iv...`), or its numeric app ID on GitHub Enterprise Server before 3.19.",
  ),
  private_key: required(
    PrivateKeyPem,
    "The app's private key (PEM, PKCS#1 or PKCS#8). Only the proxy sees it.",
  ),
  installation_id: required(integer(1), "The installation ID of the app on your account or organization."),
  scopes: scopes("the surrogate token is replaced by a fresh installation token"),
  allow_foreign_credentials: withDefault(
    Flag,
    false,
    "When false, an `Authorization` header holding anything but the surrogate is removed before the request leaves.",
  ),
  base_url: withDefault(
    HttpsUrl,
    "https://api.github.com",
    "API root used to mint installation tokens; set it for GitHub Enterprise Server.",
  ),
  permissions: optional(
    mapping(PermissionName, "permission", oneOf("read", "write", "admin")),
    "Narrow the installation token to these permissions (e.g. `contents: write`). All of the installation's permissions when absent.",
  ),
  repositories: optional(
    nonEmptyList(RepositoryName, "repository names"),
    "Narrow the installation token to these repositories. All repositories of the installation when absent.",
  ),
})
export type GitHubAppCredential = typeof GitHubAppCredential.Type
