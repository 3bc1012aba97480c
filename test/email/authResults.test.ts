import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { dmarcVerdict, parseAuthenticationResults } from "../../src/layers/email/authResults.js"

const pass = (headers: ReadonlyArray<string>, trusted = "mx.example.com") =>
  Either.isRight(dmarcVerdict(headers, trusted))

describe("Authentication-Results", () => {
  it("parses methods, results and properties, ignoring comments and folding", () => {
    const parsed = parseAuthenticationResults(
      'mx.example.com 1; dkim=pass (2048-bit key)\r\n header.d=example.com;\r\n spf = pass smtp.mailfrom="a b@example.com"; dmarc=PASS (p=reject) header.from=example.com',
    )
    assert.isTrue(Either.isRight(parsed))
    if (Either.isLeft(parsed)) return
    assert.strictEqual(parsed.right.authservId, "mx.example.com")
    assert.deepStrictEqual(
      parsed.right.results.map((r) => [r.method, r.result]),
      [
        ["dkim", "pass"],
        ["spf", "pass"],
        ["dmarc", "pass"],
      ],
    )
    assert.strictEqual(parsed.right.results[1]?.properties["smtp.mailfrom"], "a b@example.com")
  })

  it("passes only when every dmarc result of the first trusted header is pass", () => {
    assert.isTrue(pass(["mx.example.com; dmarc=pass header.from=example.com"]))
    assert.isTrue(pass(["MX.Example.COM; dmarc=pass"]))
    assert.isFalse(pass(["mx.example.com; dmarc=fail (dmarc=pass) header.from=example.com"]))
    assert.isFalse(pass(["mx.example.com; dmarc=fail; dmarc=pass header.from=other.example"]))
    assert.isFalse(pass(["mx.example.com; dkim=pass; spf=pass"]))
    assert.isFalse(pass(["mx.example.com; dmarc=none"]))
    assert.isFalse(pass(["mx.example.com; none"]))
    assert.isFalse(pass([]))
    // Text that merely contains the token does not count.
    assert.isFalse(pass(["mx.example.com; x-note=dmarc=pass"]))
  })

  it("ignores headers of other servers and anything below the first trusted one", () => {
    assert.isTrue(pass(["relay.other; dmarc=fail", "mx.example.com; dmarc=pass"]))
    assert.isFalse(pass(["relay.other; dmarc=pass"]))
    assert.isFalse(pass(["mx.example.com; dmarc=fail", "mx.example.com; dmarc=pass"]))
    assert.deepStrictEqual(
      dmarcVerdict(["relay.other; dmarc=pass"], "mx.example.com"),
      Either.left("no Authentication-Results header from mx.example.com"),
    )
  })

  it("an empty trusted id trusts the topmost header only (Microsoft 365 writes no id)", () => {
    assert.isTrue(pass(["dmarc=pass action=none header.from=corp.example;", "x; dmarc=fail"], ""))
    assert.isFalse(pass(["spf=pass smtp.mailfrom=corp.example; dmarc=fail", "x; dmarc=pass"], ""))
  })
})
