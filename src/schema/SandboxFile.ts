/**
 * `.airut/sandbox.yaml`: settings of `airut-sandbox run`, the CLI that runs a command (usually CI)
 * in the same sandbox as the agent. Secrets come from the CLI's environment through `!env`;
 * the file itself, being in the repository, must never hold one.
 */
import { Effect, Predicate, Schema } from "effect"
import { type ConfigInvalid, type ConfigIssue, formatPath } from "./ConfigIssue.js"
import {
  EnvName,
  ExpectedId,
  Flag,
  HostPattern,
  list,
  mapping,
  nonEmptyList,
  oneOf,
  optional,
  required,
  withDefault,
} from "./ConfigPrimitives.js"
import { MaskedSecret, NamedSecret } from "./Credentials.js"
import { ResourceLimits } from "./ResourceLimits.js"
import { decodeYaml, type ResolvedYaml } from "./YamlSource.js"

export const sandboxFilePath = ".airut/sandbox.yaml"

// Unquoted YAML like `DEBUG: 1` should mean the string "1".
const EnvValue = Schema.Union(
  Schema.String,
  Schema.transform(Schema.Union(Schema.Number, Schema.Boolean), Schema.String, {
    strict: true,
    decode: (v) => String(v),
    encode: (s) => (s === "true" ? true : s === "false" ? false : Number(s)),
  }),
).annotations({ [ExpectedId]: "a string (numbers and booleans are taken as text)" })

const CredentialName = Schema.String.pipe(
  Schema.filter((s) => /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(s)),
  Schema.annotations({ [ExpectedId]: "a credential name (letters, digits, - and _)" }),
)

// Written `access_key_id: !env AWS_ACCESS_KEY_ID`; the reader turns it into {name, value} (see
// keepEnvName below), so the container's variable keeps the name the file uses.
const EnvSecret = NamedSecret.annotations({ [ExpectedId]: "!env NAME" })

const SandboxSigningCredential = Schema.Struct({
  type: required(oneOf("aws-sigv4"), "Signature scheme; `aws-sigv4` (covers SigV4 and SigV4A)."),
  access_key_id: required(
    EnvSecret,
    "The access key id; the container sees a surrogate under the same name.",
  ),
  secret_access_key: required(
    EnvSecret,
    "The secret access key; the container sees a surrogate under the same name.",
  ),
  session_token: optional(EnvSecret, "Session token of temporary credentials, if any."),
  scopes: required(
    nonEmptyList(HostPattern, "host patterns"),
    "Hosts (patterns allowed) where requests signed with the surrogate key are re-signed with the real one.",
  ),
})

export const SandboxFile = Schema.Struct({
  env: withDefault(mapping(EnvName, "ENV", EnvValue), {}, "Environment variables set in the container."),
  pass_env: withDefault(
    list(EnvName, "variable names"),
    [],
    "Variables copied into the container from the environment of airut-sandbox, when set there. They are visible to the command as they are: never list secrets here.",
  ),
  masked_secrets: withDefault(
    mapping(EnvName, "ENV", MaskedSecret),
    {},
    "As in the server config; `value` must be `!env NAME`. The container gets a surrogate.",
  ),
  signing_credentials: withDefault(
    mapping(CredentialName, "name", SandboxSigningCredential),
    {},
    "AWS-style credentials: the container gets surrogate keys and the proxy re-signs its requests to the listed hosts with the real ones.",
  ),
  network_sandbox: withDefault(
    Flag,
    true,
    "Route the command's traffic through the allowlisting proxy. `false` gives it open network access.",
  ),
  resource_limits: withDefault(ResourceLimits, {}, "Limits of the command's container."),
})
export type SandboxFile = typeof SandboxFile.Type

const signingFields = ["access_key_id", "secret_access_key", "session_token"]

const isSigningField = (path: ReadonlyArray<PropertyKey>) =>
  path.length === 3 && path[0] === "signing_credentials" && signingFields.includes(String(path[2]))

const entries = (u: unknown): ReadonlyArray<[string, unknown]> =>
  Predicate.isRecord(u) ? Object.entries(u) : []

/** Every secret-bearing value must have come from `!env`. */
const secretsFromEnv = (resolved: ResolvedYaml): ReadonlyArray<ConfigIssue> => {
  const root = Predicate.isRecord(resolved.tree) ? resolved.tree : {}
  const issues: Array<ConfigIssue> = []
  const requireEnv = (path: ReadonlyArray<PropertyKey>, present: boolean) => {
    const formatted = formatPath(path)
    if (present && !resolved.envPaths.has(formatted)) {
      issues.push({
        path: formatted,
        message: "write it as !env NAME: a secret in the repository is readable by everyone who can read it",
      })
    }
  }
  for (const [name, secret] of entries(root.masked_secrets)) {
    requireEnv(["masked_secrets", name, "value"], Predicate.isRecord(secret) && secret.value !== undefined)
  }
  for (const [name, credential] of entries(root.signing_credentials)) {
    for (const field of signingFields) {
      requireEnv(
        ["signing_credentials", name, field],
        Predicate.isRecord(credential) && credential[field] !== undefined,
      )
    }
  }
  return issues
}

/** Decodes sandbox.yaml from its text; `!env` reads the environment, then `dotenv` if given. */
export const decodeSandboxFile = (
  text: string,
  file: string = sandboxFilePath,
  dotenv?: Readonly<Record<string, string>>,
): Effect.Effect<SandboxFile, ConfigInvalid> =>
  decodeYaml({
    file,
    text,
    schema: SandboxFile,
    keepEnvName: isSigningField,
    check: secretsFromEnv,
    ...(dotenv === undefined ? {} : { dotenv }),
  }).pipe(Effect.map((decoded) => decoded.value))
