import { Cause, Duration, Effect, type Scope, type Stream } from "effect"
import type { ContainerSpec, NetworkSpec, StringMap } from "../schema/ContainerSpec.js"
import {
  type ContainerError,
  type ContainerExit,
  type ContainerId,
  ContainerRuntime,
  type ContainerStartFailed,
  type ContainerSummary,
  type EngineError,
  type NetworkInfo,
} from "./ContainerRuntime.js"

/**
 * Containers and networks owned by a scope (a task's): acquired with `acquireRelease`, so a
 * finished task, a timeout, a stop, an interruption and a daemon shutdown all remove them. What
 * a crash leaves behind carries `managedLabels` and is removed by `sweepOrphans` at the next start.
 */

/** On every container and network we make; the orphan sweep selects by it, never by name. */
export const managedLabels: StringMap = { "airut.managed": "true" }

// Kill and remove answer in well under a second; past this the engine is stuck and the release
// gives up (logging it) rather than hold the task's scope, and the sweep catches it later.
const releaseTimeout = Duration.seconds(30)

export interface RunningContainer {
  readonly id: ContainerId
  readonly stdout: Stream.Stream<string, ContainerError>
  readonly stderr: Stream.Stream<string, ContainerError>
  /** The same output as raw bytes; read either these or the lines of a stream, not both. */
  readonly stdoutBytes: Stream.Stream<Uint8Array, ContainerError>
  readonly stderrBytes: Stream.Stream<Uint8Array, ContainerError>
  /** Waits for the container to stop; the container itself is removed when the scope closes. */
  readonly wait: Effect.Effect<ContainerExit, EngineError>
}

export interface RunOptions {
  /** Written to stdin after start, then stdin is closed (the agent reads its prompt this way). */
  readonly stdin?: string | Uint8Array
}

const logReleaseFailure = (what: string, id: string) => (cause: Cause.Cause<unknown>) =>
  Effect.logWarning(`could not remove ${what} ${id}; the orphan sweep will retry`, Cause.pretty(cause))

/** Kills and removes a container; never fails, bounded in time. */
export const removeContainerQuietly = (id: ContainerId): Effect.Effect<void, never, ContainerRuntime> =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    // A container that already exited cannot be killed (Podman answers "container state
    // improper"); the removal that follows is what must succeed, and it reports its own failure.
    yield* runtime
      .killContainer(id)
      .pipe(Effect.catchAll((e) => Effect.logDebug(`kill before removal of ${id}: ${e.message}`)))
    yield* runtime.removeContainer(id)
  }).pipe(
    // Releases run uninterruptibly; the engine calls must not, or the timeout could not stop them.
    Effect.interruptible,
    Effect.timeout(releaseTimeout),
    Effect.catchAllCause(logReleaseFailure("container", id)),
    Effect.withSpan("ContainerScope.removeContainer", { attributes: { id } }),
  )

/**
 * Asks a container to stop: SIGTERM, then up to `grace` for it to exit. Never fails and is
 * bounded; the container's own release then kills and removes it whatever happened here.
 */
export const stopContainerGently = (
  id: ContainerId,
  grace: Duration.Duration,
): Effect.Effect<void, never, ContainerRuntime> =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    yield* runtime.killContainer(id, "SIGTERM")
    yield* runtime.waitContainer(id).pipe(Effect.timeout(grace))
  }).pipe(
    Effect.interruptible,
    Effect.timeout(Duration.sum(grace, Duration.seconds(5))),
    Effect.catchAllCause((cause) =>
      Effect.logWarning(`could not stop container ${id} gently`, Cause.pretty(cause)),
    ),
  )

/** Removes a network; never fails, bounded in time. */
export const removeNetworkQuietly = (name: string): Effect.Effect<void, never, ContainerRuntime> =>
  Effect.flatMap(ContainerRuntime, (runtime) => runtime.removeNetwork(name)).pipe(
    Effect.interruptible,
    Effect.timeout(releaseTimeout),
    Effect.catchAllCause(logReleaseFailure("network", name)),
    Effect.withSpan("ContainerScope.removeNetwork", { attributes: { name } }),
  )

/**
 * Creates a container owned by the current scope, attaches to its output, starts it and feeds
 * `stdin` if given. Output lines are not lost however soon the process prints them.
 */
export const runContainer = (
  spec: ContainerSpec,
  options: RunOptions = {},
): Effect.Effect<RunningContainer, ContainerStartFailed | EngineError, ContainerRuntime | Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    const labelled: ContainerSpec = {
      ...spec,
      labels: { ...spec.labels, ...managedLabels },
      ...(options.stdin === undefined ? {} : { openStdin: true }),
    }
    const id = yield* Effect.acquireRelease(runtime.createContainer(labelled), removeContainerQuietly)
    const io = yield* runtime.attachContainer(id, { stdin: options.stdin !== undefined })
    yield* runtime.startContainer(id)
    if (options.stdin !== undefined) {
      yield* io.writeStdin(options.stdin)
      yield* io.closeStdin
    }
    const running: RunningContainer = {
      id,
      stdout: io.stdout,
      stderr: io.stderr,
      stdoutBytes: io.stdoutBytes,
      stderrBytes: io.stderrBytes,
      wait: runtime.waitContainer(id),
    }
    return running
  }).pipe(Effect.withSpan("ContainerScope.runContainer", { attributes: { image: spec.image } }))

/** Creates a network owned by the current scope. */
export const acquireNetwork = (
  spec: NetworkSpec,
): Effect.Effect<NetworkInfo, EngineError, ContainerRuntime | Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    return yield* Effect.acquireRelease(
      runtime.createNetwork({ ...spec, labels: { ...spec.labels, ...managedLabels } }),
      (network) => removeNetworkQuietly(network.name),
    )
  }).pipe(Effect.withSpan("ContainerScope.acquireNetwork", { attributes: { name: spec.name } }))

export interface SweepFailure {
  readonly kind: "container" | "network"
  readonly id: string
  readonly error: EngineError
}

export interface SweepReport {
  readonly containers: ReadonlyArray<ContainerId>
  readonly networks: ReadonlyArray<string>
  /** What could not be removed, with why; the caller decides whether that stops a start. */
  readonly failures: ReadonlyArray<SweepFailure>
}

const sweepFailure =
  (kind: SweepFailure["kind"], id: string) =>
  (error: EngineError): SweepFailure => ({ kind, id, error })

/**
 * Which of the labelled objects are this caller's own. Several installations (and test suites)
 * may share one engine; each sweeps only what it can tell is its own.
 */
export interface SweepOwnership {
  readonly container: (container: ContainerSummary) => boolean
  readonly network: (network: NetworkInfo) => boolean
}

const everything: SweepOwnership = { container: () => true, network: () => true }

/**
 * Removes every container, then every network, carrying all of `selector` (default: everything
 * we manage) and owned by the caller (default: all). Containers go first: a network with
 * members cannot be removed.
 */
export const sweepOrphans = (
  selector: StringMap = managedLabels,
  owned: SweepOwnership = everything,
): Effect.Effect<SweepReport, EngineError, ContainerRuntime> =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    const containers = (yield* runtime.listContainers(selector)).filter(owned.container)
    const [containerFailures, removedContainers] = yield* Effect.partition(
      containers,
      (c) =>
        runtime
          .killContainer(c.id)
          .pipe(
            Effect.zipRight(runtime.removeContainer(c.id)),
            Effect.as(c.id),
            Effect.mapError(sweepFailure("container", c.id)),
          ),
      { concurrency: 4 },
    )
    const networks = (yield* runtime.listNetworks(selector)).filter(owned.network)
    const [networkFailures, removedNetworks] = yield* Effect.partition(
      networks,
      (n) =>
        runtime
          .removeNetwork(n.name)
          .pipe(Effect.as(n.name), Effect.mapError(sweepFailure("network", n.name))),
      { concurrency: 4 },
    )
    const report: SweepReport = {
      containers: removedContainers,
      networks: removedNetworks,
      failures: [...containerFailures, ...networkFailures],
    }
    if (report.containers.length + report.networks.length > 0) {
      yield* Effect.logInfo(
        `removed ${report.containers.length} orphaned containers and ${report.networks.length} networks`,
      )
    }
    return report
  }).pipe(Effect.withSpan("ContainerScope.sweepOrphans"))
