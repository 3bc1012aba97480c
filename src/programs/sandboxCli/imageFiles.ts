import { createHash } from "node:crypto"
import { FileSystem } from "@effect/platform"
import { Effect, Option } from "effect"
import { repoContentHash } from "../../layers/imageCache/contentHash.js"
import { defaultBaseImage } from "../../layers/SidecarImagesLive.js"
import { type BuildContext, ContainerRuntime } from "../../services/ContainerRuntime.js"
import { proxyBundlePath } from "../proxyBundle.js"
import { SetupFailed } from "./exitCodes.js"

/**
 * The two image archives CI caches, each named by the hash of what its images are made from:
 * `repo.tar` (the repository's image and our overlays on it; its key changes with any file of
 * `.airut/container/`) and `proxy.tar` (Node and the proxy sidecar; its key changes with the
 * proxy program and the base image).
 */
export const archiveNames = { repo: "repo.tar", proxy: "proxy.tar" } as const

export interface ImageHashes {
  readonly repo: string
  readonly proxy: string
}

export const imageHashes = (context: BuildContext) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const runtime = yield* ContainerRuntime
    const bundleFile = yield* proxyBundlePath.pipe(
      Effect.mapError((e) => new SetupFailed({ what: "AIRUT_PROXY_BUNDLE", detail: e.message })),
    )
    const bundle = yield* fs
      .readFile(bundleFile)
      .pipe(Effect.mapError((e) => new SetupFailed({ what: "proxy bundle", detail: e.message })))
    const base = yield* runtime.inspectImage(defaultBaseImage)
    const hash = createHash("sha256")
    hash.update("airut-sandbox-proxy-archive-v1\0")
    hash.update(Option.match(base, { onNone: () => "no-base", onSome: (b) => b.id }))
    hash.update("\0")
    hash.update(bundle)
    const hashes: ImageHashes = { repo: repoContentHash(context), proxy: hash.digest("hex") }
    return hashes
  })
