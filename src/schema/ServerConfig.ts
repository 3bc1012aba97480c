/**
 * The server configuration, `~/.config/airut/airut.yaml`: every setting of the daemon and of each
 * repository it serves. Every key has a default except the ones that identify something only
 * the operator knows (repository URL, mail server, tokens), so decoding `{}` (no file at all)
 * yields a working dashboard-only configuration.
 *
 * docs/config.md is generated from the descriptions here (`npm run docs:config`).
 */
import { Cron, DateTime, type Effect, Either, Option, Schema } from "effect"
import type { ConfigInvalid } from "./ConfigIssue.js"
import {
  AnyString,
  decimal,
  EmailAddress,
  EnvName,
  ExpectedId,
  Flag,
  HttpUrl,
  integer,
  list,
  mapping,
  NonEmptyString,
  nonEmptyList,
  oneOf,
  optional,
  Port,
  required,
  Secret,
  SecretId,
  SenderPattern,
  withDefault,
} from "./ConfigPrimitives.js"
import { GitHubAppCredential, MaskedSecret, SigningCredential } from "./Credentials.js"
import { ResourceLimits } from "./ResourceLimits.js"
import { type DecodedYaml, decodeYaml } from "./YamlSource.js"

/** The config_version this build reads. */
export const currentConfigVersion = 5

const matching = (pattern: RegExp, expected: string) =>
  Schema.String.pipe(
    Schema.filter((s) => pattern.test(s)),
    Schema.annotations({ [ExpectedId]: expected }),
  )

/** Decodes `{}`: the defaults of a section whose keys all have defaults. */
const defaultsOf = <A, I>(schema: Schema.Schema<A, I>): A => Schema.decodeUnknownSync(schema)({})

// --- execution ---

const Execution = Schema.Struct({
  max_concurrent: withDefault(integer(1), 3, "Most tasks running at once, over all repositories."),
  shutdown_timeout: withDefault(
    integer(1),
    60,
    "Seconds that running tasks get to finish when the daemon stops; they are interrupted after that.",
  ),
  conversation_max_age_days: withDefault(
    integer(1),
    7,
    "Conversations untouched for this many days are removed with their workspace.",
  ),
  image_prune: withDefault(Flag, true, "Remove container images no task uses any more during housekeeping."),
})

// --- dashboard ---

const DashboardToken = Schema.Redacted(
  Schema.String.pipe(Schema.filter((s) => s.length >= 16 && !/\s/.test(s))),
).annotations({ [ExpectedId]: "a token of at least 16 characters without spaces", [SecretId]: true })

/** A host name or address that only this machine can reach (IPv4-mapped loopback included). */
export const isLoopbackHost = (host: string): boolean =>
  host === "localhost" || host === "::1" || /^127\./.test(host) || /^::ffff:127\./i.test(host)

const Dashboard = Schema.Struct({
  enabled: withDefault(Flag, true, "Serve the web dashboard."),
  host: withDefault(
    NonEmptyString,
    "127.0.0.1",
    "Address the dashboard listens on. Anything but a loopback address also needs `token`.",
  ),
  port: withDefault(Port, 5200, "Port the dashboard listens on."),
  base_url: optional(
    HttpUrl,
    "Public URL of the dashboard (e.g. `https://airut.example.com`), used for links in acknowledgements. No links when absent.",
  ),
  token: optional(
    DashboardToken,
    "Bearer token the dashboard requires from every client. Required when `host` is not a loopback address: the dashboard can stop tasks and shows every request the agents made.",
  ),
}).pipe(
  Schema.filter((d) =>
    d.enabled && !isLoopbackHost(d.host) && d.token === undefined
      ? {
          path: ["token"],
          message: `required when the dashboard listens on ${d.host} (not a loopback address); set a token or listen on 127.0.0.1`,
        }
      : undefined,
  ),
)

// --- network (server level) ---

const IpAddress = matching(
  /^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$/,
  "an IPv4 or IPv6 address",
)

const HostName = matching(/^[A-Za-z0-9._-]+$/, "a host name")

const AddressAndPort = matching(
  /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$/,
  "address:port (e.g. 10.89.0.1:8443 or [fd00::1]:443)",
)

const ServerNetwork = Schema.Struct({
  upstream_dns: optional(
    IpAddress,
    "DNS server the network proxy uses to resolve allowed hosts. The first nameserver of /etc/resolv.conf when absent.",
  ),
  upstream_overrides: optional(
    mapping(HostName, "host", AddressAndPort),
    "Send the proxy's upstream connections for a host to another address (e.g. `api.anthropic.com: 10.89.0.1:8443`). For tests against local fakes; TLS still checks the host name.",
  ),
  upstream_ca_file: optional(
    matching(/^\/\S*$/, "an absolute path"),
    "PEM file of extra CA certificates the proxy trusts for upstream TLS, besides the system's (an internal gateway with a private CA, a test double).",
  ),
})

// --- container engine ---

const AbsolutePath = matching(/^\/\S*$/, "an absolute path")

const ImagePrefix = matching(
  /^[a-z0-9][a-z0-9_.-]*$/,
  "an image name prefix (lower-case letters, digits, '.', '_' and '-')",
)

const Container = Schema.Struct({
  socket: withDefault(
    AbsolutePath,
    "/run/podman/podman.sock",
    "Unix socket of the Docker-compatible API (Podman's `podman system service`, or Docker's socket).",
  ),
  image_prefix: withDefault(
    ImagePrefix,
    "airut",
    "Prefix of the names of images, containers and networks airut creates, so several installations can share an engine.",
  ),
})

// --- email channel ---

const EmailAccount = Schema.Struct({
  username: required(NonEmptyString, "Login name for IMAP and SMTP."),
  from: required(NonEmptyString, "From address of replies, e.g. `Airut <airut@example.com>`."),
  password: optional(Secret, "Password for IMAP and SMTP login. Use `!env`."),
})

const Imap = Schema.Struct({
  server: required(NonEmptyString, "IMAP server host name."),
  port: withDefault(Port, 993, "IMAP port (TLS from the start)."),
  connect_retries: withDefault(
    integer(0),
    3,
    "Failed connection attempts in a row after which the channel shows as failed on the dashboard. It keeps retrying (10 s, 30 s, 90 s, ... at most every 5 minutes) and recovers by itself.",
  ),
  poll_interval: withDefault(
    decimal(0.1),
    60,
    "Seconds between mailbox checks when IDLE is off or the server lacks it.",
  ),
  use_idle: withDefault(Flag, true, "Wait for new mail with IMAP IDLE instead of polling."),
  idle_reconnect_interval: withDefault(
    integer(60),
    1740,
    "Seconds after which an IDLE connection is renewed (servers drop idle ones after about 30 minutes).",
  ),
})

const Smtp = Schema.Struct({
  server: required(NonEmptyString, "SMTP server host name."),
  port: withDefault(Port, 587, "SMTP port: usually 587 with `tls: starttls`, 465 with `tls: implicit`."),
  require_auth: withDefault(Flag, true, "Log in before sending."),
  tls: withDefault(
    oneOf("starttls", "implicit"),
    "starttls",
    "How the connection is encrypted: `starttls` (required, never sent in clear; usually port 587) or `implicit` (TLS from the start; usually port 465).",
  ),
  password: optional(Secret, "SMTP password, when it differs from `account.password`. Use `!env`."),
})

const EmailAuth = Schema.Struct({
  authorized_senders: required(
    nonEmptyList(SenderPattern, "sender addresses"),
    "Who may start and continue tasks: exact addresses, or `*@example.com` for a whole domain. Mail from anyone else is recorded and never answered.",
  ),
  trusted_authserv_id: required(
    AnyString,
    'The authserv-id your own receiving mail server writes in its Authentication-Results header; results from any other id are ignored. `""` skips the id check (Microsoft 365 writes none).',
  ),
  verify_locally: withDefault(
    Flag,
    false,
    "Check DKIM, SPF and DMARC ourselves instead of reading the receiving server's Authentication-Results header.",
  ),
})

const Email = Schema.Struct({
  account: required(EmailAccount, "The mailbox airut reads and sends from; give each repository its own."),
  imap: required(Imap, "Incoming mail."),
  smtp: required(Smtp, "Outgoing mail."),
  auth: required(EmailAuth, "Who may use this repository by email, and how senders are authenticated."),
  processed_folder: optional(
    NonEmptyString,
    "IMAP folder that handled messages are moved to. When absent they are deleted (after they are safely recorded).",
  ),
  max_message_bytes: withDefault(
    integer(1024),
    26214400,
    "Largest mail (with its attachments) that is read. A bigger one from an authorized sender is answered with a note saying so, and not run.",
  ),
  max_replies_per_hour: withDefault(
    integer(1),
    30,
    "Most mails sent to one address in an hour, a guard against mail loops; a reply beyond it is not sent and the task ends with a channel error.",
  ),
  model_aliases: withDefault(
    mapping(NonEmptyString, "alias", NonEmptyString),
    { opus: "opus", sonnet: "sonnet", haiku: "haiku" },
    "Words a new conversation may name as the To address's `+subaddress` (e.g. `airut+sonnet@example.com`) to pick its model, mapped to the model name; by default `opus`, `sonnet` and `haiku`, each naming itself. Other subaddresses are ignored.",
  ),
})

// --- Slack channel ---

const SlackUserId = matching(/^[UW][A-Z0-9]+$/, "a Slack user ID (U...)")

const SlackRule = Schema.Union(
  Schema.Struct({ workspace_members: Schema.Literal(true) }),
  Schema.Struct({ user_group: NonEmptyString }),
  Schema.Struct({ user_id: SlackUserId }),
).annotations({
  [ExpectedId]: "one rule: `workspace_members: true`, `user_group: <handle>` or `user_id: <U...>`",
})

const SlackToken = (prefix: string, what: string) =>
  Schema.Redacted(
    Schema.String.pipe(Schema.filter((s) => s.startsWith(prefix) && s.length > prefix.length)),
  ).annotations({
    [ExpectedId]: `a Slack ${what} (${prefix}...)`,
    [SecretId]: true,
  })

const SlackChannelId = matching(/^[CGD][A-Z0-9]+$/, "a Slack channel ID (C...)")

const Slack = Schema.Struct({
  bot_token: required(
    SlackToken("xoxb-", "bot token"),
    "Bot token of the Slack app (`xoxb-...`). Use `!env`.",
  ),
  app_token: required(
    SlackToken("xapp-", "app-level token"),
    "App-level token for Socket Mode (`xapp-...`). Use `!env`.",
  ),
  authorized: required(
    nonEmptyList(SlackRule, "rules"),
    "Who may use this repository from Slack; the first matching rule admits. Rules: `workspace_members: true` (full members, not guests), `user_group: <handle>`, `user_id: <U...>`. Bots, deleted users and other workspaces never match.",
  ),
  allowed_channels: withDefault(
    list(SlackChannelId, "channel IDs"),
    [],
    "Channels where the app answers mentions. Empty: any channel it is invited to. Direct messages are always allowed.",
  ),
  model_aliases: optional(
    mapping(NonEmptyString, "alias", NonEmptyString),
    "Words a Slack message may use to pick a model, mapped to the model name (e.g. `fast: sonnet`).",
  ),
  api_url: withDefault(
    HttpUrl,
    "https://slack.com/api/",
    "Base URL of the Slack Web API. Change it only for GovSlack (`https://slack-gov.com/api/`) or a test double.",
  ),
})

// --- per-repository settings ---

const RepoNetwork = Schema.Struct({
  sandbox_enabled: withDefault(
    Flag,
    true,
    "Send the agent's traffic through the allowlisting proxy. `false` is a break-glass switch: the container gets open network access and masked credentials stop working.",
  ),
})

const Effort = oneOf("low", "medium", "high", "xhigh", "max")

const ClaudeVersion = matching(/^\d+\.\d+\.\d+$/, "an exact version such as 2.1.330")

const ContainerPath = Schema.String.pipe(
  Schema.filter(
    (s) =>
      s.length > 0 && !s.startsWith("/") && !s.includes("\\") && s.split("/").every((part) => part !== ".."),
  ),
  Schema.annotations({ [ExpectedId]: "a path inside the repository (relative, without ..)" }),
)

const Identifier = (what: string) =>
  matching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, `${what} (letters, digits, - and _, at most 64 characters)`)

const CronExpression = Schema.String.pipe(
  Schema.filter((s) => s.trim().split(/\s+/).length === 5 && Either.isRight(Cron.parse(s))),
  Schema.annotations({ [ExpectedId]: "a cron expression with 5 fields (minute hour day month weekday)" }),
)

const TimeZone = Schema.String.pipe(
  Schema.filter((s) => Option.isSome(DateTime.zoneMakeNamed(s))),
  Schema.annotations({ [ExpectedId]: "an IANA time zone such as Europe/Helsinki" }),
)

const Deliver = Schema.Struct({
  to: required(
    EmailAddress,
    "Address the result is mailed to; replying to that mail continues the conversation.",
  ),
  channel: withDefault(oneOf("email"), "email", "How the result is delivered; only `email` for now."),
})

const Schedule = Schema.Struct({
  cron: required(CronExpression, "When to run, as a 5-field cron expression (e.g. `0 7 * * 1-5`)."),
  deliver: required(Deliver, "Where the result goes."),
  enable: withDefault(Flag, true, "Set false to keep the schedule without running it."),
  subject: optional(NonEmptyString, "Subject of the delivered mail. The schedule's name when absent."),
  timezone: optional(TimeZone, "Time zone of the cron expression. The server's local zone when absent."),
  prompt: optional(NonEmptyString, "The task to run. Give either this or `trigger_command`."),
  trigger_command: optional(
    NonEmptyString,
    "A command run in the sandbox first (split like a shell would, not run by one). No output: nothing happens. Output: it becomes the task. Failure: the agent is asked to investigate.",
  ),
  trigger_timeout: optional(
    integer(10),
    "Seconds `trigger_command` may run. The repository's timeout when absent.",
  ),
  model: optional(NonEmptyString, "Model for this schedule. The repository's `model` when absent."),
  effort: optional(Effort, "Effort for this schedule. The repository's `effort` when absent."),
  output_limit: withDefault(
    integer(1),
    102400,
    "Bytes of `trigger_command` output passed on; the rest is cut with a note.",
  ),
}).pipe(
  Schema.filter((s): ReadonlyArray<Schema.FilterIssue> => {
    if (s.prompt !== undefined && s.trigger_command !== undefined) {
      return [{ path: ["trigger_command"], message: "give either prompt or trigger_command, not both" }]
    }
    if (s.prompt === undefined && s.trigger_command === undefined) {
      return [{ path: [], message: "needs prompt or trigger_command (exactly one)" }]
    }
    if (s.trigger_timeout !== undefined && s.trigger_command === undefined) {
      return [{ path: ["trigger_timeout"], message: "only applies with trigger_command" }]
    }
    return []
  }),
)

const signingFields: ReadonlyArray<"access_key_id" | "secret_access_key" | "session_token"> = [
  "access_key_id",
  "secret_access_key",
  "session_token",
]

const Repo = Schema.Struct({
  repo_url: required(
    NonEmptyString,
    "Git URL of the repository, cloned with the host's git credentials (never the agent's).",
  ),
  email: optional(Email, "Email channel. A repository needs `email`, `slack` or both."),
  slack: optional(Slack, "Slack channel. A repository needs `email`, `slack` or both."),
  secrets: withDefault(
    mapping(EnvName, "ENV", Secret),
    {},
    "Environment variables given to the task container as they are. The container can read and send them anywhere the allowlist permits: prefer `masked_secrets`.",
  ),
  masked_secrets: withDefault(
    mapping(EnvName, "ENV", MaskedSecret),
    {},
    "Environment variables the container gets as surrogates; the proxy puts the real value in only for the listed hosts and headers.",
  ),
  signing_credentials: withDefault(
    mapping(Identifier("a credential name"), "name", SigningCredential),
    {},
    "AWS-style credentials: the container gets surrogate keys and the proxy re-signs its requests to the listed hosts with the real ones.",
  ),
  github_app_credentials: withDefault(
    mapping(EnvName, "ENV", GitHubAppCredential),
    {},
    "Environment variables holding a surrogate GitHub token; the proxy replaces it with a short-lived installation token of your GitHub App.",
  ),
  network: withDefault(RepoNetwork, defaultsOf(RepoNetwork), "Network sandbox of this repository's tasks."),
  model: withDefault(
    NonEmptyString,
    "opus",
    "Claude model for tasks (`opus`, `sonnet`, or a full model name).",
  ),
  effort: optional(Effort, "Reasoning effort passed to Claude Code. Claude Code's default when absent."),
  resource_limits: withDefault(
    ResourceLimits,
    {},
    "Limits of each task container. Use `!var` to share them.",
  ),
  claude_version: withDefault(
    ClaudeVersion,
    "2.1.330",
    "Exact Claude Code version run in the container. Pinned: a new version is an explicit change.",
  ),
  container_path: withDefault(
    ContainerPath,
    ".airut/container",
    "Directory in the repository with the Dockerfile (and its build context) of the task image, e.g. `.devcontainer`.",
  ),
  schedules: withDefault(
    mapping(Identifier("a schedule name"), "name", Schedule),
    {},
    "Tasks started on a timetable instead of by a message.",
  ),
}).pipe(
  Schema.filter((repo): ReadonlyArray<Schema.FilterIssue> => {
    const issues: Array<Schema.FilterIssue> = []
    if (repo.email === undefined && repo.slack === undefined) {
      issues.push({ path: [], message: "no channel: add an email or a slack section (or both)" })
    }
    for (const [name, schedule] of Object.entries(repo.schedules)) {
      if (schedule.deliver.channel === "email" && repo.email === undefined) {
        issues.push({
          path: ["schedules", name, "deliver", "channel"],
          message: "delivers by email, but this repository has no email section",
        })
      }
    }
    // One name, one meaning: the container cannot hold two values for the same variable.
    const seen = new Map<string, string>()
    const claim = (name: string, section: string, path: ReadonlyArray<PropertyKey>) => {
      const earlier = seen.get(name)
      if (earlier !== undefined) {
        issues.push({ path, message: `environment variable ${name} is already defined in ${earlier}` })
      } else {
        seen.set(name, section)
      }
    }
    for (const name of Object.keys(repo.secrets)) claim(name, "secrets", ["secrets", name])
    for (const name of Object.keys(repo.masked_secrets))
      claim(name, "masked_secrets", ["masked_secrets", name])
    for (const name of Object.keys(repo.github_app_credentials)) {
      claim(name, "github_app_credentials", ["github_app_credentials", name])
    }
    for (const [credential, c] of Object.entries(repo.signing_credentials)) {
      for (const field of signingFields) {
        const named = c[field]
        if (named !== undefined) {
          claim(named.name, `signing_credentials.${credential}`, [
            "signing_credentials",
            credential,
            field,
            "name",
          ])
        }
      }
    }
    return issues
  }),
)

const VarValue = Schema.Union(Schema.String, Schema.Number, Schema.Boolean).annotations({
  [ExpectedId]: "a string, number or boolean",
})

export const ServerConfig = Schema.Struct({
  config_version: withDefault(
    Schema.Literal(currentConfigVersion).annotations({ [ExpectedId]: String(currentConfigVersion) }),
    currentConfigVersion,
    "Version of this file's layout. This build reads version 5.",
  ),
  vars: optional(
    mapping(NonEmptyString, "name", VarValue),
    "Values to reuse with `!var name` anywhere in the file (e.g. shared resource limits). A value may be `!env NAME`; it may not be another `!var`.",
  ),
  state_dir: optional(
    NonEmptyString,
    "Directory for the database, the CA and conversation workspaces. `~/.local/state/airut` (or `$XDG_STATE_HOME/airut`) when absent.",
  ),
  execution: withDefault(Execution, defaultsOf(Execution), "How tasks run."),
  dashboard: withDefault(Dashboard, defaultsOf(Dashboard), "The web dashboard."),
  network: withDefault(ServerNetwork, {}, "Network settings shared by every repository."),
  container: withDefault(Container, defaultsOf(Container), "The container engine."),
  repos: withDefault(
    mapping(Identifier("a repository id"), "id", Repo),
    {},
    "The repositories served, by id. None: airut runs the dashboard only.",
  ),
}).pipe(
  Schema.filter((config): ReadonlyArray<Schema.FilterIssue> => {
    // Each message is taken (and removed) by exactly one reader, so two repositories must never
    // share a mailbox.
    const owners = new Map<string, string>()
    const issues: Array<Schema.FilterIssue> = []
    for (const [id, repo] of Object.entries(config.repos)) {
      if (repo.email === undefined) continue
      const mailbox = `${repo.email.imap.server.toLowerCase()}/${repo.email.account.username.toLowerCase()}`
      const owner = owners.get(mailbox)
      if (owner !== undefined) {
        issues.push({
          path: ["repos", id, "email", "account", "username"],
          message: `the same mailbox is used by repos.${owner}; give each repository its own`,
        })
      } else {
        owners.set(mailbox, id)
      }
    }
    return issues
  }),
)

export type ServerConfig = typeof ServerConfig.Type
export type RepoConfig = ServerConfig["repos"][string]
export type EmailConfig = NonNullable<RepoConfig["email"]>
export type SlackConfig = NonNullable<RepoConfig["slack"]>
export type ScheduleConfig = RepoConfig["schedules"][string]

/** The configuration used when there is no file: dashboard on loopback, no repositories. */
export const defaultServerConfig: ServerConfig = defaultsOf(ServerConfig)

/**
 * Decodes the text of an airut.yaml. `dotenv` supplies `!env` values the environment lacks.
 * Requires nothing: environment variables are read through Effect's ConfigProvider.
 */
export const decodeServerConfigText = (
  text: string,
  file: string,
  dotenv?: Readonly<Record<string, string>>,
): Effect.Effect<DecodedYaml<ServerConfig>, ConfigInvalid> =>
  decodeYaml({ file, text, schema: ServerConfig, vars: true, ...(dotenv === undefined ? {} : { dotenv }) })
