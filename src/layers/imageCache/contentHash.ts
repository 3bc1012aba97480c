import { createHash } from "node:crypto"
import type { BuildContext } from "../../services/ContainerRuntime.js"

/**
 * Content hashes that name cached images: the same inputs give the same tag on every host and
 * run, and any change to a file, a name or the set of files gives another. Each part is
 * length-prefixed, so ("ab", "c") and ("a", "bc") never hash alike.
 */

const scheme = "airut-image-v1"

const frame = (hash: ReturnType<typeof createHash>, bytes: Uint8Array) => {
  const length = Buffer.alloc(8)
  length.writeBigUInt64BE(BigInt(bytes.byteLength))
  hash.update(length)
  hash.update(bytes)
}

const utf8 = (text: string) => Buffer.from(text, "utf8")

/** SHA-256 (hex) over the Dockerfile and every context file, sorted by name. */
export const repoContentHash = (context: BuildContext): string => {
  const hash = createHash("sha256")
  frame(hash, utf8(`${scheme}:repo`))
  for (const name of [...context.keys()].sort()) {
    frame(hash, utf8(name))
    frame(hash, context.get(name) ?? new Uint8Array(0))
  }
  return hash.digest("hex")
}

/** SHA-256 (hex) over the repo image tag and the overlay's own build context. */
export const overlayContentHash = (repoTag: string, overlay: BuildContext): string => {
  const hash = createHash("sha256")
  frame(hash, utf8(`${scheme}:overlay`))
  frame(hash, utf8(repoTag))
  for (const name of [...overlay.keys()].sort()) {
    frame(hash, utf8(name))
    frame(hash, overlay.get(name) ?? new Uint8Array(0))
  }
  return hash.digest("hex")
}
