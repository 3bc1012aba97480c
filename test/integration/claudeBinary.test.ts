import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { ClaudeBinary } from "../../src/services/ClaudeBinary.js"
import { claudeVersion, TestClaudeBinary } from "./support/claude.js"

describe("ClaudeBinaryLive on the npm registry", () => {
  it.live(
    `fetches @anthropic-ai/claude-code-linux-x64@${claudeVersion} (or verifies the cached one) and runs it`,
    () =>
      Effect.gen(function* () {
        const cache = yield* ClaudeBinary
        const info = yield* cache.ensure(claudeVersion)
        assert.match(info.sha256, /^[0-9a-f]{64}$/)
        assert.strictEqual(info.version, claudeVersion)
        const out = yield* Command.string(Command.make(info.path, "--version"))
        assert.strictEqual(out.trim(), `${claudeVersion} (Claude Code)`)

        // Within one layer the second use only checks size and mtime: no download, no hashing.
        const start = yield* Clock.currentTimeMillis
        const again = yield* cache.ensure(claudeVersion)
        const elapsed = (yield* Clock.currentTimeMillis) - start
        assert.strictEqual(again.sha256, info.sha256)
        assert.isBelow(elapsed, 500)
      }).pipe(Effect.provide([TestClaudeBinary, NodeContext.layer])),
    900_000,
  )
})
