import { FileSystem } from "@effect/platform"
import { Context, Duration, Effect, Layer, Option, Ref, Schedule, Stream } from "effect"
import { EmailChannelLive } from "../layers/EmailChannelLive.js"
import { SlackChannelLive } from "../layers/SlackChannelLive.js"
import type { ChannelKind } from "../schema/ChannelKind.js"
import type { ServerConfig } from "../schema/ServerConfig.js"
import type { Task } from "../schema/Task.js"
import { Channel, type ChannelShape, type StartedNotice } from "../services/Channel.js"
import { sweepOrphans } from "../services/ContainerScope.js"
import { ConversationStore } from "../services/ConversationStore.js"
import { GatewayChannels } from "../services/GatewayChannels.js"
import { NetworkIsolation } from "../services/NetworkIsolation.js"
import { TaskSupervisor } from "../services/TaskSupervisor.js"
import type { Installation } from "./cli/installation.js"
import { sidecarSecretsDir, storeFile } from "./cli/installation.js"
import { DashboardLive } from "./dashboard/Dashboard.js"
import { acceptMessage } from "./gateway/acceptMessage.js"
import { channelStatuses } from "./gateway/channelStatuses.js"
import { collectGarbage } from "./gateway/collectGarbage.js"
import { collectImages } from "./gateway/collectImages.js"
import { watchConfig } from "./gateway/watchConfig.js"
import { gatewayLayer } from "./gatewayLayer.js"
import { logSandboxWarnings } from "./sandboxWarnings.js"

/**
 * What the daemon says at start: where things are, and what to configure next when the config
 * leaves it with nothing to do.
 */
const announce = (installation: Installation) =>
  Effect.gen(function* () {
    const { loaded, paths } = installation
    const repos = Object.keys(loaded.config.repos)
    const { dashboard } = loaded.config
    yield* Effect.logInfo(
      `airut started: config ${loaded.exists ? loaded.file : `${loaded.file} (not found: embedded defaults)`}, state dir ${paths.stateDir}, store ${storeFile(paths)}`,
    )
    if (dashboard.enabled) {
      yield* Effect.logInfo(`dashboard configured for http://${dashboard.host}:${dashboard.port}`)
    }
    if (repos.length === 0) {
      yield* Effect.logWarning(
        [
          "no repositories configured: nothing will be picked up.",
          loaded.exists
            ? `Add one under repos: in ${loaded.file} (see docs/config.md), then run \`airut check\`.`
            : "Run `airut init` to write a starter config, add a repository under repos:, then run `airut check`.",
        ].join(" "),
      )
    } else {
      yield* Effect.logInfo(`repositories: ${repos.join(", ")}`)
    }
  })

/**
 * Proves the task network isolated before any sandboxed repository is served. A failure does
 * not stop the daemon (the dashboard must still say what is wrong), but it is logged as the
 * reason sandboxed tasks will refuse to run: they call `ensureIsolated` again and fail closed.
 */
const proveIsolation = (config: ServerConfig) => {
  const sandboxed = Object.values(config.repos).some((repo) => repo.network.sandbox_enabled)
  if (!sandboxed) return Effect.void
  return Effect.flatMap(NetworkIsolation, (isolation) => isolation.ensureIsolated).pipe(
    // Success is logged by the probe itself, with its figures.
    Effect.asVoid,
    Effect.catchAll((error) =>
      Effect.logError(`network isolation NOT proven; sandboxed tasks will refuse to run: ${error.message}`),
    ),
  )
}

type ChannelKey = `${string}/${ChannelKind}`
const keyOf = (repoId: string, kind: ChannelKind): ChannelKey => `${repoId}/${kind}`

/** Opens every configured channel (email, Slack) in the daemon's scope. */
const openChannels = (config: ServerConfig) =>
  Effect.gen(function* () {
    const channels = new Map<ChannelKey, ChannelShape>()
    for (const [repoId, repo] of Object.entries(config.repos)) {
      if (repo.email !== undefined) {
        const context = yield* Layer.build(EmailChannelLive({ repoId, config: repo.email }))
        channels.set(keyOf(repoId, "email"), Context.get(context, Channel))
      }
      if (repo.slack !== undefined) {
        const context = yield* Layer.build(SlackChannelLive({ repoId, config: repo.slack }))
        channels.set(keyOf(repoId, "slack"), Context.get(context, Channel))
      }
    }
    return channels
  })

/**
 * Tells the senders of tasks a crash cut off (found unfinished at start) that their task did
 * not finish: the gateway cannot run them again (their messages were settled), so the person
 * decides.
 */
const tellCutOff = (cutOff: ReadonlyArray<Task>, channels: ReadonlyMap<ChannelKey, ChannelShape>) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    if (cutOff.length === 0) return
    yield* Effect.logWarning(`${cutOff.length} task(s) were cut off by the last stop; telling their senders`)
    for (const task of cutOff) {
      const conversation = yield* store.getConversation(task.conversationId)
      const channel = channels.get(keyOf(conversation.repoId, conversation.channel))
      if (channel === undefined) continue
      const keys = conversation.threadKeys
      yield* channel
        .replyError(
          {
            conversationId: conversation.id,
            recipient: task.sender,
            subject: task.title,
            inReplyTo: Option.fromNullable(keys[keys.length - 1]),
            references: keys,
          },
          "The gateway stopped unexpectedly while your task was running, so it did not finish. Work already done is kept in the workspace; reply to this message to continue.",
        )
        .pipe(
          Effect.catchAll((e) =>
            Effect.logWarning(`could not tell ${task.sender} about task ${task.id}: ${e.message}`),
          ),
        )
    }
  })

/**
 * Removes what a crash left on the engine. Other installations and test suites may share the
 * engine, so only what is provably ours goes: objects named with our prefix (proxies, task
 * networks, probes) and agent containers of the conversations whose tasks were cut off. An
 * unreachable engine does not stop the daemon: the dashboard must still come up and say so, and
 * tasks fail closed on their own when they cannot start their sandbox.
 */
const sweepLeftovers = (config: ServerConfig, cutOff: ReadonlyArray<Task>) =>
  Effect.gen(function* () {
    const prefix = `${config.container.image_prefix}-`
    const conversations = new Set<string>(cutOff.map((task) => task.conversationId))
    const named = (name: string) => name.replace(/^\//, "").startsWith(prefix)
    const swept = yield* sweepOrphans(undefined, {
      container: (c) => c.names.some(named) || conversations.has(c.labels["airut.conversation"] ?? ""),
      network: (n) => named(n.name),
    })
    if (swept.containers.length + swept.networks.length > 0) {
      yield* Effect.logWarning(
        `removed ${swept.containers.length} container(s) and ${swept.networks.length} network(s) left over from the last stop`,
      )
    }
    for (const failure of swept.failures) {
      yield* Effect.logWarning(
        `could not remove the leftover ${failure.kind} ${failure.id}: ${failure.error.message}`,
      )
    }
  }).pipe(
    Effect.catchAll((e) =>
      Effect.logError(`the container engine is not reachable, tasks cannot run: ${e.message}`),
    ),
  )

/** The dashboard link of a new conversation's acknowledgement, when the dashboard has a public URL. */
const noticeFor =
  (config: ServerConfig) =>
  (conversation: { readonly id: string }): StartedNotice => ({
    dashboardUrl: Option.map(
      Option.fromNullable(config.dashboard.base_url),
      (base) => `${base.replace(/\/+$/, "")}/conversation/${conversation.id}`,
    ),
  })

/**
 * Hourly: conversations idle past `conversation_max_age_days` go with their directories, and
 * with `image_prune`, images no task will run again. A
 * conversation that just started is never old, so the store's own exclusion of conversations
 * with unfinished tasks covers everything the supervisor holds.
 */
const housekeeping = (installation: Installation, config: Ref.Ref<ServerConfig>) =>
  Effect.gen(function* () {
    const current = yield* Ref.get(config)
    yield* collectGarbage({
      conversationsDir: `${installation.paths.stateDir}/conversations`,
      maxAgeDays: current.execution.conversation_max_age_days,
      isActive: () => Effect.succeed(false),
    })
    if (current.execution.image_prune && Object.keys(current.repos).length > 0) {
      // The image cache rebuilds images older than a day, so anything that old is unused.
      yield* collectImages({ prefix: `localhost/${current.container.image_prefix}`, maxAgeHours: 24 })
    }
  }).pipe(
    Effect.catchAll((e) => Effect.logError(`housekeeping failed: ${e.message}`)),
    Effect.repeat(Schedule.spaced(Duration.hours(1))),
  )

/**
 * The gateway: recover from the last stop, open the channels, and feed every authenticated
 * message to the supervisor. On SIGINT/SIGTERM (runMain interrupts the program) the scope
 * closes in reverse: the inbound loops stop first, running tasks get `shutdown_timeout` to
 * finish and are interrupted after it, then the channels and the store close.
 */
const gateway = (installation: Installation, config: Ref.Ref<ServerConfig>) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const supervisor = yield* TaskSupervisor
    yield* store.healthCheck
    const start = yield* Ref.get(config)
    yield* announce(installation)
    yield* logSandboxWarnings(start)

    // Sidecar configs hold real secrets; a crash leaves them behind. Nothing runs yet.
    const secrets = sidecarSecretsDir(installation.paths)
    const fs = yield* FileSystem.FileSystem
    yield* fs.remove(secrets, { recursive: true, force: true })
    yield* fs.makeDirectory(secrets, { recursive: true, mode: 0o700 })
    // Nothing runs yet, so whatever is unfinished was cut off by a crash.
    const cutOff = yield* store.markRunningTasksInterrupted
    if (Object.keys(start.repos).length > 0) yield* sweepLeftovers(start, cutOff)
    yield* proveIsolation(start)

    const channels = yield* openChannels(start)
    yield* tellCutOff(cutOff, channels)
    yield* Layer.build(
      DashboardLive({ dashboard: start.dashboard, execution: start.execution }).pipe(
        Layer.provide(Layer.succeed(GatewayChannels, channelStatuses([...channels.values()]))),
      ),
    )
    const grace = Duration.seconds(start.execution.shutdown_timeout)
    yield* Effect.addFinalizer(() => supervisor.drain(grace))

    for (const [key, channel] of channels) {
      yield* channel.inbound.pipe(
        Stream.runForEach((message) =>
          Effect.gen(function* () {
            const current = yield* Ref.get(config)
            const repo = current.repos[message.repoId]
            if (repo === undefined) return
            yield* acceptMessage(message, { repo, channel, notice: noticeFor(current) })
          }).pipe(
            // One message's failure must not stop the channel: it stays unsettled and comes back.
            Effect.catchAll((e) =>
              Effect.logError(`could not take in ${message.channelMessageId}: ${e.message}`),
            ),
          ),
        ),
        Effect.catchAll((e) => Effect.logError(`${key}: the channel stopped: ${e.message}`)),
        Effect.forkScoped,
      )
    }
    yield* watchConfig(installation, config).pipe(Effect.forkScoped)
    yield* housekeeping(installation, config).pipe(Effect.forkScoped)
    yield* Effect.addFinalizer(() => Effect.logInfo("airut stopping: no new messages are taken"))
  })

/**
 * The gateway daemon as a layer: everything it runs on, the gateway itself, and a last log line
 * when every resource has been released.
 */
export const DaemonLive = (installation: Installation) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const config = yield* Ref.make(installation.loaded.config)
      return Layer.scopedDiscard(
        Effect.zipRight(
          Effect.addFinalizer(() => Effect.logInfo("airut stopped")),
          gateway(installation, config),
        ),
      ).pipe(Layer.provide(gatewayLayer(installation, config)))
    }),
  )
