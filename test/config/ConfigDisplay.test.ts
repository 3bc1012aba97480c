import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { parse } from "yaml"
import { renderConfig } from "../../src/schema/ConfigDisplay.js"
import { secretValues } from "../../src/schema/SecretValues.js"
import { decodeServerConfigText, defaultServerConfig } from "../../src/schema/ServerConfig.js"
import { withEnv } from "./helpers.js"

const text = `dashboard: { host: 0.0.0.0, token: !env DASHBOARD_TOKEN }
repos:
  app:
    repo_url: https://github.com/example/app.git
    model: !env MODEL
    slack:
      bot_token: xoxb-literal-bot-token
      app_token: xapp-literal-app-token
      authorized: [{ workspace_members: true }]
    secrets: { PLAIN: plain-secret-value }
    github_app_credentials:
      GH_TOKEN:
        app_id: 123456
        private_key: "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----"
        installation_id: 42
        scopes: [api.github.com]
`

const env = { DASHBOARD_TOKEN: "dashboard-token-abcdefgh", MODEL: "dashboard-token-abcdefgh-as-model" }

describe("ConfigDisplay", () => {
  it.effect("shows the effective values, with every secret as <redacted>", () =>
    Effect.gen(function* () {
      const { value: config } = yield* decodeServerConfigText(text, "airut.yaml").pipe(withEnv(env))
      const shown = renderConfig(config)
      for (const secret of [
        "dashboard-token-abcdefgh",
        "xoxb-literal",
        "xapp-literal",
        "plain-secret",
        "MIIEvQ",
      ]) {
        assert.notInclude(shown.replace(env.MODEL, ""), secret)
      }
      const back = parse(shown)
      assert.strictEqual(back.dashboard.token, "<redacted>")
      assert.strictEqual(back.repos.app.slack.bot_token, "<redacted>")
      assert.strictEqual(back.repos.app.secrets.PLAIN, "<redacted>")
      assert.strictEqual(back.repos.app.github_app_credentials.GH_TOKEN.private_key, "<redacted>")
      // non-secret values and defaults are shown
      assert.strictEqual(back.repos.app.github_app_credentials.GH_TOKEN.app_id, "123456")
      assert.strictEqual(back.repos.app.claude_version, "2.1.330")
      assert.strictEqual(back.execution.max_concurrent, 3)
      assert.strictEqual(back.dashboard.host, "0.0.0.0")
    }),
  )

  it.effect("given the known secrets, also hides one reused in a field that is not secret", () =>
    Effect.gen(function* () {
      const { value: config } = yield* decodeServerConfigText(text, "airut.yaml").pipe(withEnv(env))
      assert.include(renderConfig(config), env.MODEL)
      const shown = renderConfig(config, { secrets: secretValues(config) })
      assert.notInclude(shown, "dashboard-token-abcdefgh")
      assert.strictEqual(parse(shown).repos.app.model, "<redacted>")
    }),
  )

  it("renders the defaults", () => {
    const back = parse(renderConfig(defaultServerConfig))
    assert.deepStrictEqual(back, JSON.parse(JSON.stringify(defaultServerConfig)))
  })
})
