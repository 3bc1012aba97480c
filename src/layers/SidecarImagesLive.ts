import { createHash } from "node:crypto"
import { FileSystem } from "@effect/platform"
import { Effect, Layer, Option } from "effect"
import { ContainerRuntime, ImageBuildFailed } from "../services/ContainerRuntime.js"
import { proxyConfigTarget, SidecarImages } from "../services/SidecarImages.js"

export interface SidecarImagesOptions {
  /** The offline base image (`scripts/base-image.sh`). */
  readonly baseImage?: string
  /** Image names are `<prefix>-node:<hash>` and `<prefix>-proxy:<hash>`. */
  readonly prefix?: string
  /** The proxy program bundled to one file (`dist/proxy.js` from `npm run build`). */
  readonly proxyBundle: string
}

export const defaultBaseImage = "localhost/airut-base:bookworm"

// `.mjs`: the bundle is ESM and the image has no package.json saying so.
const proxyProgramTarget = "/opt/airut/proxy.mjs"

const nodeDockerfile = (base: string) => `FROM ${base}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
`

const proxyDockerfile = (nodeTag: string) => `FROM ${nodeTag}
COPY proxy.mjs ${proxyProgramTarget}
ENTRYPOINT ["/usr/bin/node", "${proxyProgramTarget}"]
CMD ["${proxyConfigTarget}"]
`

/** SHA-256 over length-prefixed parts, so no two different part lists hash alike. */
const contentHash = (parts: ReadonlyArray<Uint8Array | string>): string => {
  const hash = createHash("sha256")
  hash.update("airut-sidecar-image-v1")
  for (const part of parts) {
    const bytes = typeof part === "string" ? Buffer.from(part, "utf8") : part
    const length = Buffer.alloc(8)
    length.writeBigUInt64BE(BigInt(bytes.byteLength))
    hash.update(length)
    hash.update(bytes)
  }
  return hash.digest("hex")
}

export const makeSidecarImages = (options: SidecarImagesOptions) =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    const fs = yield* FileSystem.FileSystem
    const base = options.baseImage ?? defaultBaseImage
    const prefix = options.prefix ?? "localhost/airut"
    // One build of each image at a time: concurrent first tasks wait for it rather than race
    // the engine with identical builds. A failed build is retried by the next caller.
    const nodeLock = yield* Effect.makeSemaphore(1)
    const proxyLock = yield* Effect.makeSemaphore(1)

    const ensure = (tag: string, context: ReadonlyMap<string, Uint8Array>, role: string) =>
      Effect.gen(function* () {
        if (Option.isSome(yield* runtime.inspectImage(tag))) return tag
        yield* Effect.logInfo(`building the ${role} image ${tag}`)
        yield* runtime.buildImage({ tag, context, labels: { "airut.image": role } })
        return tag
      })

    const missing = (tag: string, detail: string) => new ImageBuildFailed({ tag, detail, lastLines: [] })

    const nodeImage = Effect.gen(function* () {
      // The base image's id is part of the name: rebuilding the base (fresh packages) gives a
      // new Node image rather than reusing one made from the old base.
      const baseInfo = yield* runtime.inspectImage(base)
      if (Option.isNone(baseInfo)) {
        return yield* missing(base, `the base image ${base} is missing; build it with scripts/base-image.sh`)
      }
      const dockerfile = nodeDockerfile(base)
      const tag = `${prefix}-node:${contentHash([baseInfo.value.id, dockerfile])}`
      return yield* ensure(tag, new Map([["Dockerfile", Buffer.from(dockerfile, "utf8")]]), "node")
    }).pipe(nodeLock.withPermits(1), Effect.withSpan("SidecarImages.nodeImage"))

    const proxyImage = Effect.gen(function* () {
      const nodeTag = yield* nodeImage
      const bundle = yield* fs
        .readFile(options.proxyBundle)
        .pipe(
          Effect.mapError((e) =>
            missing(
              `${prefix}-proxy`,
              `cannot read the proxy bundle ${options.proxyBundle} (${e.message}); run npm run build`,
            ),
          ),
        )
      const dockerfile = proxyDockerfile(nodeTag)
      const tag = `${prefix}-proxy:${contentHash([nodeTag, dockerfile, bundle])}`
      return yield* ensure(
        tag,
        new Map([
          ["Dockerfile", Buffer.from(dockerfile, "utf8")],
          ["proxy.mjs", bundle],
        ]),
        "proxy",
      )
    }).pipe(proxyLock.withPermits(1), Effect.withSpan("SidecarImages.proxyImage"))

    return SidecarImages.of({ nodeImage, proxyImage })
  })

/** Sidecar images built through the container runtime; the proxy bundle is read from disk. */
export const SidecarImagesLive = (
  options: SidecarImagesOptions,
): Layer.Layer<SidecarImages, never, ContainerRuntime | FileSystem.FileSystem> =>
  Layer.effect(SidecarImages, makeSidecarImages(options))
