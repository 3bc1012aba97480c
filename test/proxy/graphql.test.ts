import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { checkGraphql, type GraphqlOperations } from "../../src/programs/proxy/graphql.js"

const rules: ReadonlyArray<GraphqlOperations> = [
  { queries: ["viewer", "repository"], mutations: ["addComment", "update*"] },
]
const body = (value: unknown) => Buffer.from(JSON.stringify(value))
const check = (value: unknown) => checkGraphql(rules, body(value), undefined)
const refusal = (value: unknown) => {
  const r = check(value)
  return Either.isLeft(r) ? r.left.detail : "allowed"
}

describe("GraphQL operation allowlist", () => {
  it("allows listed top-level fields and names the operation", () => {
    const r = check({ query: 'query Q { viewer { login } repository(owner: "o", name: "r") { id } }' })
    assert.isTrue(Either.isRight(r))
    if (Either.isRight(r)) assert.strictEqual(r.right.operation, "query/viewer,repository")
    assert.isTrue(Either.isRight(check({ query: "mutation { updateIssue(input: {}) { id } }" })))
    assert.isTrue(Either.isRight(check({ query: "{ __typename viewer { id } }" })))
  })

  it("refuses an unlisted mutation and says which field", () => {
    const r = check({ query: "mutation { addComment(input: {}) { id } createIssue(input: {}) { id } }" })
    assert.isTrue(Either.isLeft(r))
    if (Either.isLeft(r)) {
      assert.strictEqual(r.left.detail, "mutation createIssue not allowed")
      assert.deepStrictEqual(r.left.verdict?.fields, ["createIssue"])
    }
  })

  it("judges fields by their real names, through aliases, inline fragments and fragment spreads", () => {
    assert.include(
      refusal({ query: "mutation { viewer: deleteRepository(input: {}) { id } }" }),
      "deleteRepository",
    )
    assert.include(
      refusal({ query: "mutation { ... on Mutation { deleteRepository(input: {}) { id } } }" }),
      "deleteRepository",
    )
    assert.include(
      refusal({ query: "mutation { ...F } fragment F on Mutation { deleteRepository(input: {}) { id } }" }),
      "deleteRepository",
    )
    assert.include(refusal({ query: "query { ...A } fragment A on Query { ...A }" }), "spreads itself")
  })

  it("picks the operation by operationName, and refuses ambiguity", () => {
    const two = "query A { viewer { id } } mutation B { createIssue(input: {}) { id } }"
    assert.isTrue(Either.isRight(check({ query: two, operationName: "A" })))
    assert.include(refusal({ query: two, operationName: "B" }), "createIssue")
    assert.include(refusal({ query: two }), "no operationName")
    assert.include(refusal({ query: two, operationName: "C" }), "no operation named C")
  })

  it("refuses what it cannot read with certainty", () => {
    assert.include(refusal([{ query: "{ viewer { id } }" }]), "batched")
    assert.include(refusal({ notQuery: 1 }), "no query")
    assert.include(refusal({ query: "{ viewer { " }), "does not parse")
    const bad = checkGraphql(rules, Buffer.from("{not json"), undefined)
    assert.isTrue(Either.isLeft(bad) && bad.left.detail.includes("not JSON"))
    const big = checkGraphql(rules, Buffer.alloc(1024 * 1024 + 1, 32), undefined)
    assert.isTrue(Either.isLeft(big) && big.left.detail.includes("1 MiB"))
    assert.include(refusal({ query: "subscription { viewer { id } }" }), "subscription viewer")
  })

  it("reads GET requests from the query string", () => {
    const q = new URLSearchParams({ query: "{ viewer { id } }" }).toString()
    assert.isTrue(Either.isRight(checkGraphql(rules, undefined, q)))
    const m = new URLSearchParams({ query: "mutation { createIssue { id } }" }).toString()
    assert.isTrue(Either.isLeft(checkGraphql(rules, undefined, m)))
  })

  it("one matching entry allowing the operation is enough", () => {
    const two: ReadonlyArray<GraphqlOperations> = [{ queries: ["viewer"] }, { mutations: ["createIssue"] }]
    assert.isTrue(
      Either.isRight(checkGraphql(two, body({ query: "mutation { createIssue { id } }" }), undefined)),
    )
  })
})
