import { assert, describe, it } from "@effect/vitest"
import { Either, Option } from "effect"
import { normalizeHost, parseTarget, percentDecode } from "../../src/programs/proxy/requestTarget.js"

const host = (raw: string) => Option.getOrUndefined(normalizeHost(raw))
const api = { name: "api.test", isIp: false }
const refusal = (target: string) => {
  const result = parseTarget(target, api)
  return Either.isLeft(result) ? result.left.reason : undefined
}

describe("hosts", () => {
  it("are lower-cased, without port or trailing dot", () => {
    assert.deepStrictEqual(host("API.Example.COM."), { name: "api.example.com", isIp: false })
    assert.deepStrictEqual(host("example.com:443"), { name: "example.com", isIp: false })
    assert.deepStrictEqual(host("under_score.example"), { name: "under_score.example", isIp: false })
  })

  it("IP literals and names getaddrinfo reads as addresses are marked as IPs", () => {
    assert.deepStrictEqual(host("[::1]:443"), { name: "::1", isIp: true })
    assert.deepStrictEqual(host("169.254.169.254"), { name: "169.254.169.254", isIp: true })
    assert.strictEqual(host("2130706433")?.isIp, true)
    assert.strictEqual(host("127.1")?.isIp, true)
    assert.strictEqual(host("0x7f.1")?.isIp, true)
  })

  it("anything else is not a host", () => {
    for (const bad of [
      "",
      "exa mple.com",
      "a..b",
      "evil.com:abc",
      "user@evil.com",
      "-lead.com",
      "[::1",
      "[zz]",
      "a/b",
    ]) {
      assert.isUndefined(host(bad), bad)
    }
  })
})

describe("percent-decoding", () => {
  it("decodes once, keeps malformed escapes literal and never throws", () => {
    assert.strictEqual(percentDecode("/a%2e%2E/b"), "/a../b")
    assert.strictEqual(percentDecode("/%252e"), "/%2e")
    assert.strictEqual(percentDecode("/%E1%88%B4"), "/ሴ")
    assert.strictEqual(percentDecode("/%zz/%2"), "/%zz/%2")
    assert.strictEqual(percentDecode("/%FF"), "/\uFFFD")
    assert.strictEqual(percentDecode("/a+b"), "/a+b")
  })
})

describe("request targets", () => {
  it("an ordinary target is matched decoded, query included", () => {
    const t = parseTarget("/repos/o/r/issues?state=open&q=%2e%2e", api)
    assert.isTrue(Either.isRight(t))
    if (Either.isLeft(t)) return
    assert.strictEqual(t.right.decodedPath, "/repos/o/r/issues")
    assert.strictEqual(t.right.match, "/repos/o/r/issues?state=open&q=..")
    assert.strictEqual(t.right.rawQuery, "state=open&q=%2e%2e")
  })

  it("every hostile path form is refused", () => {
    const cases: ReadonlyArray<[string, string]> = [
      ["/a/%2e%2e/secret", ".."],
      ["/a/%2E%2e/secret", ".."],
      ["/a/../secret", ".."],
      ["/a/..", ".."],
      ["/a/..;/secret", ".."],
      ["/a/%252e%252e/secret", "twice"],
      ["/a%252fb", "twice"],
      ["/a%00b", "NUL"],
      ["/a\\..\\b", "backslash"],
      ["/a%5c..%5cb", "backslash"],
      ["//evil.test/x", "//"],
      ["/a//b", "//"],
      ["/a?x=%00", "NUL"],
      ["/a%0d%0aSet-Cookie:x", "control"],
      ["*", "not a path"],
      ["evil.test:443", "not a path"],
    ]
    for (const [target, why] of cases) {
      const reason = refusal(target)
      assert.isDefined(reason, target)
      assert.include(reason ?? "", why, target)
    }
  })

  it("absolute-form is accepted only for the request's own host", () => {
    const same = parseTarget("https://API.test/x?y=1", api)
    assert.isTrue(Either.isRight(same))
    if (Either.isRight(same)) assert.strictEqual(same.right.raw, "/x?y=1")
    assert.include(refusal("https://other.test/x") ?? "", "another host")
    assert.include(refusal("http://api.test@other.test/x") ?? "", "another host")
    assert.include(refusal("https://api.test.evil.test/") ?? "", "another host")
  })
})
