import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { decodeNetworkAllowlist } from "../../src/schema/NetworkAllowlist.js"
import { decodeSandboxFile } from "../../src/schema/SandboxFile.js"
import { issuesOf, messageAt, withEnv } from "./helpers.js"

describe("network-allowlist.yaml", () => {
  it.effect("decodes domains and url prefixes; methods are upper-cased", () =>
    Effect.gen(function* () {
      const allowlist = yield* decodeNetworkAllowlist(`domains:
  - registry.npmjs.org
  - "*.pages.dev"
url_prefixes:
  - host: api.anthropic.com
    path: /v1/messages*
    methods: [post]
  - host: api.github.com
    path: /graphql
    methods: [POST]
    graphql:
      queries: [repository, viewer]
      mutations: ["createPullRequest*"]
  - host: uploads.github.com
    path: /repos/example/app/*
`)
      assert.deepStrictEqual(allowlist.domains, ["registry.npmjs.org", "*.pages.dev"])
      assert.deepStrictEqual(allowlist.url_prefixes[0], {
        host: "api.anthropic.com",
        path: "/v1/messages*",
        methods: ["POST"],
      })
      assert.deepStrictEqual(allowlist.url_prefixes[1]?.graphql?.mutations, ["createPullRequest*"])
      assert.isUndefined(allowlist.url_prefixes[2]?.methods)
    }),
  )

  it.effect("an empty file allows nothing", () =>
    Effect.gen(function* () {
      const allowlist = yield* decodeNetworkAllowlist("")
      assert.deepStrictEqual(allowlist, { domains: [], url_prefixes: [] })
    }),
  )

  it.effect("reports bad entries by path, with the file name", () =>
    Effect.gen(function* () {
      const error = yield* decodeNetworkAllowlist(`domains: ["bad host", ok.example.com]
url_prefixes:
  - host: api.github.com
    path: repos/*
    method: [GET]
  - host: api.github.com
    path: /x
    methods: []
`).pipe(Effect.flip)
      assert.strictEqual(error.file, ".airut/network-allowlist.yaml")
      const issues = error.issues
      assert.match(messageAt(issues, "domains[0]") ?? "", /^expected a host name or pattern/)
      assert.strictEqual(
        messageAt(issues, "url_prefixes[0].path"),
        'expected a path pattern starting with / (use * as a wildcard), got "repos/*"',
      )
      assert.strictEqual(messageAt(issues, "url_prefixes[0].method"), 'unknown key (did you mean "methods"?)')
      assert.strictEqual(
        messageAt(issues, "url_prefixes[1].methods"),
        "expected a non-empty list of HTTP methods, got an empty list",
      )
    }),
  )

  it.effect("!env cannot pull host values into a repository file", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(
        decodeNetworkAllowlist("domains: [!env HOME]\n").pipe(withEnv({ HOME: "/root" })),
      )
      assert.deepStrictEqual(issues, [{ path: "domains[0]", message: "!env is not available in this file" }])
    }),
  )
})

describe("sandbox.yaml", () => {
  const env = {
    GH_TOKEN: "ghp_fromTheCiEnvironment",
    AWS_ACCESS_KEY_ID: "AKIAEXAMPLEEXAMPLE00",
    AWS_SECRET_ACCESS_KEY: "aws-secret-from-ci",
  }

  it.effect("decodes env, pass_env, masked and signing credentials (names kept from !env)", () =>
    Effect.gen(function* () {
      const sandbox = yield* decodeSandboxFile(`env:
  CI: true
  RETRIES: 3
  MODE: fast
pass_env: [GITHUB_SHA]
masked_secrets:
  GH_TOKEN:
    value: !env GH_TOKEN
    scopes: [api.github.com]
signing_credentials:
  s3:
    type: aws-sigv4
    access_key_id: !env AWS_ACCESS_KEY_ID
    secret_access_key: !env AWS_SECRET_ACCESS_KEY
    scopes: ["*.amazonaws.com"]
resource_limits:
  timeout: 600
`).pipe(withEnv(env))
      assert.deepStrictEqual(sandbox.env, { CI: "true", RETRIES: "3", MODE: "fast" })
      assert.deepStrictEqual(sandbox.pass_env, ["GITHUB_SHA"])
      assert.strictEqual(
        Redacted.value(sandbox.masked_secrets.GH_TOKEN?.value ?? Redacted.make("")),
        env.GH_TOKEN,
      )
      const s3 = sandbox.signing_credentials.s3
      assert.strictEqual(s3?.access_key_id.name, "AWS_ACCESS_KEY_ID")
      assert.strictEqual(Redacted.value(s3?.access_key_id.value ?? Redacted.make("")), env.AWS_ACCESS_KEY_ID)
      assert.strictEqual(s3?.secret_access_key.name, "AWS_SECRET_ACCESS_KEY")
      assert.strictEqual(sandbox.network_sandbox, true)
      assert.deepStrictEqual(sandbox.resource_limits, { timeout: 600 })
    }),
  )

  it.effect("a secret written into the file itself is refused, without echoing it", () =>
    Effect.gen(function* () {
      const error = yield* decodeSandboxFile(`masked_secrets:
  GH_TOKEN:
    value: ghp_committedByMistake
    scopes: [api.github.com]
signing_credentials:
  s3:
    type: aws-sigv4
    access_key_id: AKIACOMMITTED0000000
    secret_access_key: !env AWS_SECRET_ACCESS_KEY
    scopes: [s3.amazonaws.com]
`).pipe(withEnv(env), Effect.flip)
      const message =
        "write it as !env NAME: a secret in the repository is readable by everyone who can read it"
      assert.deepStrictEqual(error.issues, [
        { path: "masked_secrets.GH_TOKEN.value", message },
        { path: "signing_credentials.s3.access_key_id", message },
      ])
      assert.notInclude(error.message, "ghp_committedByMistake")
      assert.notInclude(error.message, "AKIACOMMITTED")
    }),
  )

  it.effect("a variable missing from the environment fails closed, naming it", () =>
    Effect.gen(function* () {
      const issues = yield* issuesOf(
        decodeSandboxFile(
          "masked_secrets:\n  T: { value: !env NOT_SET_IN_CI, scopes: [x.com] }\nnetwork_sandbox: off\n",
        ).pipe(withEnv({})),
      )
      assert.deepStrictEqual(issues, [
        {
          path: "masked_secrets.T.value",
          message:
            "environment variable NOT_SET_IN_CI is not set (used with !env; set it or add it to the .env file)",
        },
        { path: "network_sandbox", message: 'expected true or false, got "off"' },
      ])
    }),
  )
})
