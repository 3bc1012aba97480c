import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it, vi } from "@effect/vitest"
import { Cause, Effect, Layer, Logger, Redacted } from "effect"
import { ConfigLoaderLive } from "../../src/layers/ConfigLoaderLive.js"
import { makeRedactingLogger, RedactingLogger } from "../../src/layers/RedactingLogger.js"
import { SecretRedactorLive } from "../../src/layers/SecretRedactorLive.js"
import { defaultServerConfig } from "../../src/schema/ServerConfig.js"
import { ConfigLoader, formatConfigInvalid } from "../../src/services/ConfigLoader.js"
import { SecretRedactor } from "../../src/services/SecretRedactor.js"
import { withEnv } from "./helpers.js"

const TestLayer = ConfigLoaderLive.pipe(
  Layer.provideMerge(SecretRedactorLive),
  Layer.provideMerge(NodeContext.layer),
)

const mailPassword = "correct-horse-battery-staple"
const slackToken = "xoxb-2024-real-slack-token"

const configText = `repos:
  app:
    repo_url: https://github.com/example/app.git
    email:
      account: { username: a@example.com, from: a@example.com, password: !env MAIL_PASSWORD }
      imap: { server: imap.example.com }
      smtp: { server: smtp.example.com }
      auth: { authorized_senders: [me@example.com], trusted_authserv_id: mx.example.com }
    slack:
      bot_token: !env SLACK_BOT_TOKEN
      app_token: xapp-literal-app-token
      authorized: [{ workspace_members: true }]
    masked_secrets:
      GH_TOKEN: { value: ghp_maskedRealValue123, scopes: [api.github.com] }
`

/** Writes files into a fresh temporary directory and returns the config path. */
const writeConfig = (files: Readonly<Record<string, string>>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped()
    for (const [name, text] of Object.entries(files)) yield* fs.writeFileString(path.join(dir, name), text)
    return path.join(dir, "airut.yaml")
  })

/** Captures what loggers write to the console while the scope is open. */
const captureConsole = Effect.gen(function* () {
  const lines: Array<string> = []
  const spy = vi.spyOn(globalThis.console, "log").mockImplementation((...args: Array<unknown>) => {
    lines.push(args.map(String).join(" "))
  })
  yield* Effect.addFinalizer(() => Effect.sync(() => spy.mockRestore()))
  return lines
})

describe("ConfigLoader", () => {
  it.scoped("a missing file gives the defaults, marked as not existing", () =>
    Effect.gen(function* () {
      const file = yield* writeConfig({})
      const loaded = yield* (yield* ConfigLoader).load(file)
      assert.strictEqual(loaded.exists, false)
      assert.strictEqual(loaded.file, file)
      assert.deepStrictEqual(loaded.config, defaultServerConfig)
      assert.deepStrictEqual(loaded.secrets, [])
    }).pipe(Effect.provide(TestLayer)),
  )

  it.scoped("reads !env from the environment, then from .env beside the file", () =>
    Effect.gen(function* () {
      const file = yield* writeConfig({
        "airut.yaml": configText,
        ".env": `MAIL_PASSWORD=from-dotenv-password\nSLACK_BOT_TOKEN=${slackToken}\n`,
      })
      const loaded = yield* (yield* ConfigLoader).load(file).pipe(withEnv({ MAIL_PASSWORD: mailPassword }))
      assert.strictEqual(loaded.exists, true)
      const app = loaded.config.repos.app
      assert.strictEqual(Redacted.value(app?.email?.account.password ?? Redacted.make("")), mailPassword)
      assert.strictEqual(Redacted.value(app?.slack?.bot_token ?? Redacted.make("")), slackToken)
    }).pipe(Effect.provide(TestLayer)),
  )

  it.scoped("collects every secret and registers it with the redactor", () =>
    Effect.gen(function* () {
      const file = yield* writeConfig({ "airut.yaml": configText })
      const loaded = yield* (yield* ConfigLoader)
        .load(file)
        .pipe(withEnv({ MAIL_PASSWORD: mailPassword, SLACK_BOT_TOKEN: slackToken }))
      assert.sameMembers(loaded.secrets.map(Redacted.value), [
        mailPassword,
        slackToken,
        "xapp-literal-app-token",
        "ghp_maskedRealValue123",
      ])
      const redactor = yield* SecretRedactor
      assert.strictEqual(
        redactor.redact(`login ${mailPassword} then ${slackToken}; mask ghp_maskedRealValue123`),
        "login <redacted> then <redacted>; mask <redacted>",
      )
    }).pipe(Effect.provide(TestLayer)),
  )

  it.scoped("a secret from the config never reaches a log line", () =>
    Effect.gen(function* () {
      const lines = yield* captureConsole
      const file = yield* writeConfig({ "airut.yaml": configText })
      yield* (yield* ConfigLoader)
        .load(file)
        .pipe(withEnv({ MAIL_PASSWORD: mailPassword, SLACK_BOT_TOKEN: slackToken }))
      yield* Effect.gen(function* () {
        yield* Effect.log(`connecting with password ${mailPassword}`)
        yield* Effect.logInfo("token").pipe(Effect.annotateLogs("slack", slackToken))
        yield* Effect.logError("send failed", Cause.fail(new Error(`401 for ${slackToken}`)))
      }).pipe(Effect.provide(RedactingLogger))
      assert.strictEqual(lines.length, 3)
      for (const line of lines) {
        assert.notInclude(line, mailPassword)
        assert.notInclude(line, slackToken)
        assert.include(line, "<redacted>")
      }
      assert.include(lines[0] ?? "", "connecting with password <redacted>")
    }).pipe(Effect.provide(TestLayer)),
  )

  it.scoped("the capture sees secrets when nothing redacts them (so the test above can fail)", () =>
    Effect.gen(function* () {
      const lines = yield* captureConsole
      yield* Effect.log(`password ${mailPassword}`).pipe(
        Effect.provide(
          Logger.replace(
            Logger.defaultLogger,
            makeRedactingLogger((line) => line),
          ),
        ),
      )
      assert.include(lines[0] ?? "", mailPassword)
    }),
  )

  it.scoped("an invalid file fails with every issue and never shows the secrets", () =>
    Effect.gen(function* () {
      const file = yield* writeConfig({
        "airut.yaml": `${configText.replace("imap.example.com }", "imap.example.com, port: 99999 }")}extra: 1\n`,
      })
      const error = yield* (yield* ConfigLoader)
        .load(file)
        .pipe(withEnv({ MAIL_PASSWORD: mailPassword, SLACK_BOT_TOKEN: "not-a-bot-token" }), Effect.flip)
      assert.strictEqual(error._tag, "ConfigInvalid")
      if (error._tag !== "ConfigInvalid") return
      const text = formatConfigInvalid(error)
      assert.include(text, `${file}: 3 problems`)
      assert.include(text, "repos.app.email.imap.port: expected an integer from 1 to 65535, got 99999")
      assert.include(text, "repos.app.slack.bot_token: expected a Slack bot token (xoxb-...), got a string")
      assert.include(text, "extra: unknown key")
      assert.notInclude(text, "not-a-bot-token")
      assert.notInclude(text, mailPassword)
    }).pipe(Effect.provide(TestLayer)),
  )

  it.scoped("a path that cannot be read is ConfigUnreadable", () =>
    Effect.gen(function* () {
      const file = yield* writeConfig({})
      const path = yield* Path.Path
      const error = yield* (yield* ConfigLoader).load(path.dirname(file)).pipe(Effect.flip)
      assert.strictEqual(error._tag, "ConfigUnreadable")
    }).pipe(Effect.provide(TestLayer)),
  )
})
