import { FileSystem, Path } from "@effect/platform"
import { Duration, Effect, Ref, Stream } from "effect"
import type { ServerConfig } from "../../schema/ServerConfig.js"
import { ConfigLoader, formatConfigInvalid } from "../../services/ConfigLoader.js"
import type { Installation } from "../cli/installation.js"

/** SIGHUP, as a stream of ticks for as long as it is consumed. */
const hangups = Stream.async<void>((emit) => {
  const onHangup = () => {
    void emit.single(undefined)
  }
  process.on("SIGHUP", onHangup)
  return Effect.sync(() => {
    process.off("SIGHUP", onHangup)
  })
})

/**
 * Changes to the config file. The directory is watched, not the file: editors save by writing
 * a new file and renaming it over the old one, which a watch on the file itself stops seeing.
 */
const fileChanges = (file: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const name = path.basename(file)
    return fs.watch(path.dirname(file)).pipe(
      Stream.filter((event) => path.basename(event.path) === name),
      Stream.as(undefined),
      Stream.catchAll((e) =>
        Stream.fromEffect(
          Effect.logWarning(`not watching ${file} for changes (${e.message}); SIGHUP still reloads`),
        ).pipe(Stream.drain),
      ),
    )
  }).pipe(Stream.unwrap)

/** Channel settings, compared to tell the operator that a channel change needs a restart. */
const channelSettings = (config: ServerConfig) =>
  JSON.stringify(
    Object.entries(config.repos).map(([id, repo]) => [
      id,
      repo.email === undefined,
      repo.slack === undefined,
    ]),
  )

/**
 * Reloads the config on SIGHUP and when its file changes. A config that does not decode is
 * reported and ignored: the running one stays. Task settings (model, secrets, limits, network)
 * apply from the next task; the engine, the concurrency limit and which channels exist are read
 * at start, so changing those asks for a restart.
 */
export const watchConfig = (installation: Installation, config: Ref.Ref<ServerConfig>) =>
  Effect.gen(function* () {
    const loader = yield* ConfigLoader
    const file = installation.loaded.file
    const reload = Effect.gen(function* () {
      const before = yield* Ref.get(config)
      const loaded = yield* loader.load(file)
      yield* Ref.set(config, loaded.config)
      yield* Effect.logInfo(
        `config reloaded from ${file}: repositories ${Object.keys(loaded.config.repos).join(", ")}`,
      )
      if (
        channelSettings(before) !== channelSettings(loaded.config) ||
        before.execution.max_concurrent !== loaded.config.execution.max_concurrent ||
        before.container.socket !== loaded.config.container.socket
      ) {
        yield* Effect.logWarning(
          "the reloaded config changes channels, max_concurrent or the container engine: restart airut to apply those",
        )
      }
    }).pipe(
      Effect.catchTags({
        ConfigInvalid: (e) =>
          Effect.logError(`config not reloaded, the running one stays:\n${formatConfigInvalid(e)}`),
        ConfigUnreadable: (e) => Effect.logError(`config not reloaded, the running one stays: ${e.message}`),
      }),
    )
    const triggers = installation.loaded.exists ? Stream.merge(hangups, fileChanges(file)) : hangups
    yield* triggers.pipe(
      // An editor's save is several events; one reload after they settle.
      Stream.debounce(Duration.millis(300)),
      Stream.runForEach(() => reload),
    )
  })
