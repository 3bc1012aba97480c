import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { formatConfigInvalid } from "../../src/schema/ConfigIssue.js"
import { decodeServerConfigText, defaultServerConfig } from "../../src/schema/ServerConfig.js"
import { issuesOf, messageAt, withEnv } from "./helpers.js"

const decode = (text: string, dotenv?: Record<string, string>) =>
  decodeServerConfigText(text, "airut.yaml", dotenv).pipe(Effect.map((d) => d.value))

const fullExample = `
config_version: 5
vars:
  timeout: 1800
  mem: 4g
state_dir: /var/lib/airut
execution:
  max_concurrent: 5
  image_prune: false
dashboard:
  host: 0.0.0.0
  port: 8080
  base_url: https://airut.example.com
  token: !env DASHBOARD_TOKEN
network:
  upstream_dns: 192.0.2.53
  upstream_overrides:
    api.anthropic.com: 10.89.0.1:8443
container:
  socket: /run/airut-test/podman.sock
  image_prefix: airut-test
repos:
  app:
    repo_url: https://github.com/example/app.git
    email:
      account:
        username: airut@example.com
        from: "Airut <airut@example.com>"
        password: !env MAIL_PASSWORD
      imap:
        server: imap.example.com
        poll_interval: 0.5
      smtp:
        server: smtp.example.com
        port: 465
      auth:
        authorized_senders: [me@example.com, "*@example.org"]
        trusted_authserv_id: mx.example.com
      processed_folder: Done
    slack:
      bot_token: !env SLACK_BOT_TOKEN
      app_token: !env SLACK_APP_TOKEN
      authorized:
        - workspace_members: true
        - user_group: engineering
        - user_id: U0123ABCD
      allowed_channels: [C0123ABCD]
      model_aliases:
        fast: sonnet
    secrets:
      PLAIN_TOKEN: !env PLAIN_TOKEN
    masked_secrets:
      GH_TOKEN:
        value: !env GH_TOKEN
        scopes: [api.github.com, "*.githubusercontent.com"]
    signing_credentials:
      r2:
        type: aws-sigv4
        access_key_id: { name: AWS_ACCESS_KEY_ID, value: AKIAEXAMPLEEXAMPLE00 }
        secret_access_key: { name: AWS_SECRET_ACCESS_KEY, value: !env AWS_SECRET }
        scopes: ["*.r2.cloudflarestorage.com"]
    github_app_credentials:
      GITHUB_TOKEN:
        app_id: Iv23liExample
        private_key: !env GH_APP_KEY
        installation_id: 12345
        scopes: [api.github.com]
        permissions: { contents: write, pull_requests: write }
        repositories: [app]
    network:
      sandbox_enabled: true
    model: sonnet
    effort: high
    resource_limits:
      timeout: !var timeout
      memory: !var mem
      cpus: 2
      pids_limit: 512
    claude_version: 2.1.330
    container_path: .devcontainer
    schedules:
      nightly:
        cron: "0 3 * * *"
        timezone: Europe/Helsinki
        deliver: { to: me@example.com }
        prompt: Check the dependencies for updates.
      watch:
        cron: "*/15 * * * 1-5"
        deliver: { to: me@example.com }
        trigger_command: ./scripts/check.sh --quiet
        trigger_timeout: 60
`

const fullEnv = {
  DASHBOARD_TOKEN: "dashboard-token-0123456789",
  MAIL_PASSWORD: "mail-password-42",
  SLACK_BOT_TOKEN: "xoxb-slack-bot-1",
  SLACK_APP_TOKEN: "xapp-slack-app-1",
  PLAIN_TOKEN: "plain-token-value",
  GH_TOKEN: "ghp_realGitHubToken000",
  AWS_SECRET: "aws-secret-value-abcdef",
  GH_APP_KEY:
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEexamplekeymaterialexample\n-----END RSA PRIVATE KEY-----\n",
}

/** A minimal valid repository, for tests that break one thing. */
const repoWith = (extra: string) => `
repos:
  app:
    repo_url: https://github.com/example/app.git
    email:
      account: { username: a@example.com, from: a@example.com }
      imap: { server: imap.example.com }
      smtp: { server: smtp.example.com }
      auth: { authorized_senders: [me@example.com], trusted_authserv_id: mx.example.com }
${extra}`

describe("ServerConfig", () => {
  it.effect("decodes a full example, filling defaults and hiding secrets", () =>
    Effect.gen(function* () {
      const config = yield* decode(fullExample).pipe(withEnv(fullEnv))
      const app = config.repos.app
      assert.isDefined(app)
      if (app === undefined) return
      assert.strictEqual(config.execution.max_concurrent, 5)
      assert.strictEqual(config.execution.shutdown_timeout, 60)
      assert.strictEqual(config.dashboard.port, 8080)
      assert.strictEqual(Redacted.value(config.dashboard.token ?? Redacted.make("")), fullEnv.DASHBOARD_TOKEN)
      assert.deepStrictEqual(config.network.upstream_overrides, { "api.anthropic.com": "10.89.0.1:8443" })
      assert.strictEqual(config.container.socket, "/run/airut-test/podman.sock")
      assert.strictEqual(app.email?.imap.port, 993)
      assert.strictEqual(app.email?.imap.poll_interval, 0.5)
      assert.strictEqual(app.email?.imap.use_idle, true)
      assert.strictEqual(app.email?.smtp.require_auth, true)
      assert.strictEqual(app.email?.auth.verify_locally, false)
      assert.strictEqual(
        Redacted.value(app.email?.account.password ?? Redacted.make("")),
        fullEnv.MAIL_PASSWORD,
      )
      assert.deepStrictEqual(app.slack?.authorized, [
        { workspace_members: true },
        { user_group: "engineering" },
        { user_id: "U0123ABCD" },
      ])
      assert.deepStrictEqual(app.masked_secrets.GH_TOKEN?.headers, ["Authorization"])
      assert.strictEqual(app.masked_secrets.GH_TOKEN?.allow_foreign_credentials, false)
      assert.strictEqual(app.github_app_credentials.GITHUB_TOKEN?.base_url, "https://api.github.com")
      assert.deepStrictEqual(app.resource_limits, { timeout: 1800, memory: "4g", cpus: 2, pids_limit: 512 })
      assert.strictEqual(app.schedules.nightly?.output_limit, 102400)
      assert.strictEqual(app.schedules.nightly?.enable, true)
      assert.strictEqual(app.schedules.nightly?.deliver.channel, "email")
      // vars are applied, then dropped from the effective config
      assert.isUndefined(config.vars)
      // secrets never show when the config is printed or serialised
      assert.notInclude(JSON.stringify(config), fullEnv.MAIL_PASSWORD)
      assert.notInclude(String(app.email?.account.password), fullEnv.MAIL_PASSWORD)
    }),
  )

  it.effect("an empty file is the defaults: dashboard on loopback, no repositories", () =>
    Effect.gen(function* () {
      const config = yield* decode("# nothing yet\n")
      assert.deepStrictEqual(config, defaultServerConfig)
      assert.deepStrictEqual(defaultServerConfig.repos, {})
      assert.strictEqual(defaultServerConfig.dashboard.host, "127.0.0.1")
      assert.strictEqual(defaultServerConfig.dashboard.port, 5200)
      assert.strictEqual(defaultServerConfig.execution.max_concurrent, 3)
      assert.strictEqual(defaultServerConfig.container.image_prefix, "airut")
    }),
  )

  it.effect("defaults per repository: model, claude version, container path, sandbox on", () =>
    Effect.gen(function* () {
      const config = yield* decode(repoWith(""))
      const app = config.repos.app
      assert.strictEqual(app?.model, "opus")
      assert.strictEqual(app?.claude_version, "2.1.330")
      assert.strictEqual(app?.container_path, ".airut/container")
      assert.strictEqual(app?.network.sandbox_enabled, true)
      assert.isUndefined(app?.effort)
    }),
  )

  it.effect("wrong type and out of range, each at its path", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(decode("dashboard:\n  port: abc\nexecution:\n  max_concurrent: 0\n"))
      assert.strictEqual(
        messageAt(issues, "dashboard.port"),
        'expected an integer from 1 to 65535, got "abc"',
      )
      assert.strictEqual(
        messageAt(issues, "execution.max_concurrent"),
        "expected an integer of at least 1, got 0",
      )
      const range = yield* issuesOf(
        decode(repoWith("    model: 5\n").replace("imap.example.com }", "imap.example.com, port: 70000 }")),
      )
      assert.strictEqual(
        messageAt(range, "repos.app.email.imap.port"),
        "expected an integer from 1 to 65535, got 70000",
      )
      assert.strictEqual(messageAt(range, "repos.app.model"), "expected a non-empty string, got 5")
    }),
  )

  it.effect("missing required keys", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(
        decode("repos:\n  app:\n    slack: { app_token: xapp-1, authorized: [] }\n"),
      )
      assert.strictEqual(messageAt(issues, "repos.app.repo_url"), "required, but missing")
      assert.strictEqual(messageAt(issues, "repos.app.slack.bot_token"), "required, but missing")
      assert.strictEqual(
        messageAt(issues, "repos.app.slack.authorized"),
        "expected a non-empty list of rules, got an empty list",
      )
    }),
  )

  it.effect("unknown keys are errors, and a typo of a security key says what it meant", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(
        decode(
          repoWith(`    network:
      sandbox_enabeld: false
    masked_secrets:
      GH_TOKEN:
        value: x
        scopes: [api.github.com]
        allow_foreign_credential: true
    colour: blue
`),
        ),
      )
      assert.strictEqual(
        messageAt(issues, "repos.app.network.sandbox_enabeld"),
        'unknown key (did you mean "sandbox_enabled"?)',
      )
      assert.strictEqual(
        messageAt(issues, "repos.app.masked_secrets.GH_TOKEN.allow_foreign_credential"),
        'unknown key (did you mean "allow_foreign_credentials"?)',
      )
      assert.match(
        messageAt(issues, "repos.app.colour") ?? "",
        /^unknown key; allowed keys: repo_url, email, /,
      )
    }),
  )

  it.effect("bad enum values and switches other than true/false", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(
        decode(repoWith("    effort: extreme\n    network: { sandbox_enabled: no }\n")),
      )
      assert.strictEqual(
        messageAt(issues, "repos.app.effort"),
        'expected one of "low", "medium", "high", "xhigh", "max", got "extreme"',
      )
      assert.strictEqual(
        messageAt(issues, "repos.app.network.sandbox_enabled"),
        'expected true or false, got "no"',
      )
    }),
  )

  it.effect("a schedule needs exactly one of prompt and trigger_command", () =>
    Effect.gen(function* () {
      const both = yield* issuesOf(
        decode(
          repoWith(`    schedules:
      both:
        cron: "0 7 * * *"
        deliver: { to: me@example.com }
        prompt: hello
        trigger_command: ./check.sh
      neither:
        cron: "0 7 * * *"
        deliver: { to: me@example.com }
`),
        ),
      )
      assert.strictEqual(
        messageAt(both, "repos.app.schedules.both.trigger_command"),
        "give either prompt or trigger_command, not both",
      )
      assert.strictEqual(
        messageAt(both, "repos.app.schedules.neither"),
        "needs prompt or trigger_command (exactly one)",
      )
    }),
  )

  it.effect("a repository needs a channel; email delivery needs the email channel", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(
        decode(`repos:
  lonely:
    repo_url: https://github.com/example/lonely.git
  slacky:
    repo_url: https://github.com/example/slacky.git
    slack: { bot_token: xoxb-1, app_token: xapp-1, authorized: [{ user_id: U01 }] }
    schedules:
      daily: { cron: "0 7 * * *", deliver: { to: me@example.com }, prompt: hi }
`),
      )
      assert.strictEqual(
        messageAt(issues, "repos.lonely"),
        "no channel: add an email or a slack section (or both)",
      )
      assert.strictEqual(
        messageAt(issues, "repos.slacky.schedules.daily.deliver.channel"),
        "delivers by email, but this repository has no email section",
      )
    }),
  )

  it.effect("more checks across keys: dashboard token off loopback, shared mailbox, clashing variables", () =>
    Effect.gen(function* () {
      const dashboard = yield* issuesOf(decode("dashboard:\n  host: 0.0.0.0\n"))
      assert.match(
        messageAt(dashboard, "dashboard.token") ?? "",
        /^required when the dashboard listens on 0\.0\.0\.0/,
      )

      const second = repoWith("").replace("repos:\n", "").replace("  app:", "  other:")
      const shared = yield* issuesOf(decode(repoWith("") + second))
      assert.strictEqual(
        messageAt(shared, "repos.other.email.account.username"),
        "the same mailbox is used by repos.app; give each repository its own",
      )

      const clash = yield* issuesOf(
        decode(
          repoWith(
            "    secrets: { GH_TOKEN: a }\n    masked_secrets: { GH_TOKEN: { value: b, scopes: [x.com] } }\n",
          ),
        ),
      )
      assert.strictEqual(
        messageAt(clash, "repos.app.masked_secrets.GH_TOKEN"),
        "environment variable GH_TOKEN is already defined in secrets",
      )
    }),
  )

  it.effect("reports every problem at once, in file order", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(
        decode(`execution: { max_concurrent: -1, shutdown_timeout: soon }
dashboard: { port: 0, enabled: maybe }
typo_section: {}
repos:
  app:
    repo_url: ""
    effort: lots
    container_path: /etc
    claude_version: latest
    slack: { bot_token: xoxb-1, app_token: xapp-1, authorized: [{ user_grp: x }], allowed_channels: [general] }
`),
      )
      assert.deepStrictEqual(
        issues.map((i) => i.path),
        [
          "execution.max_concurrent",
          "execution.shutdown_timeout",
          "dashboard.port",
          "dashboard.enabled",
          "typo_section",
          "repos.app.repo_url",
          "repos.app.effort",
          "repos.app.container_path",
          "repos.app.claude_version",
          "repos.app.slack.authorized[0]",
          "repos.app.slack.allowed_channels[0]",
        ],
      )
    }),
  )

  it.effect("messages and the formatted error never echo a secret", () =>
    Effect.gen(function* () {
      const secret = "hunter2-secret-value"
      const error = yield* decode(
        repoWith(`    secrets:
      NUMERIC: 424242
    masked_secrets:
      GH_TOKEN: ${secret}
    slack: { bot_token: ${secret}, app_token: xapp-1, authorized: [{ workspace_members: true }] }
`),
      ).pipe(Effect.flip)
      const text = formatConfigInvalid(error)
      assert.include(text, "repos.app.masked_secrets.GH_TOKEN: expected a mapping, got a string")
      assert.include(text, "repos.app.slack.bot_token: expected a Slack bot token (xoxb-...), got a string")
      assert.include(text, "repos.app.secrets.NUMERIC: expected a non-empty string, got a number")
      assert.notInclude(text, secret)
      assert.notInclude(text, "424242")
      assert.notInclude(error.message, secret)
    }),
  )

  it.effect("formatConfigInvalid puts the file on top and one issue per line", () =>
    Effect.gen(function* () {
      const error = yield* decode("dashboard: { port: abc }\nbogus: 1\n").pipe(Effect.flip)
      assert.strictEqual(
        formatConfigInvalid(error),
        [
          "airut.yaml: 2 problems",
          '  dashboard.port: expected an integer from 1 to 65535, got "abc"',
          "  bogus: unknown key; allowed keys: config_version, vars, state_dir, execution, dashboard, network, container, repos",
        ].join("\n"),
      )
    }),
  )
})

describe("!env and !var", () => {
  it.effect("!env reads the environment; numbers and switches work from strings", () =>
    Effect.gen(function* () {
      const config = yield* decode("dashboard:\n  port: !env PORT\n  enabled: !env ON\n").pipe(
        withEnv({ PORT: "8081", ON: "false" }),
      )
      assert.strictEqual(config.dashboard.port, 8081)
      assert.strictEqual(config.dashboard.enabled, false)
    }),
  )

  it.effect("!env falls back to .env values, and the environment wins", () =>
    Effect.gen(function* () {
      const text = "state_dir: !env STATE\nrepos: {}\ndashboard: { base_url: !env URL }\n"
      const config = yield* decode(text, { STATE: "/from/dotenv", URL: "https://dotenv.example.com" }).pipe(
        withEnv({ STATE: "/from/env" }),
      )
      assert.strictEqual(config.state_dir, "/from/env")
      assert.strictEqual(config.dashboard.base_url, "https://dotenv.example.com")
    }),
  )

  it.effect("a missing variable names the variable and the path, once", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(
        decode(
          repoWith("").replace(
            "from: a@example.com }",
            "from: a@example.com, password: !env MAIL_PASSWORD }",
          ),
        ).pipe(withEnv({})),
      )
      assert.deepStrictEqual(issues, [
        {
          path: "repos.app.email.account.password",
          message:
            "environment variable MAIL_PASSWORD is not set (used with !env; set it or add it to the .env file)",
        },
      ])
    }),
  )

  it.effect("!env values never appear in messages", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(
        decode("dashboard:\n  host: !env HOST\n  port: !env PORT\n").pipe(
          withEnv({ HOST: "0.0.0.0", PORT: "not-a-port-secret" }),
        ),
      )
      assert.strictEqual(
        messageAt(issues, "dashboard.port"),
        "expected an integer from 1 to 65535, got <redacted>",
      )
    }),
  )

  it.effect("!var substitutes scalars from vars", () =>
    Effect.gen(function* () {
      const config = yield* decode(
        "vars:\n  n: 7\n  dir: !env DIR\nexecution:\n  max_concurrent: !var n\nstate_dir: !var dir\n",
      ).pipe(withEnv({ DIR: "/srv/airut" }))
      assert.strictEqual(config.execution.max_concurrent, 7)
      assert.strictEqual(config.state_dir, "/srv/airut")
    }),
  )

  it.effect("!var problems: unknown name, non-scalar value, a var pointing at a var", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(
        decode(`vars:
  limits: { memory: 4g }
  alias: !var other
execution:
  max_concurrent: !var nope
  shutdown_timeout: !var limits
`),
      )
      assert.strictEqual(
        messageAt(issues, "execution.max_concurrent"),
        'unknown variable "nope" (define it under vars:)',
      )
      assert.strictEqual(
        messageAt(issues, "vars.limits"),
        "variables hold single values (a string, number or boolean), got a mapping with key memory",
      )
      assert.strictEqual(
        messageAt(issues, "execution.shutdown_timeout"),
        'variable "limits" has a problem (see vars.limits)',
      )
      assert.strictEqual(
        messageAt(issues, "vars.alias"),
        "a variable cannot refer to another variable (!var)",
      )
    }),
  )

  it.effect("YAML syntax errors give line and column, without the source line", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(decode("dashboard:\n  port: 1\n  port: 2\nrepos: [\n"))
      assert.isAbove(issues.length, 0)
      assert.match(issues[0]?.message ?? "", /^YAML syntax: line \d+, column \d+: /)
      const secretLine = yield* issuesOf(decode("repos:\n  app: { password: s3cr3t-value: x }\n"))
      assert.notInclude(formatConfigInvalid({ file: "f", issues: secretLine }), "s3cr3t-value")
      const tag = yield* issuesOf(decode("state_dir: !secret x\n"))
      assert.match(
        tag[0]?.message ?? "",
        /line 1, column 12: .*!secret.*supported tags: !env NAME and !var NAME/,
      )
    }),
  )
})
