import { Cause, Clock, Duration, Effect, Layer, Option } from "effect"
import {
  type BuildContext,
  ContainerRuntime,
  type EngineError,
  ImageBuildFailed,
  type ImageInfo,
} from "../services/ContainerRuntime.js"
import { type BuildOutcome, ImageCache, type ImageRef, type ImageRequest } from "../services/ImageCache.js"
import { overlayContentHash, repoContentHash } from "./imageCache/contentHash.js"
import { makeKeyedSingleFlight } from "./imageCache/keyedSingleFlight.js"
import { overlayContext, overlayExecutables } from "./imageCache/overlay.js"

export interface ImageCacheOptions {
  /** Image names are `<prefix>-repo:<hash>` and `<prefix>-overlay:<hash>`. */
  readonly prefix?: string
  /** An image at least this old is rebuilt without the layer cache (fresh packages). */
  readonly maxAge?: Duration.DurationInput
}

export const defaultImagePrefix = "localhost/airut"
export const defaultImageMaxAge = Duration.hours(24)

type Ensured = readonly [BuildOutcome, ImageInfo]
const ensured =
  (outcome: BuildOutcome) =>
  (image: ImageInfo): Ensured => [outcome, image]

interface TagPlan {
  readonly tag: string
  readonly context: BuildContext
  readonly executables: ReadonlyArray<string>
  readonly labels: Readonly<Record<string, string>>
  /** Rebuild (with cache) when the image is older than this, epoch ms: its base changed. */
  readonly notBefore: number
}

export const makeImageCache = (options: ImageCacheOptions = {}) =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    const prefix = options.prefix ?? defaultImagePrefix
    const maxAgeMillis = Duration.toMillis(options.maxAge ?? defaultImageMaxAge)
    // Keyed by tag: concurrent tasks needing one image share its build, others build in parallel.
    const singleFlight = yield* makeKeyedSingleFlight<string, Ensured, ImageBuildFailed | EngineError>()

    const build = (plan: TagPlan, noCache: boolean) =>
      Effect.logInfo(noCache ? "rebuilding stale image without cache" : "building image").pipe(
        Effect.zipRight(
          runtime.buildImage({
            tag: plan.tag,
            context: plan.context,
            noCache,
            labels: plan.labels,
            executables: plan.executables,
          }),
        ),
        Effect.annotateLogs({ image: plan.tag }),
      )

    // A rebuilt tag leaves its previous image untagged. Remove it now rather than let one pile up
    // per repository per day; one still used by a running task stays for the image prune.
    const replace = (plan: TagPlan, previous: ImageInfo, noCache: boolean) =>
      build(plan, noCache).pipe(
        Effect.tap((built) =>
          built.id === previous.id
            ? Effect.void
            : runtime.removeImage(previous.id).pipe(
                Effect.catchIf(
                  (e) => e._tag === "ContainerError" && e.reason === "Conflict",
                  () => Effect.logDebug("previous image still in use; left for the image prune"),
                ),
                Effect.catchAllCause((cause) =>
                  Effect.logWarning("could not remove the previous image", Cause.pretty(cause)),
                ),
                Effect.annotateLogs({ image: plan.tag, previous: previous.id }),
              ),
        ),
      )

    const ensureTag = (plan: TagPlan) =>
      singleFlight(
        plan.tag,
        Effect.gen(function* () {
          const existing = yield* runtime.inspectImage(plan.tag)
          const now = yield* Clock.currentTimeMillis
          if (Option.isNone(existing)) return yield* build(plan, false).pipe(Effect.map(ensured("built")))
          const image = existing.value
          if (now - image.createdAt >= maxAgeMillis) {
            return yield* replace(plan, image, true).pipe(Effect.map(ensured("rebuilt")))
          }
          if (image.createdAt < plan.notBefore) {
            return yield* replace(plan, image, false).pipe(Effect.map(ensured("built")))
          }
          return ensured("cached")(image)
        }),
      )

    const ensureImage = Effect.fn("ImageCache.ensureImage")(function* (request: ImageRequest) {
      if (!request.context.has("Dockerfile")) {
        return yield* new ImageBuildFailed({
          tag: `${prefix}-repo`,
          detail: "the container directory has no Dockerfile",
          lastLines: [],
        })
      }
      const repoTag = `${prefix}-repo:${repoContentHash(request.context)}`
      const overlay = overlayContext(repoTag, request.entrypoint ?? "agent")
      const tag = `${prefix}-overlay:${overlayContentHash(repoTag, overlay)}`

      // The common case, every task after the first: both images there and fresh. Both are
      // looked up at once, so a hit costs one engine round trip.
      const [repoFound, overlayFound] = yield* Effect.all(
        [runtime.inspectImage(repoTag), runtime.inspectImage(tag)],
        { concurrency: 2 },
      )
      const now = yield* Clock.currentTimeMillis
      const fresh = (image: ImageInfo) => now - image.createdAt < maxAgeMillis
      if (
        Option.isSome(repoFound) &&
        Option.isSome(overlayFound) &&
        fresh(repoFound.value) &&
        fresh(overlayFound.value) &&
        overlayFound.value.createdAt >= repoFound.value.createdAt
      ) {
        const hit: ImageRef = { tag, repoTag, repo: "cached", overlay: "cached" }
        return hit
      }

      const [repoOutcome, repoImage] = yield* ensureTag({
        tag: repoTag,
        context: request.context,
        executables: [],
        labels: { "airut.image": "repo" },
        notBefore: 0,
      })
      // An overlay older than its repo image was built on a previous build of that tag.
      const [overlayOutcome] = yield* ensureTag({
        tag,
        context: overlay,
        executables: overlayExecutables,
        labels: { "airut.image": "overlay" },
        notBefore: repoImage.createdAt,
      })
      const ref: ImageRef = { tag, repoTag, repo: repoOutcome, overlay: overlayOutcome }
      return ref
    })

    return ImageCache.of({ ensureImage })
  })

/** The image cache over the container runtime; builds run in this layer's scope. */
export const ImageCacheLive = (
  options: ImageCacheOptions = {},
): Layer.Layer<ImageCache, never, ContainerRuntime> => Layer.scoped(ImageCache, makeImageCache(options))
