import { assert, describe, it } from "@effect/vitest"
import { DateTime } from "effect"
import { toStoreEntry } from "../../src/layers/sandbox/logRows.js"
import type { RequestLogLine } from "../../src/schema/NetworkLogLine.js"

const time = DateTime.unsafeMake("2026-11-23T00:00:00Z")
const line = (overrides: Partial<RequestLogLine>): RequestLogLine => ({
  kind: "request",
  time,
  action: "allowed",
  method: "GET",
  host: "api.github.com",
  path: "/repos/o/r",
  durationMs: 12.5,
  swapped: 0,
  ...overrides,
})

describe("network log rows", () => {
  it("keeps what the log viewer shows, counts swapped secrets, never more", () => {
    assert.deepStrictEqual(
      toStoreEntry(line({ status: 200, bytes: 512, swapped: 1, graphql: "query/viewer" })),
      {
        at: time,
        verdict: "allowed",
        method: "GET",
        host: "api.github.com",
        path: "/repos/o/r",
        status: 200,
        bytes: 512,
        durationMs: 12.5,
        swappedSecrets: 1,
      },
    )
  })

  it("stores blocks as blocked and upstream failures as allowed with their status", () => {
    assert.strictEqual(toStoreEntry(line({ action: "blocked", status: 403 })).verdict, "blocked")
    const failed = toStoreEntry(line({ action: "error", status: 502 }))
    assert.deepStrictEqual([failed.verdict, failed.status], ["allowed", 502])
    assert.isFalse("status" in toStoreEntry(line({})))
  })
})
