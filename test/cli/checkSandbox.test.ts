import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { runAirut } from "./support.js"

const freshHome = () => {
  const home = mkdtempSync(join(tmpdir(), "airut-cli-"))
  return { home, env: { HOME: home }, configFile: join(home, ".config", "airut", "airut.yaml") }
}

/** A config with two repositories, one with the sandbox off and a masked secret, on `socket`. */
const sandboxConfig = (socket: string) =>
  [
    "container:",
    `  socket: ${socket}`,
    "network:",
    "  upstream_overrides:",
    "    api.anthropic.com: 10.89.0.1:8443",
    "repos:",
    ...["app", "legacy"].flatMap((id) => [
      `  ${id}:`,
      `    repo_url: https://example.com/${id}.git`,
      "    email:",
      `      account: { username: ${id}@example.com, from: ${id}@example.com, password: pw }`,
      "      imap: { server: imap.example.com }",
      "      smtp: { server: smtp.example.com }",
      "      auth: { authorized_senders: [me@example.com], trusted_authserv_id: mx.example.com }",
      ...(id === "legacy"
        ? [
            "    network: { sandbox_enabled: false }",
            "    masked_secrets:",
            "      GH_TOKEN: { value: ghp_abcdefghijklmnopqrstuvwxyz0123456789, scopes: [api.github.com] }",
          ]
        : []),
    ]),
    "",
  ].join("\n")

describe("airut check: network sandbox", () => {
  it.live("warns loudly about repositories without the sandbox and upstream overrides", () =>
    Effect.gen(function* () {
      const { home, env, configFile } = freshHome()
      yield* runAirut(["init"], env)
      writeFileSync(configFile, sandboxConfig(join(home, "no-engine.sock")))
      const run = yield* runAirut(["check"], env)
      assert.match(
        run.out,
        /^WARN {2}sandbox {4}repository legacy runs WITHOUT the network sandbox .*1 masked, signing or GitHub App credential\(s\).* will not work/m,
      )
      assert.notInclude(run.out, "repository app runs")
      assert.match(run.out, /^WARN {2}overrides .*api\.anthropic\.com -> 10\.89\.0\.1:8443/m)
      assert.notInclude(run.out, "ghp_abcdefghijklmnopqrstuvwxyz0123456789")
    }),
  )

  it.live("does not probe isolation when the engine does not answer, and fails that check", () =>
    Effect.gen(function* () {
      const { home, env, configFile } = freshHome()
      yield* runAirut(["init"], env)
      writeFileSync(configFile, `container:\n  socket: ${join(home, "no-engine.sock")}\n`)
      const run = yield* runAirut(["check"], env)
      assert.include(run.failure, "ChecksFailed")
      assert.match(run.out, /^FAIL {2}isolation {2}not checked: the container engine did not answer/m)
    }),
  )
})
