import { Chunk, Duration, Effect, Either, Exit, Fiber, Layer, Option, Ref, Stream } from "effect"
import { type AgentEvent, parseAgentLine } from "../schema/AgentEvent.js"
import type { AgentRequest } from "../schema/AgentRequest.js"
import { agentContainerSpec, agentMountTargets } from "../schema/RunPolicy.js"
import { classify, emptySummary, summarize } from "../services/AgentClassifier.js"
import {
  AgentExecutor,
  claudeArgs,
  ExecutorFailed,
  startRun,
  TaskTimeout,
} from "../services/AgentExecutor.js"
import { withRecovery } from "../services/AgentRecovery.js"
import { ClaudeBinary } from "../services/ClaudeBinary.js"
import { ContainerRuntime } from "../services/ContainerRuntime.js"
import { runContainer, stopContainerGently } from "../services/ContainerScope.js"
import { ConversationStore } from "../services/ConversationStore.js"
import { SecretRedactor } from "../services/SecretRedactor.js"

export interface AgentExecutorOptions {
  /** How long a stopped run may take to exit after SIGTERM before it is killed (default 5 s). */
  readonly stopGrace?: Duration.DurationInput
}

/** Lines of stderr kept for a failure's report. */
const stderrKept = 40

const keepTail = (tail: ReadonlyArray<string>, line: string) =>
  line.trim() === "" ? tail : [...tail, line].slice(-stderrKept)

export const makeAgentExecutor = (options: AgentExecutorOptions = {}) =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    const binaries = yield* ClaudeBinary
    const store = yield* ConversationStore
    const redactor = yield* SecretRedactor
    const stopGrace = Duration.decode(options.stopGrace ?? Duration.seconds(5))

    const containerFailure = (error: { readonly message: string }) =>
      new ExecutorFailed({ stage: "container", detail: error.message })
    const storeFailure = (error: { readonly message: string }) =>
      new ExecutorFailed({ stage: "store", detail: error.message })

    /** One run of the CLI, without recovery. `emit` sees every event. */
    const attempt = (
      request: AgentRequest,
      binaryPath: string,
      emit: (event: AgentEvent) => Effect.Effect<void>,
    ) =>
      Effect.scoped(
        Effect.gen(function* () {
          const summary = yield* Ref.make(emptySummary)
          const spec = agentContainerSpec({
            image: request.image,
            taskId: request.taskId,
            conversationId: request.conversationId,
            repoId: request.repoId,
            hostPaths: { ...request.hostPaths, claudeBinary: binaryPath },
            args: claudeArgs(request),
            // Claude keeps its config beside the session transcripts, in the mounted state dir,
            // instead of an ephemeral ~/.claude.json in the container.
            env: { CLAUDE_CONFIG_DIR: agentMountTargets.claudeState, ...request.env },
            limits: request.limits,
            ...(request.sandbox === undefined ? {} : { sandbox: request.sandbox }),
          })
          const container = yield* runContainer(spec, { stdin: request.prompt }).pipe(
            Effect.provideService(ContainerRuntime, runtime),
            Effect.mapError(containerFailure),
          )
          yield* Effect.addFinalizer((exit) =>
            // A stop gives Claude Code a SIGTERM and a grace period to exit before the release.
            Exit.isInterrupted(exit)
              ? stopContainerGently(container.id, stopGrace).pipe(
                  Effect.provideService(ContainerRuntime, runtime),
                )
              : Effect.void,
          )
          const stderr = yield* container.stderr.pipe(
            Stream.map(redactor.redact),
            Stream.runFold<ReadonlyArray<string>, string>([], keepTail),
            Effect.mapError(containerFailure),
            Effect.fork,
          )
          // Stored first (the dashboard tails the store), then folded and published. Secrets the
          // container was given as they are (plain `secrets`) are masked before anything keeps
          // a line: the agent may well print its environment.
          yield* container.stdout.pipe(
            Stream.mapError(containerFailure),
            Stream.runForEachChunk((chunk) =>
              Effect.gen(function* () {
                const lines = Chunk.toReadonlyArray(chunk).map(redactor.redact)
                yield* store.appendEvents(request.taskId, lines).pipe(Effect.mapError(storeFailure))
                for (const line of lines) {
                  const event = parseAgentLine(line)
                  yield* Ref.update(summary, (s) => summarize(s, event))
                  yield* emit(event)
                }
              }),
            ),
          )
          const exit = yield* container.wait.pipe(Effect.mapError(containerFailure))
          const stderrTail = yield* Fiber.join(stderr)
          const verdict = classify(yield* Ref.get(summary), {
            exitCode: exit.exitCode,
            oomKilled: exit.oomKilled,
            stderrTail,
            resumed: Option.fromNullable(request.sessionId),
          })
          if (Either.isRight(verdict) && exit.exitCode !== 0) {
            yield* Effect.logWarning(`the agent answered, then exited with ${exit.exitCode}`)
          }
          return yield* verdict
        }),
      ).pipe(
        Effect.withSpan("AgentExecutor.attempt", {
          attributes: { taskId: request.taskId, resume: request.sessionId ?? "" },
        }),
      )

    /**
     * The whole run: the binary (fetched before the clock starts: a first download is not the
     * agent's time), then the attempt and its recovery retry, together within the time limit.
     */
    const runWith = (request: AgentRequest, emit: (event: AgentEvent) => Effect.Effect<void>) =>
      Effect.gen(function* () {
        const binary = yield* binaries
          .ensure(request.claudeVersion)
          .pipe(Effect.mapError((e) => new ExecutorFailed({ stage: "binary", detail: e.message })))
        // The session the latest attempt announced: what a timed-out run leaves to resume.
        const session = yield* Ref.make(Option.none<string>())
        const observe = (event: AgentEvent) =>
          (event._tag === "SystemInit" ? Ref.set(session, Option.some(event.session_id)) : Effect.void).pipe(
            Effect.zipRight(emit(event)),
          )
        const runs = withRecovery((r: AgentRequest) => attempt(r, binary.path, observe))(request)
        if (request.timeout === undefined) return yield* runs
        const timeout = request.timeout
        return yield* runs.pipe(
          Effect.timeout(timeout),
          Effect.catchTag("TimeoutException", () =>
            Effect.gen(function* () {
              const sessionId = yield* Ref.get(session)
              // The next message resumes what this run got done.
              if (Option.isSome(sessionId)) {
                yield* store
                  .setSession(request.conversationId, sessionId.value)
                  .pipe(Effect.mapError(storeFailure))
              }
              return yield* new TaskTimeout({ timeoutMs: Duration.toMillis(timeout), sessionId })
            }),
          ),
        )
      }).pipe(
        Effect.onInterrupt(() => recordStopped(request)),
        Effect.annotateLogs({ taskId: request.taskId, conversationId: request.conversationId }),
      )

    /**
     * An interrupted run is a stopped task. Whoever interrupts for another reason (shutdown
     * marks its tasks `interrupted`) completes the task first, and the first completion stands;
     * a task the store does not track (a library caller's) has nothing to record.
     */
    const recordStopped = (request: AgentRequest) =>
      store
        .updateTaskState(request.taskId, {
          state: "completed",
          reason: "stopped",
          detail: "the run was stopped; its container was stopped and removed",
        })
        .pipe(
          Effect.asVoid,
          Effect.catchTags({
            TaskNotFound: () => Effect.void,
            TaskAlreadyCompleted: () => Effect.void,
            StoreError: (e) =>
              Effect.logWarning(`could not record task ${request.taskId} as stopped: ${e.message}`),
          }),
        )

    const run = (request: AgentRequest) => runWith(request, () => Effect.void)

    const start = (request: AgentRequest) => startRun((emit) => runWith(request, emit))

    return AgentExecutor.of({ run, start })
  })

export const AgentExecutorLive = (options: AgentExecutorOptions = {}) =>
  Layer.effect(AgentExecutor, makeAgentExecutor(options))
