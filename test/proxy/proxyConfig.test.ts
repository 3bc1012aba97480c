import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import { NetworkAllowlist } from "../../src/schema/NetworkAllowlist.js"
import { decodeNetworkLogLine, type NetworkLogLineJson } from "../../src/schema/NetworkLogLine.js"
import {
  caTrustEnv,
  decodeProxyConfigJson,
  encodeProxyConfigJson,
  type ProxyConfig,
} from "../../src/schema/ProxyConfig.js"

const config: ProxyConfig = {
  version: 1,
  dns: { listen: { host: "0.0.0.0", port: 53 }, answer: "10.199.3.100" },
  http: { host: "0.0.0.0", port: 80 },
  https: { host: "0.0.0.0", port: 443 },
  ca: {
    certPem: "-----BEGIN CERTIFICATE-----\n...",
    keyPem: Redacted.make("-----BEGIN PRIVATE KEY-----\nkey"),
  },
  allowlist: Schema.decodeUnknownSync(NetworkAllowlist)({
    domains: ["api.anthropic.com"],
    url_prefixes: [
      { host: "api.github.com", path: "/graphql", methods: ["post"], graphql: { queries: ["viewer"] } },
    ],
  }),
  maskedSecrets: [
    {
      name: "GH_TOKEN",
      surrogate: "ghp_surrogate",
      value: Redacted.make("ghp_realvalue"),
      scopes: ["api.github.com"],
      headers: ["Authorization"],
      allowForeignCredentials: false,
    },
  ],
  signingCredentials: [
    {
      name: "aws",
      scopes: ["*.amazonaws.com"],
      accessKeyId: { surrogate: "AKIASURROGATE", value: Redacted.make("AKIAREAL") },
      secretAccessKey: Redacted.make("real-secret"),
    },
  ],
  upstreamOverrides: { "api.anthropic.com": "10.89.0.1:8443" },
}

describe("the proxy's config file", () => {
  it.effect("round-trips through JSON with the real values in the file and Redacted once decoded", () =>
    Effect.gen(function* () {
      const json = yield* encodeProxyConfigJson(config)
      assert.include(json, "ghp_realvalue")
      assert.include(json, '"methods":["POST"]')
      const back = yield* decodeProxyConfigJson(json)
      assert.strictEqual(Redacted.value(back.maskedSecrets[0]?.value ?? Redacted.make("")), "ghp_realvalue")
      assert.strictEqual(String(back.maskedSecrets[0]?.value), "<redacted>")
      assert.deepStrictEqual(back.allowlist, config.allowlist)
      assert.strictEqual(back.dns?.answer, "10.199.3.100")
    }),
  )

  it.effect("refuses unknown keys and bad addresses, naming them", () =>
    Effect.gen(function* () {
      const json = JSON.parse(yield* encodeProxyConfigJson(config))
      const bad = JSON.stringify({ ...json, extra: 1, upstreamOverrides: { "a.test": "nowhere" } })
      const error = yield* Effect.flip(decodeProxyConfigJson(bad))
      assert.include(error.message, "extra")
      assert.include(error.message, "a.test")
    }),
  )

  it("points every common client at the CA", () => {
    assert.deepStrictEqual(Object.keys(caTrustEnv("/etc/airut/ca.crt")).sort(), [
      "CURL_CA_BUNDLE",
      "NODE_EXTRA_CA_CERTS",
      "REQUESTS_CA_BUNDLE",
      "SSL_CERT_FILE",
    ])
  })

  it.effect("log lines decode from the JSON the proxy writes", () =>
    Effect.gen(function* () {
      const written: NetworkLogLineJson = {
        kind: "request",
        time: "2026-11-23T01:00:00.000Z",
        action: "blocked",
        method: "GET",
        host: "evil.test",
        path: "/x",
        status: 403,
        durationMs: 1,
        swapped: 0,
        reason: "host not allowed",
      }
      const line = yield* decodeNetworkLogLine(JSON.stringify(written))
      assert.strictEqual(line.kind, "request")
      const bad = yield* Effect.flip(decodeNetworkLogLine('{"kind":"request"}'))
      assert.strictEqual(bad._tag, "ParseError")
    }),
  )
})
