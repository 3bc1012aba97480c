import { Context, Data, type Effect, type Option, type Scope, type Stream } from "effect"
import type { ContainerSpec, NetworkAttachment, NetworkSpec, StringMap } from "../schema/ContainerSpec.js"

/** The engine's socket did not answer (missing, refused, permission denied, reset). */
export class EngineUnreachable extends Data.TaggedError("EngineUnreachable")<{
  readonly socketPath: string
  readonly detail: string
}> {
  override get message(): string {
    return `container engine at ${this.socketPath} is not reachable: ${this.detail}`
  }
}

/**
 * An engine call failed. `reason` is what callers branch on: `NotFound` (no such object),
 * `Conflict` (name taken, object in use), `Rejected` (the engine refused the request),
 * `Protocol` (an answer we could not read), `Timeout`.
 */
export class ContainerError extends Data.TaggedError("ContainerError")<{
  readonly operation: string
  readonly reason: "NotFound" | "Conflict" | "Rejected" | "Protocol" | "Timeout"
  readonly detail: string
}> {
  override get message(): string {
    return `${this.operation}: ${this.reason}: ${this.detail}`
  }
}

/**
 * A container could not be made to run: create or start was refused (missing image, bad mount,
 * the OCI runtime failed to exec the command). The task's outcome, not an engine outage.
 */
export class ContainerStartFailed extends Data.TaggedError("ContainerStartFailed")<{
  /** The image (create) or the container id (start). */
  readonly subject: string
  readonly stage: "create" | "start"
  readonly detail: string
}> {
  override get message(): string {
    return `container ${this.subject} failed to ${this.stage}: ${this.detail}`
  }
}

/** An image build failed; `lastLines` is the tail of the build output, for the reply and the log. */
export class ImageBuildFailed extends Data.TaggedError("ImageBuildFailed")<{
  readonly tag: string
  readonly detail: string
  readonly lastLines: ReadonlyArray<string>
}> {
  override get message(): string {
    return `image build ${this.tag} failed: ${this.detail}`
  }
}

export type EngineError = EngineUnreachable | ContainerError

export interface EngineInfo {
  readonly product: "podman" | "docker"
  readonly version: string
  readonly apiVersion: string
  /** Podman's own (libpod) endpoints answer: isolated networks and the fast wait are available. */
  readonly libpod: boolean
}

/** A build context: relative path (forward slashes) → file bytes. Must contain `Dockerfile`. */
export type BuildContext = ReadonlyMap<string, Uint8Array>

export interface BuildRequest {
  readonly tag: string
  readonly context: BuildContext
  /** Ignore the layer cache (stale images are rebuilt this way). */
  readonly noCache?: boolean
  readonly labels?: StringMap
  /** Context paths packed with mode 0755 (all others 0644), e.g. an entrypoint script. */
  readonly executables?: ReadonlyArray<string>
}

export interface ImageInfo {
  readonly id: string
  readonly tags: ReadonlyArray<string>
  /** Creation time, epoch milliseconds (compared with `Clock` for staleness). */
  readonly createdAt: number
  readonly labels: StringMap
}

export type ContainerId = string

export interface ContainerExit {
  readonly exitCode: number
  /** As the engine reports it; on cgroup v1 hosts Podman reports false, the exit code is 137. */
  readonly oomKilled: boolean
}

export interface ContainerInfo {
  readonly id: ContainerId
  readonly name: string
  readonly image: string
  readonly labels: StringMap
  readonly running: boolean
  readonly exitCode: number
  readonly oomKilled: boolean
  /** Network name → the container's IPv4 address there ("" before start). */
  readonly networks: Readonly<Record<string, string>>
}

export interface ContainerStats {
  /** Processes and threads in the container now (what the pids limit counts). */
  readonly pids: number
  readonly memoryBytes: number
}

export interface ContainerSummary {
  readonly id: ContainerId
  readonly names: ReadonlyArray<string>
  readonly labels: StringMap
  readonly state: string
}

export interface NetworkInfo {
  readonly id: string
  readonly name: string
  readonly internal: boolean
  readonly labels: StringMap
  readonly subnets: ReadonlyArray<{ readonly subnet: string; readonly gateway?: string }>
}

/**
 * The attached standard streams of a container. Output is buffered in memory until read, so a
 * caller that ignores one stream does not hold up the other. Both streams end when the
 * container's output closes (it exited or was killed).
 */
export interface ContainerIo {
  readonly stdout: Stream.Stream<string, ContainerError>
  readonly stderr: Stream.Stream<string, ContainerError>
  /**
   * The same output as the bytes the process wrote, unsplit and undecoded (a CLI passing output
   * through). Each shares its buffer with the line stream of the same fd: read one of the two.
   */
  readonly stdoutBytes: Stream.Stream<Uint8Array, ContainerError>
  readonly stderrBytes: Stream.Stream<Uint8Array, ContainerError>
  /** Writes to the container's stdin; only when attached with `stdin: true`. */
  readonly writeStdin: (data: string | Uint8Array) => Effect.Effect<void, ContainerError>
  /** Closes stdin: the process reads end-of-file. */
  readonly closeStdin: Effect.Effect<void, ContainerError>
}

/**
 * A container engine (Podman or Docker) over its API. Removal and kill are idempotent: an
 * object that is already gone, or a container that is not running, is not an error.
 * Lifetimes (a container or network per task scope) are built on top in ContainerScope.ts.
 */
export interface ContainerRuntimeShape {
  readonly ping: Effect.Effect<void, EngineError>
  readonly version: Effect.Effect<EngineInfo, EngineError>

  /** Builds and tags an image; build output goes to the log (debug level) line by line. */
  readonly buildImage: (request: BuildRequest) => Effect.Effect<ImageInfo, ImageBuildFailed | EngineError>
  readonly inspectImage: (tag: string) => Effect.Effect<Option.Option<ImageInfo>, EngineError>
  readonly removeImage: (tag: string) => Effect.Effect<void, EngineError>
  /**
   * The images carrying the label `key`, whatever its value; untagged ones (left by a rebuild)
   * included, with no tags. Removing an image a container uses fails with `Conflict`.
   */
  readonly listImages: (key: string) => Effect.Effect<ReadonlyArray<ImageInfo>, EngineError>
  /** Writes the images, tags included, to a tar archive at `file` (`docker save`), for CI caches. */
  readonly saveImage: (tags: ReadonlyArray<string>, file: string) => Effect.Effect<void, EngineError>
  /** Loads the images of an archive `saveImage` wrote; their tags come back with them. */
  readonly loadImage: (file: string) => Effect.Effect<void, EngineError>

  readonly createContainer: (
    spec: ContainerSpec,
  ) => Effect.Effect<ContainerId, ContainerStartFailed | EngineError>
  /**
   * Attach to stdout/stderr (and stdin) before `startContainer` so no output is lost. The
   * connection lives in the scope.
   */
  readonly attachContainer: (
    id: ContainerId,
    options: { readonly stdin: boolean },
  ) => Effect.Effect<ContainerIo, EngineError, Scope.Scope>
  readonly startContainer: (id: ContainerId) => Effect.Effect<void, ContainerStartFailed | EngineError>
  /** Waits until the container has stopped. */
  readonly waitContainer: (id: ContainerId) => Effect.Effect<ContainerExit, EngineError>
  readonly inspectContainer: (id: ContainerId) => Effect.Effect<ContainerInfo, EngineError>
  /** One sample of resource use. */
  readonly statsContainer: (id: ContainerId) => Effect.Effect<ContainerStats, EngineError>
  /** Sends a signal (default SIGKILL). */
  readonly killContainer: (id: ContainerId, signal?: string) => Effect.Effect<void, EngineError>
  /** Removes the container, killing it if it still runs. */
  readonly removeContainer: (id: ContainerId) => Effect.Effect<void, EngineError>
  /** All containers (running or not) carrying every one of `labels`. */
  readonly listContainers: (labels: StringMap) => Effect.Effect<ReadonlyArray<ContainerSummary>, EngineError>

  readonly createNetwork: (spec: NetworkSpec) => Effect.Effect<NetworkInfo, EngineError>
  readonly inspectNetwork: (nameOrId: string) => Effect.Effect<Option.Option<NetworkInfo>, EngineError>
  readonly removeNetwork: (nameOrId: string) => Effect.Effect<void, EngineError>
  /** Connects a container (created, before or after start) to a further network. */
  readonly connectNetwork: (
    container: ContainerId,
    network: NetworkAttachment,
  ) => Effect.Effect<void, EngineError>
  readonly listNetworks: (labels: StringMap) => Effect.Effect<ReadonlyArray<NetworkInfo>, EngineError>
}

export class ContainerRuntime extends Context.Tag("airut/ContainerRuntime")<
  ContainerRuntime,
  ContainerRuntimeShape
>() {}
