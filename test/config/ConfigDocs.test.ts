import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { renderConfigDocs, undocumentedFields } from "../../src/schema/ConfigDocs.js"

describe("ConfigDocs", () => {
  it("every config field has a description", () => {
    assert.deepStrictEqual(undocumentedFields(), [])
  })

  it.effect("docs/config.md is what the schemas generate (run npm run docs:config)", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const file = yield* path.fromFileUrl(new URL("../../docs/config.md", import.meta.url))
      assert.strictEqual(yield* fs.readFileString(file), renderConfigDocs())
    }).pipe(Effect.provide(NodeContext.layer)),
  )

  it("documents nested keys with their defaults", () => {
    const docs = renderConfigDocs()
    assert.include(docs, "### `repos.<id>.email.imap`")
    assert.include(docs, "| `port` | an integer from 1 to 65535 | `993` |")
    assert.include(docs, "| `repo_url` | a non-empty string | **required** |")
    assert.include(docs, "#### `url_prefixes[]`")
  })
})
