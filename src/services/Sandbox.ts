import { Context, Data, type Duration, type Effect, type Scope, type Stream } from "effect"
import type { AgentOutcome } from "../schema/AgentOutcome.js"
import type { Effort } from "../schema/AgentRequest.js"
import type { BindMount } from "../schema/ContainerSpec.js"
import type { MaskedSecret, SigningCredential } from "../schema/Credentials.js"
import type { NetworkAllowlist } from "../schema/NetworkAllowlist.js"
import type { NetworkLogLine } from "../schema/NetworkLogLine.js"
import type { ResourceLimits } from "../schema/RunPolicy.js"
import type { TaskId } from "../schema/TaskId.js"
import type { AgentFailure, AgentRun } from "./AgentExecutor.js"
import type { BuildContext, ContainerError, EngineError, ImageBuildFailed } from "./ContainerRuntime.js"
import type { BuildOutcome } from "./ImageCache.js"
import type { IsolationUnsupported, NetworkNotIsolated, ProbeFailed } from "./NetworkIsolation.js"
import type { ProxyFailed } from "./NetworkProxy.js"

/**
 * The sandbox as a library: build a repository's image, open a sandboxed task (an isolated
 * network whose only way out is an allowlisting proxy that swaps surrogate credentials for real
 * ones), then run Claude Code or any command in it. For Effect programs that want the gateway's
 * isolation without the gateway (CI, `airut-sandbox`, scripts).
 */

/** Where an image comes from: a build context in memory, or a directory holding a `Dockerfile`. */
export type ImageSource = BuildContext | { readonly dir: string }

/** A two-layer image (the repository's Dockerfile, then our entrypoint), ready for tasks. */
export interface SandboxImage {
  /** The repository layer, built from the Dockerfile and its context. */
  readonly repoTag: string
  /** Overlay whose entrypoint runs the mounted Claude binary (`prompt`). */
  readonly agentTag: string
  /** Overlay whose entrypoint runs the given command (`run`). */
  readonly commandTag: string
  /** What the repository layer needed: `cached`, `built` or `rebuilt` (stale). */
  readonly repo: BuildOutcome
}

/** The image source could not be read (a missing directory, an unreadable file). */
export class ImageSourceUnreadable extends Data.TaggedError("ImageSourceUnreadable")<{
  readonly path: string
  readonly detail: string
}> {
  override get message(): string {
    return `cannot read the image source ${this.path}: ${this.detail}`
  }
}

/**
 * The network the task's containers get. `sandboxed` (the default) isolates them behind the
 * proxy; `open` gives them the engine's default network, with no allowlist and no credential
 * swap: the caller must ask for it by name.
 */
export type TaskNetwork =
  | {
      readonly kind: "sandboxed"
      readonly allowlist: NetworkAllowlist
      /** Variable → secret: the container sees a surrogate, the proxy swaps in the real value on the secret's hosts. */
      readonly maskedSecrets?: Readonly<Record<string, MaskedSecret>>
      /** Name → AWS credential: surrogate keys in the container, requests re-signed by the proxy. */
      readonly signingCredentials?: Readonly<Record<string, SigningCredential>>
      /** Host → `addr:port`: the proxy connects there instead (test upstreams). Logged as a warning. */
      readonly upstreamOverrides?: Readonly<Record<string, string>>
      /** Extra CA certificates (PEM) the proxy trusts upstream, e.g. a test upstream's CA. */
      readonly upstreamCaPem?: string
    }
  | { readonly kind: "open" }

export interface TaskOptions {
  readonly image: SandboxImage
  /** Host directory mounted read-write at `/workspace`, the working directory. */
  readonly workspace: string
  readonly network: TaskNetwork
  /** Plain environment of every container of the task (never a real secret: use maskedSecrets). */
  readonly env?: Readonly<Record<string, string>>
  readonly limits?: ResourceLimits
  /** More bind mounts for commands (`run`); the agent gets the workspace and its own directories. */
  readonly mounts?: ReadonlyArray<BindMount>
  /**
   * Host directories of the agent: Claude's state (its sessions, so a later task can resume one),
   * `/inbox`, `/outbox`, `/storage`. Each absent one is a fresh directory removed with the task.
   */
  readonly agentDirs?: {
    readonly claudeState?: string
    readonly inbox?: string
    readonly outbox?: string
    readonly storage?: string
  }
  /** A label for logs and container labels (default "sandbox"). */
  readonly name?: string
}

export interface PromptRequest {
  readonly prompt: string
  readonly model: string
  /** Exact Claude Code version; the binary is fetched once and mounted read-only. */
  readonly claudeVersion: string
  readonly effort?: Effort
  /** Resume this session (kept in `agentDirs.claudeState`). */
  readonly sessionId?: string
  /** The last answer of the resumed session, for the recovery prompt if it cannot be resumed. */
  readonly lastReply?: string
  /** Longest the run may take; `TaskTimeout` past it. */
  readonly timeout?: Duration.DurationInput
}

export interface CommandOptions {
  /** Longest the command may run; `CommandTimeout` past it (the container is killed). */
  readonly timeout?: Duration.DurationInput
  /** Written to stdin, which is then closed. No stdin when absent. */
  readonly stdin?: string | Uint8Array
  /** More environment, over the task's. */
  readonly env?: Readonly<Record<string, string>>
  /** Inside the container (default `/workspace`). */
  readonly workingDir?: string
}

export interface CommandExit {
  readonly exitCode: number
  /** The memory limit killed it (engines on cgroup v1 report exit 137 without this flag). */
  readonly oomKilled: boolean
}

/** The command outlived its timeout; its container was killed. */
export class CommandTimeout extends Data.TaggedError("CommandTimeout")<{
  readonly command: ReadonlyArray<string>
  readonly timeoutMs: number
}> {
  override get message(): string {
    return `the command did not finish within ${Math.round(this.timeoutMs / 1000)} s and was killed`
  }
}

/** The command's container could not be started, or the engine lost track of it. */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{
  readonly command: ReadonlyArray<string>
  readonly detail: string
}> {
  override get message(): string {
    return `the command could not be run in the sandbox: ${this.detail}`
  }
}

/** A started command: its output (as lines or as bytes) as it comes, and its end. */
export interface CommandRun {
  /** Output lines without their line ends; each stream has one consumer and buffers until read. */
  readonly stdout: Stream.Stream<string, ContainerError>
  readonly stderr: Stream.Stream<string, ContainerError>
  /**
   * The same output as the bytes the command wrote, unchanged (for passing it through). Each
   * shares its buffer with the line stream of the same fd: read one of the two, not both.
   */
  readonly stdoutBytes: Stream.Stream<Uint8Array, ContainerError>
  readonly stderrBytes: Stream.Stream<Uint8Array, ContainerError>
  /** Waits for the exit code. A non-zero exit is a value, not a failure. */
  readonly exit: Effect.Effect<CommandExit, CommandTimeout | CommandFailed>
}

/** The task could not be set up: what failed is in `stage`. Nothing of it is left running. */
export class TaskSetupFailed extends Data.TaggedError("TaskSetupFailed")<{
  readonly stage: "directories" | "record"
  readonly detail: string
}> {
  override get message(): string {
    return `the sandbox task could not be set up (${this.stage}): ${this.detail}`
  }
}

/** Why `task` refused: isolation unproven (fail closed), the proxy did not come up, or setup. */
export type TaskError =
  | NetworkNotIsolated
  | IsolationUnsupported
  | ProbeFailed
  | ProxyFailed
  | TaskSetupFailed

/** An open sandboxed task; everything it made is removed when its scope closes. */
export interface SandboxTask {
  readonly id: TaskId
  /** False only for `network: { kind: "open" }`. */
  readonly sandboxed: boolean
  /**
   * Every line the proxy logs (each request allowed or blocked, DNS queries, TLS failures) in
   * order; one consumer, buffered until read; ends when the task closes. Empty when not sandboxed.
   */
  readonly networkLog: Stream.Stream<NetworkLogLine>
  /** Starts Claude Code on the prompt; its events stream as they come, its outcome is typed. */
  readonly prompt: (request: PromptRequest) => Effect.Effect<AgentRun, never, Scope.Scope>
  /** Runs to the end and returns the outcome. */
  readonly promptToEnd: (request: PromptRequest) => Effect.Effect<AgentOutcome, AgentFailure>
  /**
   * Starts a command (argv, no shell) in the task's sandbox. Closing the scope before it ends
   * stops it (SIGTERM, then kill after a grace period) and removes its container.
   */
  readonly run: (
    command: ReadonlyArray<string>,
    options?: CommandOptions,
  ) => Effect.Effect<CommandRun, CommandFailed, Scope.Scope>
}

export interface SandboxShape {
  /** The two-layer image for a Dockerfile context, from the cache when fresh. */
  readonly ensureImage: (
    source: ImageSource,
  ) => Effect.Effect<SandboxImage, ImageSourceUnreadable | ImageBuildFailed | EngineError>
  /**
   * Opens a task in the caller's scope. A sandboxed task first proves that the engine isolates
   * its networks (once per layer) and fails closed when it cannot, then starts the task's proxy.
   */
  readonly task: (options: TaskOptions) => Effect.Effect<SandboxTask, TaskError, Scope.Scope>
}

export class Sandbox extends Context.Tag("airut/Sandbox")<Sandbox, SandboxShape>() {}
