import { Clock, Effect } from "effect"
import { ContainerRuntime, type ImageInfo } from "../../services/ContainerRuntime.js"

/** The label every image airut builds carries; its value is the image's role (repo, overlay, node, proxy). */
export const imageRoleLabel = "airut.image"

export interface CollectImagesOptions {
  /**
   * Image name prefix of this installation (e.g. `localhost/airut`): its images are named
   * `<prefix>-<role>:<hash>`. Images of other installations on the engine are left alone.
   */
  readonly prefix: string
  /** Images at least this old go, except the newest of each name. */
  readonly maxAgeHours: number
}

export interface ImagesCollected {
  readonly removed: number
  /** Stale, but a container still uses it: the engine refused. */
  readonly inUse: number
  readonly kept: number
  readonly failed: number
}

/** `localhost/airut-repo:abc` → `localhost/airut-repo` (a registry port is not a tag). */
const nameOf = (tag: string) => {
  const colon = tag.lastIndexOf(":")
  return colon > tag.lastIndexOf("/") ? tag.slice(0, colon) : tag
}

/**
 * Removes stale images of this installation. The image cache rebuilds an image once it is older
 * than its max age, so an image that old is not run again as it is: its age since creation is
 * its time unused. The newest image of each name stays whatever its age (sidecar images are
 * never rebuilt by age, and a repository idle for days should not wait for a build from scratch).
 * Untagged images carrying the label are what rebuilds left behind while a task still used the
 * old image; they go too. Newest first, so an overlay goes before the repo image it was built on.
 * An image a container still uses is refused by the engine and counted, never forced.
 */
export const collectImages = (options: CollectImagesOptions) =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    const now = yield* Clock.currentTimeMillis
    const maxAgeMillis = options.maxAgeHours * 3_600_000
    const ownTags = (image: ImageInfo) =>
      image.tags.filter((tag) => nameOf(tag) === `${options.prefix}-${image.labels[imageRoleLabel]}`)
    const ours = (yield* runtime.listImages(imageRoleLabel)).filter(
      (image) => image.tags.length === 0 || ownTags(image).length > 0,
    )

    const newest = new Map<string, ImageInfo>()
    for (const image of ours) {
      for (const tag of ownTags(image)) {
        const seen = newest.get(nameOf(tag))
        if (seen === undefined || image.createdAt > seen.createdAt) newest.set(nameOf(tag), image)
      }
    }
    const keep = new Set([...newest.values()].map((image) => image.id))
    const stale = ours
      .filter((image) => !keep.has(image.id) && now - image.createdAt >= maxAgeMillis)
      .sort((a, b) => b.createdAt - a.createdAt)

    let removed = 0
    let inUse = 0
    let failed = 0
    for (const image of stale) {
      const tags = ownTags(image)
      // By tag when tagged: an id with several tags is refused without force.
      const outcome = yield* Effect.forEach(tags.length === 0 ? [image.id] : tags, runtime.removeImage, {
        discard: true,
      }).pipe(
        Effect.as("removed" as const),
        Effect.catchIf(
          (e) => e._tag === "ContainerError" && e.reason === "Conflict",
          () => Effect.succeed("inUse" as const),
        ),
        Effect.catchAll((e) =>
          Effect.logWarning(`image collection: could not remove ${tags[0] ?? image.id}: ${e.message}`).pipe(
            Effect.as("failed" as const),
          ),
        ),
      )
      if (outcome === "removed") removed++
      else if (outcome === "inUse") inUse++
      else failed++
    }

    const result: ImagesCollected = { removed, inUse, kept: ours.length - stale.length, failed }
    yield* Effect.logInfo(
      `image collection: removed ${removed} image(s) older than ${options.maxAgeHours} h; ${result.kept} kept, ${inUse} still in use, ${failed} failed`,
    )
    return result
  }).pipe(Effect.withSpan("collectImages"))
