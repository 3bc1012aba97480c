import { Context, Effect, Fiber, Option, Queue, Schema, type Scope, Stream, Take } from "effect"
import type { AgentEvent } from "../schema/AgentEvent.js"
import type { AgentOutcome } from "../schema/AgentOutcome.js"
import type { AgentRequest, AgentSandbox } from "../schema/AgentRequest.js"
import type { ProxyHandle } from "./NetworkProxy.js"

/**
 * The run hit its time limit. The container is gone; the workspace keeps its work and the
 * session the run had started (if it got that far) is the conversation's resume target.
 */
export class TaskTimeout extends Schema.TaggedError<TaskTimeout>()("TaskTimeout", {
  timeoutMs: Schema.Number,
  sessionId: Schema.OptionFromNullOr(Schema.String),
}) {
  override get message(): string {
    return `the agent did not finish within ${Math.round(this.timeoutMs / 1000)} s`
  }
}

/** The conversation no longer fits the model's context window. */
export class PromptTooLong extends Schema.TaggedError<PromptTooLong>()("PromptTooLong", {
  sessionId: Schema.OptionFromNullOr(Schema.String),
  detail: Schema.String,
}) {
  override get message(): string {
    return `the prompt is too long: ${this.detail}`
  }
}

/**
 * The session could not be resumed: the API rejected the resumed conversation (a 400), or the
 * CLI found no transcript for it.
 */
export class SessionCorrupted extends Schema.TaggedError<SessionCorrupted>()("SessionCorrupted", {
  sessionId: Schema.String,
  detail: Schema.String,
}) {
  override get message(): string {
    return `session ${this.sessionId} cannot be resumed: ${this.detail}`
  }
}

/**
 * The agent ran and failed: an error result (API error, turn limit, ...) or a non-zero exit
 * without one. `lastLines` is the end of what it said, for the error reply.
 */
export class ContainerFailed extends Schema.TaggedError<ContainerFailed>()("ContainerFailed", {
  exitCode: Schema.Number,
  detail: Schema.String,
  lastLines: Schema.Array(Schema.String),
  sessionId: Schema.OptionFromNullOr(Schema.String),
}) {
  override get message(): string {
    return `the agent failed (exit ${this.exitCode}): ${this.detail}`
  }
}

/**
 * The run could not be carried out: the Claude binary was unavailable, the engine refused the
 * container, the store could not record the events. Not the agent's doing.
 */
export class ExecutorFailed extends Schema.TaggedError<ExecutorFailed>()("ExecutorFailed", {
  stage: Schema.Literal("binary", "container", "store"),
  detail: Schema.String,
}) {
  override get message(): string {
    return `could not run the agent (${this.stage}): ${this.detail}`
  }
}

/** How a run ends when it does not end with an answer. */
export type AgentFailure = TaskTimeout | PromptTooLong | SessionCorrupted | ContainerFailed | ExecutorFailed

/** A started run: its events as they arrive, and its outcome. */
export interface AgentRun {
  /**
   * This run's events in order (those of a recovery retry included); ends when the run ends.
   * One consumer; events are buffered until read.
   */
  readonly events: Stream.Stream<AgentEvent>
  /** Waits for the outcome. */
  readonly outcome: Effect.Effect<AgentOutcome, AgentFailure>
}

/**
 * Runs Claude Code headless in the task's sandbox container. Every stdout line is appended to
 * the store as it arrives (the dashboard tails it). A run that resumes a session the API
 * rejects, or that no longer fits the context, is retried once in a fresh session with a
 * recovery prompt (see AgentRecovery.ts).
 */
export interface AgentExecutorShape {
  /** Runs to the end. Interrupting it stops the container (SIGTERM, then kill after a grace period). */
  readonly run: (request: AgentRequest) => Effect.Effect<AgentOutcome, AgentFailure>
  /** Starts a run in the scope (closing the scope stops it) and exposes its events. */
  readonly start: (request: AgentRequest) => Effect.Effect<AgentRun, never, Scope.Scope>
}

export class AgentExecutor extends Context.Tag("airut/AgentExecutor")<AgentExecutor, AgentExecutorShape>() {}

/**
 * `start` for any executor: runs `runWith` in the caller's scope with its events fed to a queue
 * that ends when the run ends, however it ends.
 */
export const startRun = (
  runWith: (emit: (event: AgentEvent) => Effect.Effect<void>) => Effect.Effect<AgentOutcome, AgentFailure>,
): Effect.Effect<AgentRun, never, Scope.Scope> =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<Take.Take<AgentEvent>>()
    const fiber = yield* runWith((event) => Queue.offer(queue, Take.of(event))).pipe(
      Effect.ensuring(Queue.offer(queue, Take.end)),
      Effect.forkScoped,
    )
    const run: AgentRun = {
      events: Stream.fromQueue(queue).pipe(Stream.flattenTake),
      outcome: Fiber.join(fiber),
    }
    return run
  })

/**
 * Claude Code's arguments for a request: headless, prompt from stdin, no permission prompts
 * (the sandbox is the boundary), one JSON event per line. `--verbose` is required by the CLI
 * for stream-json in print mode.
 */
export const claudeArgs = (request: {
  readonly model: string
  readonly effort?: string
  readonly sessionId?: string
}): ReadonlyArray<string> => [
  ...(request.sessionId === undefined ? [] : ["--resume", request.sessionId]),
  "--model",
  request.model,
  ...(request.effort === undefined ? [] : ["--effort", request.effort]),
  "-p",
  "-",
  "--dangerously-skip-permissions",
  "--output-format",
  "stream-json",
  "--verbose",
]

/**
 * What a task's proxy decides about the agent's request: the sandbox (its network, the proxy as
 * DNS, the CA to trust) and the environment it hands out (surrogates in place of masked
 * secrets, CA variables). None for a proxy without a container network (the in-process one),
 * which cannot confine a container.
 */
export const sandboxFromProxy = (
  handle: ProxyHandle,
): Option.Option<{ readonly sandbox: AgentSandbox; readonly env: Readonly<Record<string, string>> }> =>
  Option.map(handle.network, (network) => ({
    sandbox: { network, proxyIp: handle.dnsServer, caCertPath: handle.caCert.hostPath },
    env: handle.env,
  }))
