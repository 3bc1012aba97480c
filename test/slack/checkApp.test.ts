import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { checkSlackApp } from "../../src/layers/slack/checkApp.js"
import type { SlackConfig } from "../../src/schema/ServerConfig.js"
import { appToken, botToken, botUserId, makeFakeSlack, teamId } from "../support/FakeSlack.js"

const configOf = (apiUrl: string, bot: string, app: string): SlackConfig => ({
  bot_token: Redacted.make(bot),
  app_token: Redacted.make(app),
  authorized: [{ workspace_members: true }],
  allowed_channels: [],
  // Without the trailing slash on purpose: the check adds it as the channel does.
  api_url: apiUrl.replace(/\/$/, ""),
})

describe("airut check: the Slack app", () => {
  it.scopedLive("names the bot and the workspace when both tokens work", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeSlack()
      const detail = yield* checkSlackApp(configOf(fake.apiUrl, botToken, appToken))
      assert.include(detail, `(${botUserId})`)
      assert.include(detail, `(${teamId})`)
      assert.include(detail, "Socket Mode allowed")
      const methods = (yield* fake.calls).map((c) => c.method)
      assert.deepStrictEqual(methods, ["auth.test", "apps.connections.open"])
      // Only a URL was handed out: nothing connected.
      assert.strictEqual((yield* fake.connections).opened, 0)
    }),
  )

  it.scopedLive("says which token was refused", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeSlack()
      const badBot = yield* Effect.either(checkSlackApp(configOf(fake.apiUrl, "xoxb-wrong", appToken)))
      assert.include(Either.isLeft(badBot) ? badBot.left : "", "the bot token was refused")
      const badApp = yield* Effect.either(checkSlackApp(configOf(fake.apiUrl, botToken, "xapp-wrong")))
      const why = Either.isLeft(badApp) ? badApp.left : ""
      assert.include(why, "the app-level token cannot open Socket Mode")
      assert.include(why, "invalid_auth")
    }),
  )
})
