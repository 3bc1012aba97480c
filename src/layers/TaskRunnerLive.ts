import { FileSystem, Path } from "@effect/platform"
import { Data, Duration, Effect, Either, Fiber, Layer, Option, Redacted, Schema, Stream } from "effect"
import { clearOutboxFiles, listOutboxFiles, saveAttachments } from "../programs/attachments.js"
import { todosOf } from "../schema/AgentPlan.js"
import { type AgentRequest, Effort } from "../schema/AgentRequest.js"
import { replyTargetOf } from "../schema/ChannelReply.js"
import type { Conversation } from "../schema/Conversation.js"
import {
  decodeNetworkAllowlist,
  type NetworkAllowlist,
  networkAllowlistPath,
} from "../schema/NetworkAllowlist.js"
import type { RepoConfig, ServerConfig } from "../schema/ServerConfig.js"
import { TaskProgress } from "../schema/TaskProgress.js"
import { AgentExecutor } from "../services/AgentExecutor.js"
import { AirutPaths } from "../services/AirutPaths.js"
import { ConversationStore } from "../services/ConversationStore.js"
import { GatewayConfig } from "../services/GatewayConfig.js"
import { GitMirror, type MirroredRepo } from "../services/GitMirror.js"
import { ImageCache } from "../services/ImageCache.js"
import { NetworkIsolation } from "../services/NetworkIsolation.js"
import { NetworkProxy } from "../services/NetworkProxy.js"
import { type TaskJob, type TaskResult, TaskRunner } from "../services/TaskRunner.js"
import { agentFailureReport, type FailureReport, setupFailureReport } from "./gateway/failureText.js"
import { composePrompt } from "./gateway/prompt.js"
import { costFooter } from "./gateway/replyFooter.js"

/** A step before the agent ran failed; `stage` is how the person is told what it was. */
class SetupFailed extends Data.TaggedError("SetupFailed")<{
  readonly stage: string
  readonly detail: string
}> {}

const failedAt =
  (stage: string) =>
  (e: { readonly message: string }): SetupFailed =>
    new SetupFailed({ stage, detail: e.message })

/**
 * Without an allowlist file the agent may reach the Anthropic API and nothing else: enough to
 * work on the checkout, and the smallest reach that still lets Claude Code run.
 */
const anthropicOnly: NetworkAllowlist = {
  domains: [],
  url_prefixes: [
    { host: "api.anthropic.com", path: "/v1/messages*", methods: ["POST"] },
    { host: "api.anthropic.com", path: "/api/*", methods: ["GET", "POST", "HEAD"] },
  ],
}

/** A conversation's directories on the host; `claude` holds its sessions for `--resume`. */
export interface ConversationDirs {
  readonly root: string
  readonly workspace: string
  readonly inbox: string
  readonly outbox: string
  readonly storage: string
  readonly claude: string
}

export const makeTaskRunner = Effect.gen(function* () {
  const store = yield* ConversationStore
  const mirror = yield* GitMirror
  const images = yield* ImageCache
  const isolation = yield* NetworkIsolation
  const proxy = yield* NetworkProxy
  const executor = yield* AgentExecutor
  const gatewayConfig = yield* GatewayConfig
  const { stateDir } = yield* AirutPaths
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path

  const dirsOf = (conversation: Conversation): ConversationDirs => {
    const root = path.join(stateDir, "conversations", conversation.id)
    return {
      root,
      workspace: path.join(root, "workspace"),
      inbox: path.join(root, "inbox"),
      outbox: path.join(root, "outbox"),
      storage: path.join(root, "storage"),
      claude: path.join(root, "claude"),
    }
  }

  /** The workspace is cloned once, when the conversation starts (or if it was lost). */
  const prepareWorkspace = (repo: MirroredRepo, dirs: ConversationDirs) =>
    Effect.gen(function* () {
      for (const dir of [dirs.inbox, dirs.outbox, dirs.storage, dirs.claude]) {
        yield* fs
          .makeDirectory(dir, { recursive: true })
          .pipe(Effect.mapError(failedAt("preparing the workspace")))
      }
      const cloned = yield* fs
        .exists(path.join(dirs.workspace, ".git"))
        .pipe(Effect.mapError(failedAt("preparing the workspace")))
      if (!cloned)
        yield* mirror
          .cloneInto(repo, dirs.workspace)
          .pipe(Effect.mapError(failedAt("cloning the repository")))
    })

  /** The allowlist of the default branch; never the workspace's, which the agent can edit. */
  const readAllowlist = (repo: MirroredRepo) =>
    Effect.gen(function* () {
      const file = yield* mirror
        .readFile(repo, networkAllowlistPath)
        .pipe(Effect.mapError(failedAt("reading the network allowlist")))
      if (Option.isNone(file)) {
        yield* Effect.logWarning(
          `${repo.repoId}: no ${networkAllowlistPath} on the default branch; the agent may reach the Anthropic API only`,
        )
        return anthropicOnly
      }
      return yield* decodeNetworkAllowlist(new TextDecoder().decode(file.value)).pipe(
        Effect.mapError(failedAt(`reading ${networkAllowlistPath}`)),
      )
    })

  const buildImage = (repo: MirroredRepo, repoConfig: RepoConfig) =>
    Effect.gen(function* () {
      const stage = "building the container image"
      const context = yield* mirror
        .readTree(repo, repoConfig.container_path)
        .pipe(Effect.mapError(failedAt(stage)))
      if (!context.has("Dockerfile")) {
        return yield* new SetupFailed({
          stage,
          detail: `the default branch has no ${repoConfig.container_path}/Dockerfile (set container_path in the server config if it lives elsewhere)`,
        })
      }
      const image = yield* images
        .ensureImage({ context, entrypoint: "agent" })
        .pipe(Effect.mapError(failedAt(stage)))
      return image.tag
    })

  const plainSecrets = (repoConfig: RepoConfig): Record<string, string> =>
    Object.fromEntries(
      Object.entries(repoConfig.secrets).map(([name, value]) => [name, Redacted.value(value)]),
    )

  /** The proxy for a sandboxed repository: isolation proven first, failing closed. */
  const startSandbox = (job: TaskJob, repo: MirroredRepo, repoConfig: RepoConfig, config: ServerConfig) =>
    Effect.gen(function* () {
      yield* isolation.ensureIsolated.pipe(Effect.mapError(failedAt("proving the network sandbox")))
      const allowlist = yield* readAllowlist(repo)
      const upstreamCaPem = yield* Option.fromNullable(config.network.upstream_ca_file).pipe(
        Option.match({
          onNone: () => Effect.succeed(undefined),
          onSome: (file) =>
            fs.readFileString(file).pipe(Effect.mapError(failedAt("reading network.upstream_ca_file"))),
        }),
      )
      const upstreamDns = config.network.upstream_dns
      const handle = yield* proxy
        .start({
          taskId: job.taskId,
          conversationId: job.conversationId,
          allowlist,
          maskedSecrets: repoConfig.masked_secrets,
          signingCredentials: repoConfig.signing_credentials,
          upstreamOverrides: config.network.upstream_overrides ?? {},
          ...(upstreamCaPem === undefined ? {} : { upstreamCaPem }),
          ...(upstreamDns === undefined ? {} : { upstreamDns: [upstreamDns] }),
        })
        .pipe(Effect.mapError(failedAt("starting the network proxy")))
      const network = yield* Option.match(handle.network, {
        onNone: () =>
          new SetupFailed({
            stage: "starting the network proxy",
            detail: "the proxy has no container network to confine the agent",
          }),
        onSome: Effect.succeed,
      })
      return {
        env: handle.env,
        sandbox: { network, proxyIp: handle.dnsServer, caCertPath: handle.caCert.hostPath },
      }
    })

  /** Sends the answer with the outbox; the outbox is cleared only once the reply went out. */
  const deliver = (
    job: TaskJob,
    conversation: Conversation,
    dirs: ConversationDirs,
    text: string,
    footer: string,
  ) =>
    Effect.gen(function* () {
      const latest = latestOf(job)
      const target = replyTargetOf(latest, conversation.id)
      const files = yield* listOutboxFiles(dirs.outbox).pipe(Effect.mapError(failedAt("reading the outbox")))
      const sent = yield* job.channel.reply(target, { text, footer: Option.some(footer), outboxFiles: files })
      yield* clearOutboxFiles(files.filter((f) => !sent.unattached.includes(f.fileName))).pipe(
        Effect.catchAll((e) =>
          Effect.logWarning(`could not clear the outbox of ${conversation.id}: ${e.message}`),
        ),
      )
      yield* store.addThreadKeys(conversation.id, [sent.messageId])
      return sent
    })

  const tellFailure = (job: TaskJob, conversationId: Conversation["id"], report: FailureReport) => {
    const latest = latestOf(job)
    return job.channel.replyError(replyTargetOf(latest, conversationId), report.text).pipe(
      Effect.flatMap((sent) => store.addThreadKeys(conversationId, [sent.messageId])),
      Effect.as<TaskResult>({ reason: report.reason, detail: report.detail }),
      Effect.catchAll((e) =>
        Effect.logError(`could not tell ${latest.sender} that task ${job.taskId} failed: ${e.message}`).pipe(
          Effect.as<TaskResult>({
            reason: "channel_error",
            detail: `${report.detail}; the error reply failed: ${e.message}`,
          }),
        ),
      ),
    )
  }

  const run = (job: TaskJob): Effect.Effect<TaskResult> =>
    Effect.gen(function* () {
      const config = yield* gatewayConfig.current
      const conversation = yield* store
        .getConversation(job.conversationId)
        .pipe(Effect.mapError(failedAt("loading the conversation")))
      const repoConfig = config.repos[conversation.repoId]
      if (repoConfig === undefined) {
        return yield* new SetupFailed({
          stage: "loading the configuration",
          detail: `repository ${conversation.repoId} is no longer in the server config`,
        })
      }
      const repo: MirroredRepo = { repoId: conversation.repoId, url: repoConfig.repo_url }
      const dirs = dirsOf(conversation)
      const target = replyTargetOf(latestOf(job), conversation.id)
      yield* job.channel.progress(target, TaskProgress.Preparing())

      // Repository files come from a fresh mirror of the default branch, never the workspace.
      yield* mirror.refresh(repo).pipe(Effect.mapError(failedAt("fetching the repository")))
      yield* prepareWorkspace(repo, dirs)
      const image = yield* buildImage(repo, repoConfig)

      const messages = yield* Effect.forEach(job.messages, (message) =>
        saveAttachments(dirs.inbox, message.attachments).pipe(
          Effect.map((savedAttachments) => ({ message, savedAttachments })),
          Effect.mapError(failedAt("saving the attachments")),
        ),
      )
      const prompt = composePrompt(conversation.channel, messages)

      const lastReply = yield* lastReplyOf(conversation)
      // The proxy lives exactly as long as the agent: it is gone before the answer is sent.
      const agentRun = Effect.gen(function* () {
        const sandbox = repoConfig.network.sandbox_enabled
          ? Option.some(yield* startSandbox(job, repo, repoConfig, config))
          : Option.none()
        const request: AgentRequest = {
          taskId: job.taskId,
          conversationId: conversation.id,
          repoId: conversation.repoId,
          image,
          claudeVersion: repoConfig.claude_version,
          hostPaths: {
            workspace: dirs.workspace,
            inbox: dirs.inbox,
            outbox: dirs.outbox,
            storage: dirs.storage,
            claudeState: dirs.claude,
          },
          prompt,
          model: conversation.model,
          ...Option.match(conversation.effort, {
            onNone: () => ({}),
            onSome: (effort) => (isEffort(effort) ? { effort } : {}),
          }),
          ...Option.match(conversation.sessionId, {
            onNone: () => ({}),
            onSome: (sessionId) => ({ sessionId }),
          }),
          ...lastReply,
          env: {
            ...plainSecrets(repoConfig),
            ...Option.match(sandbox, { onNone: () => ({}), onSome: (s) => s.env }),
          },
          limits: repoConfig.resource_limits,
          ...(repoConfig.resource_limits.timeout === undefined
            ? {}
            : { timeout: Duration.seconds(repoConfig.resource_limits.timeout) }),
          ...Option.match(sandbox, { onNone: () => ({}), onSome: (s) => ({ sandbox: s.sandbox }) }),
        }

        const started = yield* executor.start(request)
        yield* job.channel.progress(target, TaskProgress.Running())
        // The channel shows the agent's plan as it changes; the last one is shown before the reply.
        const plans = yield* started.events.pipe(
          Stream.filterMap(todosOf),
          Stream.runForEach((todos) => job.channel.progress(target, TaskProgress.Plan({ todos }))),
          Effect.fork,
        )
        const outcome = yield* Effect.either(started.outcome)
        yield* Fiber.join(plans)
        return outcome
      }).pipe(Effect.scoped)
      const outcome = yield* agentRun
      if (Either.isLeft(outcome)) {
        const report = agentFailureReport(outcome.left)
        yield* Effect.logWarning(`task ${job.taskId} failed: ${report.detail}`)
        return yield* tellFailure(job, conversation.id, report)
      }
      const answer = outcome.right
      yield* store
        .recordReply({
          conversationId: conversation.id,
          taskId: job.taskId,
          sessionId: answer.sessionId,
          durationMs: answer.durationMs,
          costUsd: answer.costUsd,
          turns: answer.turns,
          usage: answer.usage,
          requestText: prompt,
          responseText: answer.replyText,
          outcome: answer.recovered ? "recovered" : "success",
        })
        .pipe(Effect.mapError(failedAt("recording the reply")))
      return yield* deliver(job, conversation, dirs, answer.replyText, costFooter(answer)).pipe(
        Effect.as<TaskResult>({ reason: "success" }),
        Effect.catchTag("ChannelSendFailed", (e) =>
          Effect.logError(`task ${job.taskId}: the answer could not be delivered: ${e.message}`).pipe(
            Effect.as<TaskResult>({
              reason: "channel_error",
              detail: `${e.message}; the outbox is kept`,
            }),
          ),
        ),
      )
    }).pipe(
      Effect.catchTags({
        SetupFailed: (e) =>
          Effect.logError(`task ${job.taskId} did not run: ${e.stage}: ${e.detail}`).pipe(
            Effect.zipRight(tellFailure(job, job.conversationId, setupFailureReport(e.stage, e.detail))),
          ),
        ConversationNotFound: (e) =>
          Effect.succeed<TaskResult>({ reason: "internal_error", detail: e.message }),
        StoreError: (e) => Effect.succeed<TaskResult>({ reason: "internal_error", detail: e.message }),
      }),
      Effect.annotateLogs({ taskId: job.taskId, conversationId: job.conversationId }),
      Effect.withSpan("TaskRunner.run", { attributes: { taskId: job.taskId } }),
    )

  /** The last answer, for the recovery prompt when the session cannot be resumed. */
  const lastReplyOf = (conversation: Conversation) =>
    store.listReplies(conversation.id).pipe(
      Effect.map((replies) => {
        const last = replies[replies.length - 1]
        return last === undefined ? {} : { lastReply: last.responseText }
      }),
      Effect.mapError(failedAt("loading the conversation")),
    )

  return TaskRunner.of({ run })
})

const isEffort = Schema.is(Effort)

/** The answer goes to the newest message of the run (coalesced ones are older). */
const latestOf = (job: TaskJob) => job.messages[job.messages.length - 1] ?? job.messages[0]

/** Requires the store, git mirror, image cache, isolation probe, proxy, executor and the live config. */
export const TaskRunnerLive = Layer.effect(TaskRunner, makeTaskRunner)
