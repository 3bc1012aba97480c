import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import {
  clearOutboxFiles,
  listOutboxFiles,
  readOutboxFile,
  saveAttachments,
} from "../../src/programs/attachments.js"
import { SafeFileName, sanitizeFileName } from "../../src/schema/FileName.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "airut-att-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })),
)

const bytes = (s: string) => new Uint8Array(Buffer.from(s))

describe("file names", () => {
  it("sanitizes to one safe segment", () => {
    assert.strictEqual(sanitizeFileName("../../etc/passwd"), "passwd")
    assert.strictEqual(sanitizeFileName("C:\\Users\\x\\a.pdf"), "a.pdf")
    assert.strictEqual(sanitizeFileName(".."), "attachment")
    assert.strictEqual(sanitizeFileName("..."), "attachment")
    assert.strictEqual(sanitizeFileName(".env"), "env")
    assert.strictEqual(sanitizeFileName("a\u0000b\nc.txt"), "a_b_c.txt")
    assert.strictEqual(sanitizeFileName("inv\u202Efdp.exe"), "inv_fdp.exe")
    assert.strictEqual(sanitizeFileName(""), "attachment")
    const long = sanitizeFileName(`${"é".repeat(300)}.tar.gz`)
    assert.isAtMost(Buffer.byteLength(long), 200)
    assert.isTrue(long.endsWith(".gz"))
    assert.isTrue(Schema.is(SafeFileName)("report.pdf"))
    assert.isFalse(Schema.is(SafeFileName)("../x"))
  })
})

describe("inbox and outbox files", () => {
  it.scoped("saving never overwrites nor follows a symlink: it picks the next free name", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const inbox = path.join(dir, "inbox")
      fs.mkdirSync(inbox)
      fs.writeFileSync(path.join(inbox, "a.txt"), "existing")
      const target = path.join(dir, "host-secret")
      fs.writeFileSync(target, "host")
      fs.symlinkSync(target, path.join(inbox, "a-1.txt"))
      const names = yield* saveAttachments(inbox, [
        { fileName: "a.txt", content: bytes("new") },
        { fileName: "../a.txt", content: bytes("newer") },
        { fileName: "noext", content: bytes("x") },
        { fileName: "noext", content: bytes("y") },
      ])
      assert.deepStrictEqual(names.map(String), ["a-2.txt", "a-3.txt", "noext", "noext-1"])
      assert.strictEqual(fs.readFileSync(path.join(inbox, "a.txt"), "utf8"), "existing")
      assert.strictEqual(fs.readFileSync(target, "utf8"), "host")
      assert.strictEqual(fs.readFileSync(path.join(inbox, "a-3.txt"), "utf8"), "newer")
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["host-secret", "inbox"])
    }),
  )

  it.scoped("outbox listing keeps regular files only; reading refuses symlinks and big files", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const outbox = path.join(dir, "outbox")
      fs.mkdirSync(outbox)
      fs.writeFileSync(path.join(outbox, "b.txt"), "bee")
      fs.writeFileSync(path.join(outbox, "a.txt"), "ay")
      fs.mkdirSync(path.join(outbox, "sub"))
      fs.writeFileSync(path.join(dir, "secret"), "host")
      fs.symlinkSync(path.join(dir, "secret"), path.join(outbox, "link.txt"))
      const files = yield* listOutboxFiles(outbox)
      assert.deepStrictEqual(
        files.map((f) => f.fileName),
        ["a.txt", "b.txt"],
      )
      const bee = files[1]
      if (bee === undefined) return assert.fail("b.txt not listed")
      assert.strictEqual(Buffer.from(yield* readOutboxFile(bee, 100)).toString(), "bee")
      const viaLink = yield* Effect.flip(
        readOutboxFile({ path: path.join(outbox, "link.txt"), fileName: sanitizeFileName("link.txt") }, 100),
      )
      assert.strictEqual(viaLink._tag, "AttachmentIoError")
      const tooBig = yield* Effect.flip(readOutboxFile(bee, 2))
      assert.strictEqual(tooBig._tag, "AttachmentIoError")
      yield* clearOutboxFiles(files)
      yield* clearOutboxFiles(files)
      assert.deepStrictEqual(fs.readdirSync(outbox).sort(), ["link.txt", "sub"])
      assert.deepStrictEqual(yield* listOutboxFiles(path.join(dir, "missing")), [])
    }),
  )
})
