/**
 * Files between a person and a conversation: attachments saved into the conversation's inbox,
 * outbox files read for a reply and cleared after it. Shared by every channel and the gateway.
 *
 * The inbox and outbox are mounted into the agent's container, so the agent may have put
 * anything there (symlinks to host files, fifos, directories): creation never follows or
 * replaces an existing entry, and reading takes only regular files, never through a symlink.
 */
import { constants } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Data, Effect } from "effect"
import type { OutboxFile } from "../schema/ChannelReply.js"
import { type SafeFileName, sanitizeFileName } from "../schema/FileName.js"

export class AttachmentIoError extends Data.TaggedError("AttachmentIoError")<{
  readonly operation: "save" | "list" | "read" | "clear"
  readonly path: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `${this.operation} ${this.path} failed`
  }
}

const errno = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

/** `report.pdf`, `report-1.pdf`, `report-2.pdf`, ... (`-N` goes before the extension). */
export const candidateName = (name: SafeFileName, n: number): SafeFileName => {
  if (n === 0) return name
  const dot = name.lastIndexOf(".")
  return dot > 0
    ? sanitizeFileName(`${name.slice(0, dot)}-${n}${name.slice(dot)}`)
    : sanitizeFileName(`${name}-${n}`)
}

const maxCandidates = 1000

/**
 * Writes each file into `dir` (created if missing) under its sanitized name, or the first free
 * `-N` variant: an existing file is never overwritten and a symlink never followed (exclusive
 * create). Returns the names used, in order.
 */
export const saveAttachments = (
  dir: string,
  files: ReadonlyArray<{ readonly fileName: string; readonly content: Uint8Array }>,
): Effect.Effect<ReadonlyArray<SafeFileName>, AttachmentIoError> =>
  Effect.gen(function* () {
    yield* Effect.tryPromise({
      try: () => fs.mkdir(dir, { recursive: true, mode: 0o755 }),
      catch: (cause) => new AttachmentIoError({ operation: "save", path: dir, cause }),
    })
    const saved: Array<SafeFileName> = []
    for (const file of files) {
      const base = sanitizeFileName(file.fileName)
      const name = yield* Effect.tryPromise({
        try: async () => {
          for (let n = 0; n < maxCandidates; n++) {
            const candidate = candidateName(base, n)
            try {
              await fs.writeFile(path.join(dir, candidate), file.content, { flag: "wx", mode: 0o644 })
              return candidate
            } catch (cause) {
              if (errno(cause) !== "EEXIST") throw cause
            }
          }
          throw new Error(`no free name for ${base} after ${maxCandidates} tries`)
        },
        catch: (cause) => new AttachmentIoError({ operation: "save", path: path.join(dir, base), cause }),
      })
      saved.push(name)
    }
    return saved
  })

/**
 * The regular files directly in `dir`, by name. Subdirectories, symlinks (which could point at
 * host files) and special files are left out, as are names that are not safe file names. A
 * missing directory has no files.
 */
export const listOutboxFiles = (dir: string): Effect.Effect<ReadonlyArray<OutboxFile>, AttachmentIoError> =>
  Effect.tryPromise({
    try: async () => {
      let entries: Array<import("node:fs").Dirent>
      try {
        entries = await fs.readdir(dir, { withFileTypes: true })
      } catch (cause) {
        if (errno(cause) === "ENOENT") return []
        throw cause
      }
      return entries
        .filter((e) => e.isFile() && sanitizeFileName(e.name) === e.name)
        .map((e) => ({ path: path.join(dir, e.name), fileName: sanitizeFileName(e.name) }))
        .sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0))
    },
    catch: (cause) => new AttachmentIoError({ operation: "list", path: dir, cause }),
  })

/**
 * Reads an outbox file for sending: opened without following a symlink and checked to be a
 * regular file on the open handle, so a swap after listing cannot smuggle in a host file.
 * Files over `maxBytes` are refused.
 */
export const readOutboxFile = (
  file: OutboxFile,
  maxBytes: number,
): Effect.Effect<Uint8Array, AttachmentIoError> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: () => fs.open(file.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK),
      catch: (cause) => new AttachmentIoError({ operation: "read", path: file.path, cause }),
    }),
    (handle) =>
      Effect.tryPromise({
        try: async () => {
          const stat = await handle.stat()
          if (!stat.isFile()) throw new Error("not a regular file")
          if (stat.size > maxBytes) throw new Error(`${stat.size} bytes, over the limit of ${maxBytes}`)
          return new Uint8Array(await handle.readFile())
        },
        catch: (cause) => new AttachmentIoError({ operation: "read", path: file.path, cause }),
      }),
    (handle) =>
      Effect.tryPromise(() => handle.close()).pipe(
        Effect.timeout("5 seconds"),
        Effect.catchAllCause((cause) => Effect.logDebug("closing an outbox file failed", cause)),
      ),
  )

/** Removes sent outbox files (an already missing one is fine). */
export const clearOutboxFiles = (files: ReadonlyArray<OutboxFile>): Effect.Effect<void, AttachmentIoError> =>
  Effect.forEach(
    files,
    (file) =>
      Effect.tryPromise({
        try: async () => {
          try {
            await fs.unlink(file.path)
          } catch (cause) {
            if (errno(cause) !== "ENOENT") throw cause
          }
        },
        catch: (cause) => new AttachmentIoError({ operation: "clear", path: file.path, cause }),
      }),
    { discard: true },
  )
