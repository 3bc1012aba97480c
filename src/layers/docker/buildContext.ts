import { buffer } from "node:stream/consumers"
import { Effect } from "effect"
import * as tar from "tar-stream"
import { type BuildContext, ImageBuildFailed } from "../../services/ContainerRuntime.js"

/** A context path: relative, forward slashes, no `.`/`..`/empty segments (no escaping the context). */
const isSafePath = (path: string): boolean =>
  path.length > 0 &&
  !path.startsWith("/") &&
  !path.includes("\\") &&
  !path.includes("\0") &&
  path.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..")

/**
 * The build context as a tar archive, entries sorted by name with fixed metadata (mode 0644 or
 * 0755 for `executables`, mtime 0, root owner) so the same files always make the same bytes.
 */
export const packBuildContext = (
  tag: string,
  context: BuildContext,
  executables: ReadonlyArray<string> = [],
): Effect.Effect<Buffer, ImageBuildFailed> =>
  Effect.gen(function* () {
    const fail = (detail: string) => new ImageBuildFailed({ tag, detail, lastLines: [] })
    const names = [...context.keys()].sort()
    const unsafe = names.filter((name) => !isSafePath(name))
    if (unsafe.length > 0) return yield* fail(`build context has unsafe paths: ${unsafe.join(", ")}`)
    if (!context.has("Dockerfile")) return yield* fail("build context has no Dockerfile")
    return yield* Effect.tryPromise({
      try: () => {
        const pack = tar.pack()
        for (const name of names) {
          const bytes = context.get(name) ?? new Uint8Array(0)
          pack.entry(
            {
              name,
              mode: executables.includes(name) ? 0o755 : 0o644,
              mtime: new Date(0),
              uid: 0,
              gid: 0,
              type: "file",
            },
            Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
          )
        }
        pack.finalize()
        return buffer(pack)
      },
      catch: (cause) => fail(`could not pack the build context: ${String(cause)}`),
    })
  })
