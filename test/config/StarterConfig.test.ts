import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { decodeServerConfigText, defaultServerConfig } from "../../src/schema/ServerConfig.js"
import { exampleRepoEnd, exampleRepoStart, starterConfig } from "../../src/schema/StarterConfig.js"
import { withEnv } from "./helpers.js"

/** The starter with its example repository uncommented, as the comment tells the reader to do. */
const withExample = (): string => {
  const lines = starterConfig.split("\n")
  const start = lines.indexOf(exampleRepoStart)
  const end = lines.indexOf(exampleRepoEnd)
  const example = lines.slice(start + 1, end).map((line) => line.replace(/^# ?/, ""))
  return [...lines.slice(0, start).filter((line) => line !== "repos: {}"), ...example].join("\n")
}

describe("StarterConfig", () => {
  it.effect("decodes as written, to the defaults", () =>
    Effect.gen(function* () {
      const { value } = yield* decodeServerConfigText(starterConfig, "airut.yaml").pipe(withEnv({}))
      assert.deepStrictEqual(value, defaultServerConfig)
    }),
  )

  it.effect("its example repository decodes once uncommented", () =>
    Effect.gen(function* () {
      const text = withExample()
      assert.include(text, "\nrepos:\n  my-app:\n")
      const { value } = yield* decodeServerConfigText(text, "airut.yaml").pipe(
        withEnv({ MY_APP_MAIL_PASSWORD: "mail-password", ANTHROPIC_API_KEY: "sk-ant-example" }),
      )
      const app = value.repos["my-app"]
      assert.isDefined(app)
      assert.strictEqual(app?.resource_limits.timeout, 3600)
      assert.deepStrictEqual(app?.masked_secrets.ANTHROPIC_API_KEY?.headers, ["x-api-key"])
      assert.deepStrictEqual(app?.email?.auth.authorized_senders, ["you@example.com"])
    }),
  )
})
