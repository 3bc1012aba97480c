import { FileSystem, Path } from "@effect/platform"
import { Cause, Duration, Effect, Fiber, Layer, Option, Ref, Stream } from "effect"
import type { AgentRequest } from "../schema/AgentRequest.js"
import { commandContainerSpec } from "../schema/CommandRunPolicy.js"
import { AgentExecutor, sandboxFromProxy } from "../services/AgentExecutor.js"
import { type BuildContext, ContainerRuntime } from "../services/ContainerRuntime.js"
import { runContainer, stopContainerGently } from "../services/ContainerScope.js"
import { ConversationStore } from "../services/ConversationStore.js"
import { ImageCache } from "../services/ImageCache.js"
import { NetworkIsolation } from "../services/NetworkIsolation.js"
import { NetworkProxy, ProxyFailed, type ProxyHandle } from "../services/NetworkProxy.js"
import {
  type CommandExit,
  CommandFailed,
  type CommandOptions,
  type CommandRun,
  CommandTimeout,
  type ImageSource,
  ImageSourceUnreadable,
  type PromptRequest,
  Sandbox,
  type SandboxImage,
  type SandboxTask,
  type TaskOptions,
  TaskSetupFailed,
} from "../services/Sandbox.js"

export interface SandboxOptions {
  /** How long a stopped command may take to exit after SIGTERM before it is killed (default 5 s). */
  readonly stopGrace?: Duration.DurationInput
}

export const makeSandbox = (options: SandboxOptions = {}) =>
  Effect.gen(function* () {
    const images = yield* ImageCache
    const isolation = yield* NetworkIsolation
    const proxy = yield* NetworkProxy
    const executor = yield* AgentExecutor
    const runtime = yield* ContainerRuntime
    const store = yield* ConversationStore
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const stopGrace = Duration.decode(options.stopGrace ?? Duration.seconds(5))

    /** Every regular file under `dir`, by its relative path with forward slashes. */
    const readContextDir = (dir: string) =>
      Effect.gen(function* () {
        const unreadable = (e: { readonly message: string }) =>
          new ImageSourceUnreadable({ path: dir, detail: e.message })
        const entries = yield* fs.readDirectory(dir, { recursive: true }).pipe(Effect.mapError(unreadable))
        const files = yield* Effect.forEach(
          entries,
          (entry) =>
            Effect.gen(function* () {
              const full = path.join(dir, entry)
              const info = yield* fs.stat(full)
              if (info.type !== "File") return Option.none()
              const bytes = yield* fs.readFile(full)
              const file: readonly [string, Uint8Array] = [entry.split(path.sep).join("/"), bytes]
              return Option.some(file)
            }).pipe(Effect.mapError(unreadable)),
          { concurrency: 8 },
        )
        const context: BuildContext = new Map(files.flatMap((f) => (Option.isSome(f) ? [f.value] : [])))
        return context
      })

    const ensureImage = Effect.fn("Sandbox.ensureImage")(function* (source: ImageSource) {
      const context = "dir" in source ? yield* readContextDir(source.dir) : source
      // One repository layer, two overlays: the agent's entrypoint and the command's. The cache
      // builds the shared repository layer once even when both ask for it at the same time.
      const [agent, command] = yield* Effect.all(
        [
          images.ensureImage({ context, entrypoint: "agent" }),
          images.ensureImage({ context, entrypoint: "passthrough" }),
        ],
        { concurrency: 2 },
      )
      const image: SandboxImage = {
        repoTag: agent.repoTag,
        agentTag: agent.tag,
        commandTag: command.tag,
        repo: agent.repo === "cached" ? command.repo : agent.repo,
      }
      return image
    })

    const task = (taskOptions: TaskOptions) =>
      Effect.gen(function* () {
        const name = taskOptions.name ?? "sandbox"
        const network = taskOptions.network
        // Fail closed: nothing runs on a network this engine has not been proven to isolate.
        // Asked here (not only inside the proxy) so the caller gets the probe's own error.
        if (network.kind === "sandboxed") yield* isolation.ensureIsolated
        else {
          yield* Effect.logWarning(
            `sandbox task ${name} runs with an open network: no allowlist, no credential swap`,
          )
        }

        // The executor and the proxy record events and network rows per task; the record goes
        // with the task, so a long-lived program does not accumulate them.
        const setupFailed = (stage: TaskSetupFailed["stage"]) => (e: { readonly message: string }) =>
          new TaskSetupFailed({ stage, detail: e.message })
        const conversation = yield* Effect.acquireRelease(
          store
            .createConversation({ repoId: name, channel: "email", threadKeys: [], model: "" })
            .pipe(Effect.mapError(setupFailed("record"))),
          (c) =>
            store
              .deleteConversation(c.id)
              .pipe(
                Effect.catchAllCause((cause) =>
                  Effect.logWarning(`could not drop the record of sandbox task ${name}`, Cause.pretty(cause)),
                ),
              ),
        )
        const record = yield* store
          .createTask({ conversationId: conversation.id, sender: "sandbox", title: name })
          .pipe(Effect.mapError(setupFailed("record")))

        const dir = (given: string | undefined) =>
          given === undefined
            ? fs
                .makeTempDirectoryScoped({ prefix: "airut-sandbox-" })
                .pipe(Effect.mapError(setupFailed("directories")))
            : Effect.succeed(given)
        const given = taskOptions.agentDirs ?? {}
        const hostPaths = {
          workspace: taskOptions.workspace,
          inbox: yield* dir(given.inbox),
          outbox: yield* dir(given.outbox),
          storage: yield* dir(given.storage),
          claudeState: yield* dir(given.claudeState),
        }

        const handle: Option.Option<ProxyHandle> =
          network.kind === "sandboxed"
            ? Option.some(
                yield* proxy.start({
                  taskId: record.id,
                  conversationId: conversation.id,
                  allowlist: network.allowlist,
                  maskedSecrets: network.maskedSecrets ?? {},
                  signingCredentials: network.signingCredentials ?? {},
                  upstreamOverrides: network.upstreamOverrides ?? {},
                  ...(network.upstreamCaPem === undefined ? {} : { upstreamCaPem: network.upstreamCaPem }),
                }),
              )
            : Option.none()
        const confinement = Option.flatMap(handle, sandboxFromProxy)
        if (Option.isSome(handle) && Option.isNone(confinement)) {
          // A proxy without a container network (the in-process one) confines nothing.
          return yield* new ProxyFailed({
            reason: "network",
            detail: "the proxy gave no container network; the task would not be isolated",
          })
        }
        const sandbox = Option.map(confinement, (c) => c.sandbox)
        const env = {
          ...taskOptions.env,
          ...Option.getOrElse(
            Option.map(confinement, (c) => c.env),
            () => ({}),
          ),
        }
        const limits = taskOptions.limits ?? {}

        const agentRequest = (request: PromptRequest): AgentRequest => ({
          taskId: record.id,
          conversationId: conversation.id,
          repoId: name,
          image: taskOptions.image.agentTag,
          claudeVersion: request.claudeVersion,
          hostPaths,
          prompt: request.prompt,
          model: request.model,
          ...(request.effort === undefined ? {} : { effort: request.effort }),
          ...(request.sessionId === undefined ? {} : { sessionId: request.sessionId }),
          ...(request.lastReply === undefined ? {} : { lastReply: request.lastReply }),
          env,
          limits,
          ...(request.timeout === undefined ? {} : { timeout: Duration.decode(request.timeout) }),
          ...(Option.isSome(sandbox) ? { sandbox: sandbox.value } : {}),
        })

        const run = (command: ReadonlyArray<string>, runOptions: CommandOptions = {}) =>
          Effect.gen(function* () {
            const failed = (e: { readonly message: string }) =>
              new CommandFailed({ command, detail: e.message })
            const spec = commandContainerSpec({
              image: taskOptions.image.commandTag,
              command,
              workspace: taskOptions.workspace,
              mounts: taskOptions.mounts ?? [],
              env: {
                ...taskOptions.env,
                ...runOptions.env,
                ...Option.getOrElse(
                  Option.map(confinement, (c) => c.env),
                  () => ({}),
                ),
              },
              labels: { "airut.task": record.id, "airut.role": "command", "airut.sandbox": name },
              limits,
              ...(runOptions.workingDir === undefined ? {} : { workingDir: runOptions.workingDir }),
              stdin: runOptions.stdin !== undefined,
              ...(Option.isSome(sandbox) ? { sandbox: sandbox.value } : {}),
            })
            const container = yield* runContainer(
              spec,
              runOptions.stdin === undefined ? {} : { stdin: runOptions.stdin },
            ).pipe(Effect.provideService(ContainerRuntime, runtime), Effect.mapError(failed))
            const ended = yield* Ref.make(false)
            // Runs before the container's removal: a command still running when the scope
            // closes (the caller was interrupted) gets SIGTERM and a grace period first.
            yield* Effect.addFinalizer(() =>
              Effect.flatMap(Ref.get(ended), (done) =>
                done
                  ? Effect.void
                  : stopContainerGently(container.id, stopGrace).pipe(
                      Effect.provideService(ContainerRuntime, runtime),
                    ),
              ),
            )
            const waited = container.wait.pipe(
              Effect.map((exit): CommandExit => ({ exitCode: exit.exitCode, oomKilled: exit.oomKilled })),
              Effect.mapError(failed),
              Effect.tap(() => Ref.set(ended, true)),
            )
            const timeout = runOptions.timeout === undefined ? undefined : Duration.decode(runOptions.timeout)
            const bounded =
              timeout === undefined
                ? waited
                : waited.pipe(
                    Effect.timeoutFail({
                      duration: timeout,
                      onTimeout: () => new CommandTimeout({ command, timeoutMs: Duration.toMillis(timeout) }),
                    }),
                    // Killed now, so its output streams end; removed when the scope closes.
                    Effect.tapErrorTag("CommandTimeout", () =>
                      runtime.killContainer(container.id).pipe(
                        Effect.zipRight(Ref.set(ended, true)),
                        Effect.catchAllCause((cause) =>
                          Effect.logWarning("could not kill a timed-out command", Cause.pretty(cause)),
                        ),
                      ),
                    ),
                  )
            // The clock starts now, whether or not the caller reads the output first.
            const exit = yield* Effect.forkScoped(bounded)
            const started: CommandRun = {
              stdout: container.stdout,
              stderr: container.stderr,
              stdoutBytes: container.stdoutBytes,
              stderrBytes: container.stderrBytes,
              exit: Fiber.join(exit),
            }
            return started
          }).pipe(Effect.withSpan("Sandbox.run", { attributes: { task: record.id } }))

        const opened: SandboxTask = {
          id: record.id,
          sandboxed: Option.isSome(handle),
          networkLog: Option.match(handle, { onNone: () => Stream.empty, onSome: (h) => h.log }),
          prompt: (request) => executor.start(agentRequest(request)),
          promptToEnd: (request) => executor.run(agentRequest(request)),
          run,
        }
        return opened
      }).pipe(
        Effect.withSpan("Sandbox.task"),
        Effect.annotateLogs({ sandbox: taskOptions.name ?? "sandbox" }),
      )

    return Sandbox.of({ ensureImage, task })
  })

/** The sandbox library over the image cache, the isolation probe, the proxy and the executor. */
export const SandboxLive = (
  options: SandboxOptions = {},
): Layer.Layer<
  Sandbox,
  never,
  | ImageCache
  | NetworkIsolation
  | NetworkProxy
  | AgentExecutor
  | ContainerRuntime
  | ConversationStore
  | FileSystem.FileSystem
  | Path.Path
> => Layer.effect(Sandbox, makeSandbox(options))
