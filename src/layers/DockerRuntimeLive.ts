import { createWriteStream } from "node:fs"
import { Agent } from "node:http"
import { pipeline } from "node:stream/promises"
import { NodeStream } from "@effect/platform-node"
import Docker from "dockerode"
import { Effect, Exit, Layer, Option, Queue, Ref, Schema, Stream, Take } from "effect"
import type { ContainerSpec, NetworkAttachment, NetworkSpec, StringMap } from "../schema/ContainerSpec.js"
import {
  BuildMessageLine,
  CompatNetworkJson,
  CompatNetworkListJson,
  CompatWaitJson,
  ContainerJson,
  ContainerListJson,
  CreatedJson,
  ImageJson,
  ImageListJson,
  LibpodNetworkJson,
  StatsJson,
  VersionJson,
} from "../schema/EngineJson.js"
import {
  type BuildRequest,
  ContainerError,
  type ContainerId,
  type ContainerInfo,
  type ContainerIo,
  ContainerRuntime,
  ContainerStartFailed,
  type EngineError,
  type EngineInfo,
  ImageBuildFailed,
  type ImageInfo,
  type NetworkInfo,
} from "../services/ContainerRuntime.js"
import { packBuildContext } from "./docker/buildContext.js"
import { type EngineRequest, makeEngineCall, pathPart } from "./docker/engineCall.js"
import { demultiplex } from "./docker/multiplexed.js"

export interface DockerRuntimeOptions {
  /** Unix socket of the engine API: Podman's `podman system service` or Docker's daemon. */
  readonly socketPath: string
}

// How many lines of build output an ImageBuildFailed carries.
const buildTailLines = 30

const decode =
  <A, I>(operation: string, schema: Schema.Schema<A, I>) =>
  (body: unknown): Effect.Effect<A, ContainerError> =>
    Schema.decodeUnknown(schema)(body).pipe(
      Effect.mapError(
        (e) =>
          new ContainerError({ operation, reason: "Protocol", detail: `unexpected answer: ${e.message}` }),
      ),
    )

const labelFilter = (labels: StringMap) => ({
  label: Object.entries(labels).map(([k, v]) => `${k}=${v}`),
})

/**
 * Takes these engine answers as an outcome rather than a failure: an absent object is "none" to
 * an inspect and "done" to a removal; a kill of a container that no longer runs is done.
 */
const recover =
  <B>(value: B, ...reasons: ReadonlyArray<ContainerError["reason"]>) =>
  <A, E extends EngineError>(effect: Effect.Effect<A, E>): Effect.Effect<A | B, E> =>
    effect.pipe(
      Effect.catchIf(
        (e) => e._tag === "ContainerError" && reasons.includes(e.reason),
        () => Effect.succeed(value),
      ),
    )

const toImageInfo = (image: typeof ImageJson.Type): ImageInfo => ({
  id: image.Id,
  tags: image.RepoTags,
  createdAt: image.Created.getTime(),
  labels: image.Config.Labels,
})

const fromCompatNetwork = (n: typeof CompatNetworkJson.Type): NetworkInfo => ({
  id: n.Id,
  name: n.Name,
  internal: n.Internal,
  labels: n.Labels,
  subnets: n.IPAM.Config.flatMap((c) =>
    c.Subnet === undefined
      ? []
      : [c.Gateway ? { subnet: c.Subnet, gateway: c.Gateway } : { subnet: c.Subnet }],
  ),
})

/** The Engine API create body for a spec (compat endpoint: Podman and Docker both take it). */
const createBody = (spec: ContainerSpec) => ({
  Image: spec.image,
  ...(spec.command ? { Cmd: spec.command } : {}),
  ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
  Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
  Labels: spec.labels ?? {},
  ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
  // Stdin stays open for an attached writer and closes for good when that writer closes it.
  OpenStdin: spec.openStdin ?? false,
  StdinOnce: spec.openStdin ?? false,
  AttachStdin: spec.openStdin ?? false,
  AttachStdout: true,
  AttachStderr: true,
  Tty: false,
  HostConfig: {
    Mounts: (spec.mounts ?? []).map((m) => ({
      Type: "bind",
      Source: m.source,
      Target: m.target,
      ReadOnly: m.readOnly,
    })),
    ...(spec.capDrop ? { CapDrop: spec.capDrop } : {}),
    ...(spec.capAdd ? { CapAdd: spec.capAdd } : {}),
    ...(spec.securityOpt ? { SecurityOpt: spec.securityOpt } : {}),
    ...(spec.memoryBytes === undefined ? {} : { Memory: spec.memoryBytes }),
    ...(spec.memorySwapBytes === undefined ? {} : { MemorySwap: spec.memorySwapBytes }),
    ...(spec.cpus === undefined ? {} : { NanoCpus: Math.round(spec.cpus * 1e9) }),
    ...(spec.pidsLimit === undefined ? {} : { PidsLimit: spec.pidsLimit }),
    ...(spec.dns ? { Dns: spec.dns } : {}),
    ...(spec.sysctls ? { Sysctls: spec.sysctls } : {}),
    ...(spec.network ? { NetworkMode: spec.network.name } : {}),
  },
  ...(spec.network
    ? {
        NetworkingConfig: {
          EndpointsConfig: {
            [spec.network.name]: {
              ...(spec.network.ipv4Address ? { IPAMConfig: { IPv4Address: spec.network.ipv4Address } } : {}),
              ...(spec.network.aliases ? { Aliases: spec.network.aliases } : {}),
            },
          },
        },
      }
    : {}),
})

interface BuildFold {
  readonly tail: ReadonlyArray<string>
  readonly error: string | undefined
}

export const makeDockerRuntime = (options: DockerRuntimeOptions) =>
  Effect.gen(function* () {
    const { socketPath } = options
    // Our own keep-alive agent: calls reuse connections, and closing the layer closes them.
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() => new Agent({ keepAlive: true, maxSockets: 16 })),
      (a) => Effect.sync(() => a.destroy()),
    )
    // @types/dockerode leaves out `agent`, which dockerode hands on to its modem.
    const dockerOptions: Docker.DockerOptions & { readonly agent: Agent } = { socketPath, agent }
    const docker = new Docker(dockerOptions)
    const engine = makeEngineCall(docker.modem, socketPath)
    const call = <A, I>(request: EngineRequest, schema: Schema.Schema<A, I>) =>
      engine.json(request).pipe(Effect.flatMap(decode(request.operation, schema)))

    const ping = engine
      .json({ operation: "ping", method: "GET", path: "/_ping", ok: [200] })
      .pipe(Effect.asVoid, Effect.withSpan("ContainerRuntime.ping"))

    const readVersion = call(
      { operation: "version", method: "GET", path: "/version", ok: [200] },
      VersionJson,
    ).pipe(
      Effect.map((v): EngineInfo => {
        const podman = v.Components.some((c) => c.Name === "Podman Engine")
        const major = Number.parseInt(v.Version.split(".")[0] ?? "0", 10)
        return {
          product: podman ? "podman" : "docker",
          version: v.Version,
          apiVersion: v.ApiVersion,
          // The v4 libpod paths we call (network create, wait) exist from Podman 4.0 on.
          libpod: podman && major >= 4,
        }
      }),
    )
    // Asked once per layer: the engine behind a socket does not change while we run.
    const known = yield* Ref.make(Option.none<EngineInfo>())
    const version = Ref.get(known).pipe(
      Effect.flatMap(
        Option.match({
          onSome: Effect.succeed,
          onNone: () => readVersion.pipe(Effect.tap((info) => Ref.set(known, Option.some(info)))),
        }),
      ),
      Effect.withSpan("ContainerRuntime.version"),
    )

    const inspectImage = Effect.fn("ContainerRuntime.inspectImage")(function* (tag: string) {
      const found = yield* call(
        {
          operation: "inspectImage",
          method: "GET",
          path: `/images/${pathPart(tag)}/json`,
          ok: [200],
        },
        ImageJson,
      ).pipe(Effect.map(Option.some), recover(Option.none(), "NotFound"))
      return Option.map(found, toImageInfo)
    })

    const removeImage = Effect.fn("ContainerRuntime.removeImage")(function* (tag: string) {
      yield* engine
        .json({
          operation: "removeImage",
          method: "DELETE",
          path: `/images/${pathPart(tag)}`,
          ok: [200],
        })
        .pipe(recover(undefined, "NotFound"))
    })

    const saveImage = Effect.fn("ContainerRuntime.saveImage")(function* (
      tags: ReadonlyArray<string>,
      file: string,
    ) {
      const operation = "saveImage"
      const archive = yield* engine.stream({
        operation,
        method: "GET",
        path: "/images/get",
        query: { names: [...tags] },
        ok: [200],
      })
      // Streamed to the file as it comes: an image is hundreds of megabytes.
      yield* Effect.tryPromise({
        try: (signal) => pipeline(archive, createWriteStream(file, { mode: 0o644 }), { signal }),
        catch: (cause) =>
          new ContainerError({ operation, reason: "Protocol", detail: `writing ${file}: ${String(cause)}` }),
      })
    })

    const loadImage = Effect.fn("ContainerRuntime.loadImage")(function* (file: string) {
      const operation = "loadImage"
      // The modem streams a file given by path as the request body.
      const answer = yield* engine.text(
        { operation, method: "POST", path: "/images/load", query: { quiet: true }, ok: [200] },
        file,
      )
      // Docker reports a broken archive inside a 200 answer, as an `error` message.
      const failure = answer
        .split("\n")
        .flatMap((line) => Option.toArray(Schema.decodeUnknownOption(BuildMessageLine)(line)))
        .find((m) => m.error !== undefined || m.errorDetail?.message !== undefined)
      if (failure !== undefined) {
        return yield* new ContainerError({
          operation,
          reason: "Rejected",
          detail: failure.error ?? failure.errorDetail?.message ?? "the engine refused the archive",
        })
      }
    })

    const listImages = Effect.fn("ContainerRuntime.listImages")(function* (key: string) {
      const list = yield* call(
        {
          operation: "listImages",
          method: "GET",
          path: "/images/json",
          query: { filters: { label: [key] } },
          ok: [200],
        },
        ImageListJson,
      )
      return list.map(
        (image): ImageInfo => ({
          id: image.Id,
          tags: image.RepoTags.filter((tag) => tag !== "<none>:<none>"),
          createdAt: image.Created * 1000,
          labels: image.Labels,
        }),
      )
    })

    const buildImage = Effect.fn("ContainerRuntime.buildImage")(function* (request: BuildRequest) {
      const { tag } = request
      const failed = (detail: string, tail: ReadonlyArray<string>) =>
        new ImageBuildFailed({ tag, detail, lastLines: tail })
      const archive = yield* packBuildContext(tag, request.context, request.executables)
      const response = yield* engine
        .stream(
          {
            operation: "buildImage",
            method: "POST",
            path: "/build",
            query: {
              t: tag,
              nocache: request.noCache ?? false,
              rm: true,
              forcerm: true,
              ...(request.labels ? { labels: request.labels } : {}),
            },
            ok: [200],
          },
          archive,
        )
        .pipe(Effect.catchTag("ContainerError", (e) => Effect.fail(failed(e.detail, []))))

      const onLine = (acc: BuildFold, line: string): Effect.Effect<BuildFold> => {
        if (line.trim() === "") return Effect.succeed(acc)
        const message = Schema.decodeUnknownOption(BuildMessageLine)(line)
        // A line that is not a JSON message is still build output worth keeping.
        const text = Option.match(message, { onNone: () => line, onSome: (m) => m.stream ?? "" })
        const error = Option.flatMap(message, (m) => Option.fromNullable(m.error ?? m.errorDetail?.message))
        const lines = text.split("\n").filter((l) => l.trim() !== "")
        return Effect.forEach(lines, (l) => Effect.logDebug(l), { discard: true }).pipe(
          Effect.as({
            tail: [...acc.tail, ...lines, ...Option.toArray(error)].slice(-buildTailLines),
            error: Option.getOrElse(error, () => acc.error),
          }),
        )
      }
      const result = yield* NodeStream.fromReadable<ImageBuildFailed, Uint8Array>(
        () => response,
        (cause) => failed(`build output broke off: ${String(cause)}`, []),
      ).pipe(
        Stream.decodeText(),
        Stream.splitLines,
        Stream.runFoldEffect<BuildFold, string, never, never>({ tail: [], error: undefined }, onLine),
        Effect.annotateLogs({ image: tag }),
      )
      if (result.error !== undefined) return yield* failed(result.error.trim(), result.tail)
      const built = yield* inspectImage(tag)
      return yield* Option.match(built, {
        onSome: Effect.succeed,
        onNone: () => Effect.fail(failed("the build ended but the image is not there", result.tail)),
      })
    })

    const createContainer = Effect.fn("ContainerRuntime.createContainer")(function* (spec: ContainerSpec) {
      const created = yield* call(
        {
          operation: "createContainer",
          method: "POST",
          path: "/containers/create",
          query: spec.name ? { name: spec.name } : {},
          body: createBody(spec),
          ok: [201],
        },
        CreatedJson,
      ).pipe(
        Effect.catchTag("ContainerError", (e) =>
          Effect.fail(new ContainerStartFailed({ subject: spec.image, stage: "create", detail: e.detail })),
        ),
      )
      return created.Id
    })

    const startContainer = Effect.fn("ContainerRuntime.startContainer")(function* (id: ContainerId) {
      yield* engine
        .json({
          operation: "startContainer",
          method: "POST",
          path: `/containers/${id}/start`,
          ok: [204, 304],
        })
        .pipe(
          Effect.catchIf(
            (e) => e._tag === "ContainerError" && e.reason === "Rejected",
            (e) => Effect.fail(new ContainerStartFailed({ subject: id, stage: "start", detail: e.detail })),
          ),
        )
    })

    const attachContainer = (id: ContainerId, attach: { readonly stdin: boolean }) =>
      Effect.gen(function* () {
        const operation = "attachContainer"
        const protocolError = (detail: string) =>
          new ContainerError({ operation, reason: "Protocol", detail })
        const socket = yield* Effect.acquireRelease(
          engine.hijack({
            operation,
            method: "POST",
            path: `/containers/${id}/attach`,
            query: { stream: true, stdin: attach.stdin, stdout: true, stderr: true },
            ok: [101, 200],
          }),
          (s) => Effect.sync(() => s.destroy()),
        )
        // Unbounded: a reader of stdout alone must not stall because nobody drains stderr.
        const makeQueue = Effect.acquireRelease(
          Queue.unbounded<Take.Take<Uint8Array, ContainerError>>(),
          (q) => Queue.shutdown(q),
        )
        const stdoutQueue = yield* makeQueue
        const stderrQueue = yield* makeQueue
        yield* NodeStream.fromReadable<ContainerError, Uint8Array>(
          () => socket,
          (cause) => protocolError(`output broke off: ${String(cause)}`),
          { closeOnDone: false },
        ).pipe(
          demultiplex(protocolError),
          Stream.runForEach((frame) =>
            frame.fd === 1
              ? Queue.offer(stdoutQueue, Take.of(frame.payload))
              : frame.fd === 2 || frame.fd === 3
                ? Queue.offer(stderrQueue, Take.of(frame.payload))
                : Effect.void,
          ),
          Effect.onExit((exit) => {
            const last = Exit.isSuccess(exit) ? Take.end : Take.failCause(exit.cause)
            return Effect.all([Queue.offer(stdoutQueue, last), Queue.offer(stderrQueue, last)], {
              discard: true,
            })
          }),
          Effect.forkScoped,
        )
        const bytes = (queue: Queue.Queue<Take.Take<Uint8Array, ContainerError>>) =>
          Stream.fromQueue(queue).pipe(Stream.flattenTake)
        const lines = (queue: Queue.Queue<Take.Take<Uint8Array, ContainerError>>) =>
          bytes(queue).pipe(Stream.decodeText(), Stream.splitLines)
        const writeStdin = (data: string | Uint8Array) =>
          Effect.async<void, ContainerError>((resume) => {
            socket.write(data, (err) =>
              resume(err ? Effect.fail(protocolError(`stdin write failed: ${err.message}`)) : Effect.void),
            )
          })
        const closeStdin = Effect.async<void, ContainerError>((resume) => {
          // Half-close: the engine sees end-of-file on stdin; output keeps flowing to us.
          socket.end(() => resume(Effect.void))
        })
        const io: ContainerIo = {
          stdout: lines(stdoutQueue),
          stderr: lines(stderrQueue),
          stdoutBytes: bytes(stdoutQueue),
          stderrBytes: bytes(stderrQueue),
          writeStdin,
          closeStdin,
        }
        return io
      }).pipe(Effect.withSpan("ContainerRuntime.attachContainer"))

    const inspectContainer = Effect.fn("ContainerRuntime.inspectContainer")(function* (id: ContainerId) {
      const c = yield* call(
        { operation: "inspectContainer", method: "GET", path: `/containers/${id}/json`, ok: [200] },
        ContainerJson,
      )
      const info: ContainerInfo = {
        id: c.Id,
        name: c.Name.replace(/^\//, ""),
        image: c.Config.Image,
        labels: c.Config.Labels,
        running: c.State.Running,
        exitCode: c.State.ExitCode,
        oomKilled: c.State.OOMKilled,
        networks: Object.fromEntries(
          Object.entries(c.NetworkSettings.Networks).map(([name, n]) => [name, n.IPAddress]),
        ),
      }
      return info
    })

    const waitContainer = Effect.fn("ContainerRuntime.waitContainer")(function* (id: ContainerId) {
      const { libpod } = yield* version
      // Waits are as long as the container runs: no call timeout, interruption aborts them.
      const exitCode = libpod
        ? // libpod's wait answers sooner than the compat one (DESIGN.md baselines); its body is
          // the bare exit code.
          yield* engine
            .text({
              operation: "waitContainer",
              method: "POST",
              path: `/v4.0.0/libpod/containers/${id}/wait`,
              query: { condition: "stopped" },
              ok: [200],
            })
            .pipe(Effect.flatMap((text) => decode("waitContainer", Schema.NumberFromString)(text.trim())))
        : yield* engine
            .text({
              operation: "waitContainer",
              method: "POST",
              path: `/containers/${id}/wait`,
              query: { condition: "not-running" },
              ok: [200],
            })
            .pipe(
              Effect.flatMap(decode("waitContainer", Schema.parseJson(CompatWaitJson))),
              Effect.map((w) => w.StatusCode),
            )
      // The wait answer has no OOM flag; the inspect right after it has.
      const info = yield* inspectContainer(id)
      return { exitCode, oomKilled: info.oomKilled }
    })

    const statsContainer = Effect.fn("ContainerRuntime.statsContainer")(function* (id: ContainerId) {
      const s = yield* call(
        {
          operation: "statsContainer",
          method: "GET",
          path: `/containers/${id}/stats`,
          query: { stream: false },
          ok: [200],
        },
        StatsJson,
      )
      return { pids: s.pids_stats.current, memoryBytes: s.memory_stats.usage }
    })

    const killContainer = Effect.fn("ContainerRuntime.killContainer")(function* (
      id: ContainerId,
      signal?: string,
    ) {
      yield* engine
        .json({
          operation: "killContainer",
          method: "POST",
          path: `/containers/${id}/kill`,
          query: { signal: signal ?? "SIGKILL" },
          ok: [204, 200],
        })
        .pipe(
          // Gone or no longer running: the kill has nothing left to do.
          recover(undefined, "NotFound", "Conflict"),
          Effect.catchIf(
            (e) => e._tag === "ContainerError" && /not running|can only kill running/i.test(e.detail),
            () => Effect.void,
          ),
        )
    })

    const removeContainer = Effect.fn("ContainerRuntime.removeContainer")(function* (id: ContainerId) {
      yield* engine
        .json({
          operation: "removeContainer",
          method: "DELETE",
          path: `/containers/${id}`,
          query: { force: true, v: true },
          ok: [204, 200],
        })
        .pipe(recover(undefined, "NotFound"))
    })

    const listContainers = Effect.fn("ContainerRuntime.listContainers")(function* (labels: StringMap) {
      const list = yield* call(
        {
          operation: "listContainers",
          method: "GET",
          path: "/containers/json",
          query: { all: true, filters: labelFilter(labels) },
          ok: [200],
        },
        ContainerListJson,
      )
      return list.map((c) => ({ id: c.Id, names: c.Names, labels: c.Labels, state: c.State }))
    })

    const inspectNetwork = Effect.fn("ContainerRuntime.inspectNetwork")(function* (nameOrId: string) {
      const found = yield* call(
        {
          operation: "inspectNetwork",
          method: "GET",
          path: `/networks/${pathPart(nameOrId)}`,
          ok: [200],
        },
        CompatNetworkJson,
      ).pipe(Effect.map(Option.some), recover(Option.none(), "NotFound"))
      return Option.map(found, fromCompatNetwork)
    })

    const createNetwork = Effect.fn("ContainerRuntime.createNetwork")(function* (spec: NetworkSpec) {
      const { libpod } = yield* version
      if (libpod) {
        // DNS off: no aardvark on the bridge, and for an internal network no gateway address on
        // the host side, so nothing on the host is reachable from it (DESIGN.md, isolation).
        const n = yield* call(
          {
            operation: "createNetwork",
            method: "POST",
            path: "/v4.0.0/libpod/networks/create",
            body: {
              name: spec.name,
              driver: "bridge",
              internal: spec.internal,
              dns_enabled: false,
              labels: spec.labels ?? {},
              ...(spec.subnet ? { subnets: [{ subnet: spec.subnet }] } : {}),
            },
            ok: [200, 201],
          },
          LibpodNetworkJson,
        )
        const info: NetworkInfo = {
          id: n.id,
          name: n.name,
          internal: n.internal,
          labels: n.labels,
          subnets: n.subnets.map((s) =>
            s.gateway ? { subnet: s.subnet, gateway: s.gateway } : { subnet: s.subnet },
          ),
        }
        return info
      }
      // Docker: its internal networks keep a gateway on the host. The network sandbox proves
      // isolation with a probe before trusting one.
      yield* call(
        {
          operation: "createNetwork",
          method: "POST",
          path: "/networks/create",
          body: {
            Name: spec.name,
            Internal: spec.internal,
            CheckDuplicate: true,
            Labels: spec.labels ?? {},
            ...(spec.subnet ? { IPAM: { Config: [{ Subnet: spec.subnet }] } } : {}),
          },
          ok: [201, 200],
        },
        CreatedJson,
      )
      const created = yield* inspectNetwork(spec.name)
      return yield* Option.match(created, {
        onSome: Effect.succeed,
        onNone: () =>
          Effect.fail(
            new ContainerError({
              operation: "createNetwork",
              reason: "NotFound",
              detail: `${spec.name} vanished`,
            }),
          ),
      })
    })

    const removeNetwork = Effect.fn("ContainerRuntime.removeNetwork")(function* (nameOrId: string) {
      yield* engine
        .json({
          operation: "removeNetwork",
          method: "DELETE",
          path: `/networks/${pathPart(nameOrId)}`,
          ok: [204, 200],
        })
        .pipe(recover(undefined, "NotFound"))
    })

    const connectNetwork = Effect.fn("ContainerRuntime.connectNetwork")(function* (
      container: ContainerId,
      network: NetworkAttachment,
    ) {
      yield* engine.json({
        operation: "connectNetwork",
        method: "POST",
        path: `/networks/${pathPart(network.name)}/connect`,
        body: {
          Container: container,
          EndpointConfig: {
            ...(network.ipv4Address ? { IPAMConfig: { IPv4Address: network.ipv4Address } } : {}),
            ...(network.aliases ? { Aliases: network.aliases } : {}),
          },
        },
        ok: [200, 204],
      })
    })

    const listNetworks = Effect.fn("ContainerRuntime.listNetworks")(function* (labels: StringMap) {
      const list = yield* call(
        {
          operation: "listNetworks",
          method: "GET",
          path: "/networks",
          query: { filters: labelFilter(labels) },
          ok: [200],
        },
        CompatNetworkListJson,
      )
      return list.map(fromCompatNetwork)
    })

    return ContainerRuntime.of({
      ping,
      version,
      buildImage,
      inspectImage,
      removeImage,
      listImages,
      saveImage,
      loadImage,
      createContainer,
      attachContainer,
      startContainer,
      waitContainer,
      inspectContainer,
      statsContainer,
      killContainer,
      removeContainer,
      listContainers,
      createNetwork,
      inspectNetwork,
      removeNetwork,
      connectNetwork,
      listNetworks,
    })
  })

/** The container runtime over the Docker Engine API at `socketPath` (Podman or Docker). */
export const DockerRuntimeLive = (options: DockerRuntimeOptions): Layer.Layer<ContainerRuntime> =>
  Layer.scoped(ContainerRuntime, makeDockerRuntime(options))
