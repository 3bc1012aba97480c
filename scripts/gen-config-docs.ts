/**
 * Writes docs/config.md from the configuration schemas; with --check, fails instead when the
 * committed file differs from what the schemas say (`npm run docs:check`).
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Data, Effect } from "effect"
import { renderConfigDocs, undocumentedFields } from "../src/schema/ConfigDocs.js"

class DocsOutOfDate extends Data.TaggedError("DocsOutOfDate")<{ readonly file: string }> {
  override get message() {
    return `${this.file} is out of date: run npm run docs:config and commit the result`
  }
}

class UndocumentedFields extends Data.TaggedError("UndocumentedFields")<{
  readonly fields: ReadonlyArray<string>
}> {
  override get message() {
    return `these config fields have no description annotation: ${this.fields.join(", ")}`
  }
}

const program = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const target = yield* path.fromFileUrl(new URL("../docs/config.md", import.meta.url))
  const missing = undocumentedFields()
  if (missing.length > 0) return yield* new UndocumentedFields({ fields: missing })
  const text = renderConfigDocs()
  if (process.argv.includes("--check")) {
    const exists = yield* fs.exists(target)
    const current = exists ? yield* fs.readFileString(target) : ""
    if (current !== text) return yield* new DocsOutOfDate({ file: target })
    yield* Effect.log(`${target} is up to date`)
  } else {
    yield* fs.makeDirectory(path.dirname(target), { recursive: true })
    yield* fs.writeFileString(target, text)
    yield* Effect.log(`wrote ${target}`)
  }
})

program.pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
