import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import {
  allowsSiteWideGet,
  compileAllowlist,
  decide,
  deniedRequest,
  entryLines,
} from "../../src/programs/proxy/allowlist.js"
import { globMatch } from "../../src/programs/proxy/glob.js"
import { checkGraphql } from "../../src/programs/proxy/graphql.js"
import { decodeNetworkAllowlist } from "../../src/schema/NetworkAllowlist.js"

const named = (name: string) => ({ name, isIp: false })
const load = (yaml: string) => Effect.map(decodeNetworkAllowlist(yaml), compileAllowlist)

const yaml = `
domains:
  - registry.npmjs.org
  - "*.pages.test"
url_prefixes:
  - host: api.github.com
    path: /repos/org/app/*
    methods: [GET, post]
  - host: API.Example.test
    path: /v1/items
  - host: "*"
    path: /health
    methods: [HEAD]
`

describe("globs", () => {
  it("* spans slashes, ? is one character, the rest is literal", () => {
    assert.isTrue(globMatch("/repos/*", "/repos/a/b/c"))
    assert.isTrue(globMatch("/v?/x", "/v1/x"))
    assert.isFalse(globMatch("/v?/x", "/v10/x"))
    assert.isFalse(globMatch("/a.b", "/aXb"))
  })

  it("a pattern with many stars cannot be made to backtrack for long", () => {
    const text = "a".repeat(20_000)
    assert.isFalse(globMatch("*a*a*a*a*a*a*a*b", text))
  })
})

describe("allowlist decisions", () => {
  it.effect(
    "domains allow everything on the host; url_prefixes by path and method; hosts case-insensitively",
    () =>
      Effect.gen(function* () {
        const a = yield* load(yaml)
        assert.strictEqual(decide(a, named("registry.npmjs.org"), "DELETE", "/anything?x")._tag, "Allowed")
        assert.strictEqual(decide(a, named("x.pages.test"), "GET", "/")._tag, "Allowed")
        assert.strictEqual(
          decide(a, named("api.github.com"), "POST", "/repos/org/app/issues")._tag,
          "Allowed",
        )
        assert.deepStrictEqual(decide(a, named("api.github.com"), "DELETE", "/repos/org/app/issues"), {
          _tag: "Denied",
          what: "method",
        })
        assert.deepStrictEqual(decide(a, named("api.github.com"), "GET", "/repos/org/other"), {
          _tag: "Denied",
          what: "path",
        })
        assert.strictEqual(decide(a, named("api.example.test"), "PUT", "/v1/items")._tag, "Allowed")
        assert.deepStrictEqual(decide(a, named("api.example.test"), "GET", "/v1/items?x=1"), {
          _tag: "Denied",
          what: "path",
        })
        assert.deepStrictEqual(decide(a, named("evil.test"), "GET", "/"), { _tag: "Denied", what: "path" })
        assert.deepStrictEqual(decide(a, named("pages.test"), "GET", "/"), { _tag: "Denied", what: "path" })
      }),
  )

  it.effect("an IP literal is matched only by an entry naming it exactly, never by a wildcard", () =>
    Effect.gen(function* () {
      const a = yield* load('domains: ["*", "10.0.0.7"]\n')
      assert.strictEqual(decide(a, named("anything.test"), "GET", "/")._tag, "Allowed")
      assert.strictEqual(decide(a, { name: "169.254.169.254", isIp: true }, "GET", "/")._tag, "Denied")
      assert.strictEqual(decide(a, { name: "10.0.0.7", isIp: true }, "GET", "/")._tag, "Allowed")
    }),
  )

  it.effect("a GraphQL entry's operation check applies even when domains also list the host", () =>
    Effect.gen(function* () {
      const a = yield* load(`
domains: [api.github.com]
url_prefixes:
  - host: api.github.com
    path: /graphql
    methods: [POST]
    graphql:
      queries: [viewer]
`)
      const d = decide(a, named("api.github.com"), "POST", "/graphql")
      assert.strictEqual(d._tag, "Allowed")
      if (d._tag === "Allowed") assert.strictEqual(d.graphql.length, 1)
    }),
  )

  it.effect(
    "Anthropic server tools may keep a domain only if it and its subdomains are open to GET everywhere",
    () =>
      Effect.gen(function* () {
        const a = yield* load(`
domains: [docs.test, "*.docs.test", plain.test]
url_prefixes:
  - host: api.test
    path: /*
    methods: [GET]
  - host: "*.api.test"
    path: /*
  - host: post.test
    path: /*
    methods: [POST]
  - host: part.test
    path: /public/*
`)
        assert.isTrue(allowsSiteWideGet(a, named("docs.test")))
        assert.isTrue(allowsSiteWideGet(a, named("api.test")))
        assert.isFalse(allowsSiteWideGet(a, named("plain.test")), "its subdomains are not allowed")
        assert.isFalse(allowsSiteWideGet(a, named("post.test")))
        assert.isFalse(allowsSiteWideGet(a, named("part.test")))
        assert.isFalse(allowsSiteWideGet(a, named("other.test")))
      }),
  )
})

describe("the lines a block suggests", () => {
  // The suggestion is only useful if adding it really allows the request: check by adding it.
  const allowedAfterAdding = (base: string, add: string, host: string, method: string, target: string) =>
    Effect.gen(function* () {
      const a = yield* load(`${base}\nurl_prefixes:\n${add}\n`)
      return decide(a, named(host), method, target)._tag === "Allowed"
    })

  it.effect("for a missing host, path, method, or a query string, allow exactly that request", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<["host" | "path" | "method", string, string, string, boolean]> = [
        ["host", "new.test", "GET", "/a/b", false],
        ["path", "api.test", "POST", "/v1/things", false],
        ["method", "api.test", "DELETE", "/x", false],
        ["path", "api.test", "GET", "/search", true],
      ]
      for (const [what, host, method, path, query] of cases) {
        const blocked = deniedRequest(what, host, method, path, query)
        assert.strictEqual(blocked.status, 403)
        assert.include(blocked.explanation, ".airut/network-allowlist.yaml")
        const add = blocked.add ?? ""
        const target = query ? `${path}?q=1` : path
        assert.isTrue(yield* allowedAfterAdding("domains: []", add, host, method, target), add)
        // Exact paths stay exact; `?*` (glob `?` is any character) admits any query of that path.
        const elsewhere = query ? "/elsewhere?q=1" : `${path}/other`
        assert.isFalse(yield* allowedAfterAdding("domains: []", add, host, method, elsewhere), add)
      }
    }),
  )

  it.effect("for a GraphQL mutation, an entry naming it that the operation check accepts", () =>
    Effect.gen(function* () {
      const add = entryLines("api.github.com", "/graphql", "POST", {
        kind: "mutation",
        fields: ["createIssue"],
      })
      const a = yield* load(`url_prefixes:\n${add}\n`)
      const d = decide(a, named("api.github.com"), "POST", "/graphql")
      assert.strictEqual(d._tag, "Allowed")
      if (d._tag !== "Allowed") return
      const body = Buffer.from(JSON.stringify({ query: "mutation { createIssue(input: {}) { id } }" }))
      assert.isTrue(Either.isRight(checkGraphql(d.graphql, body, undefined)))
    }),
  )
})
