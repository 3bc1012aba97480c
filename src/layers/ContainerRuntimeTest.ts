import { Clock, Context, Deferred, type Duration, Effect, Layer, Option, Ref, Stream } from "effect"
import type { ContainerSpec, NetworkAttachment, NetworkSpec, StringMap } from "../schema/ContainerSpec.js"
import {
  type BuildRequest,
  ContainerError,
  type ContainerExit,
  type ContainerId,
  type ContainerInfo,
  type ContainerIo,
  ContainerRuntime,
  ContainerStartFailed,
  ImageBuildFailed,
  type ImageInfo,
  type NetworkInfo,
} from "../services/ContainerRuntime.js"

/**
 * An in-memory container engine for tests and embedders: images, containers and networks live
 * in a `Ref` made when the layer is built, so every build starts empty. Containers do not run
 * anything; each follows a script (output lines, exit code, or "runs until killed"). Builds
 * take `buildTime` on the `Clock`, so `TestClock` drives them. `FakeEngine` shows what happened.
 */

export interface ContainerScript {
  readonly stdout?: ReadonlyArray<string>
  readonly stderr?: ReadonlyArray<string>
  readonly exitCode?: number
  readonly oomKilled?: boolean
  /** Keep running after the output until killed (exit 137). */
  readonly runsUntilKilled?: boolean
}

export interface ContainerRuntimeTestOptions {
  /** How long a build takes on the Clock (default: no time). */
  readonly buildTime?: Duration.DurationInput
  /** Decides whether a build succeeds (default: every build with a Dockerfile does). */
  readonly onBuild?: (request: BuildRequest) => Effect.Effect<void, ImageBuildFailed>
  /** The script of each container (default: exits 0 with no output). */
  readonly script?: (spec: ContainerSpec) => ContainerScript
}

interface FakeContainer {
  readonly id: ContainerId
  readonly spec: ContainerSpec
  readonly script: ContainerScript
  readonly exit: Deferred.Deferred<ContainerExit>
  readonly state: "created" | "running" | "exited"
  /** Set when it exited. */
  readonly result: ContainerExit | undefined
  readonly stdin: string
  readonly networks: ReadonlyArray<string>
}

interface FakeState {
  readonly counter: number
  readonly images: ReadonlyMap<string, ImageInfo>
  readonly containers: ReadonlyMap<ContainerId, FakeContainer>
  readonly networks: ReadonlyMap<string, NetworkInfo>
  readonly builds: ReadonlyArray<BuildRequest>
  readonly created: ReadonlyArray<ContainerSpec>
  /** What `saveImage` wrote, by file: the archive lives in memory, not on disk. */
  readonly archives: ReadonlyMap<string, ReadonlyArray<ImageInfo>>
}

/** What the fake engine saw, for assertions. */
export interface FakeEngineShape {
  /** Every build request, in order (a cache hit makes none). */
  readonly builds: Effect.Effect<ReadonlyArray<BuildRequest>>
  /** Every container spec created, in order. */
  readonly created: Effect.Effect<ReadonlyArray<ContainerSpec>>
  /** What was written to a container's stdin. */
  readonly stdinOf: (id: ContainerId) => Effect.Effect<string>
}

export class FakeEngine extends Context.Tag("airut/FakeEngine")<FakeEngine, FakeEngineShape>() {}

const withEntry = <K, V>(map: ReadonlyMap<K, V>, key: K, value: V): ReadonlyMap<K, V> =>
  new Map(map).set(key, value)
const withoutEntry = <K, V>(map: ReadonlyMap<K, V>, key: K): ReadonlyMap<K, V> => {
  const next = new Map(map)
  next.delete(key)
  return next
}
const hasLabels = (labels: StringMap | undefined, selector: StringMap) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v)

export const makeContainerRuntimeTest = (options: ContainerRuntimeTestOptions = {}) =>
  Effect.gen(function* () {
    const state = yield* Ref.make<FakeState>({
      counter: 0,
      images: new Map(),
      containers: new Map(),
      networks: new Map(),
      builds: [],
      created: [],
      archives: new Map(),
    })
    const nextId = (prefix: string) =>
      Ref.modify(state, (s): readonly [string, FakeState] => [
        `${prefix}${s.counter + 1}`,
        { ...s, counter: s.counter + 1 },
      ])
    const notFound = (operation: string, what: string) =>
      new ContainerError({ operation, reason: "NotFound", detail: `no such ${what}` })
    const container = (operation: string, id: ContainerId) =>
      Ref.get(state).pipe(
        Effect.flatMap((s) =>
          Option.match(Option.fromNullable(s.containers.get(id)), {
            onNone: () => Effect.fail(notFound(operation, `container ${id}`)),
            onSome: Effect.succeed,
          }),
        ),
      )
    const setContainer = (c: FakeContainer) =>
      Ref.update(state, (s) => ({ ...s, containers: withEntry(s.containers, c.id, c) }))
    const finish = (id: ContainerId, exit: ContainerExit) =>
      Effect.gen(function* () {
        const s = yield* Ref.get(state)
        const c = s.containers.get(id)
        if (c === undefined || c.state === "exited") return
        yield* setContainer({ ...c, state: "exited", result: exit })
        yield* Deferred.succeed(c.exit, exit)
      })

    const buildImage = (request: BuildRequest) =>
      Effect.gen(function* () {
        yield* Ref.update(state, (s) => ({ ...s, builds: [...s.builds, request] }))
        if (!request.context.has("Dockerfile")) {
          return yield* new ImageBuildFailed({ tag: request.tag, detail: "no Dockerfile", lastLines: [] })
        }
        if (options.buildTime !== undefined) yield* Effect.sleep(options.buildTime)
        if (options.onBuild) yield* options.onBuild(request)
        const image: ImageInfo = {
          id: `sha256:${yield* nextId("image")}`,
          tags: [request.tag],
          createdAt: yield* Clock.currentTimeMillis,
          labels: request.labels ?? {},
        }
        yield* Ref.update(state, (s) => ({ ...s, images: withEntry(s.images, request.tag, image) }))
        return image
      })

    const createContainer = (spec: ContainerSpec) =>
      Effect.gen(function* () {
        const s = yield* Ref.get(state)
        if (!s.images.has(spec.image)) {
          return yield* new ContainerStartFailed({
            subject: spec.image,
            stage: "create",
            detail: "no such image",
          })
        }
        if (spec.network && !s.networks.has(spec.network.name)) {
          return yield* new ContainerStartFailed({
            subject: spec.image,
            stage: "create",
            detail: "no such network",
          })
        }
        const id = yield* nextId("container")
        yield* setContainer({
          id,
          spec,
          script: options.script?.(spec) ?? {},
          exit: yield* Deferred.make<ContainerExit>(),
          state: "created",
          result: undefined,
          stdin: "",
          networks: spec.network ? [spec.network.name] : [],
        })
        yield* Ref.update(state, (st) => ({ ...st, created: [...st.created, spec] }))
        return id
      })

    const attachContainer = (id: ContainerId, _attach: { readonly stdin: boolean }) =>
      Effect.gen(function* () {
        const c = yield* container("attachContainer", id)
        // Output ends when the container does, as with a real attach.
        const untilExit = Stream.fromEffect(Deferred.await(c.exit)).pipe(Stream.drain)
        const lines = (script: ReadonlyArray<string> | undefined) =>
          Stream.fromIterable(script ?? []).pipe(Stream.concat(untilExit))
        const bytes = (script: ReadonlyArray<string> | undefined) =>
          lines(script).pipe(Stream.map((line) => new TextEncoder().encode(`${line}\n`)))
        const io: ContainerIo = {
          stdout: lines(c.script.stdout),
          stderr: lines(c.script.stderr),
          stdoutBytes: bytes(c.script.stdout),
          stderrBytes: bytes(c.script.stderr),
          writeStdin: (data) =>
            container("writeStdin", id).pipe(
              Effect.flatMap((cur) =>
                setContainer({
                  ...cur,
                  stdin: cur.stdin + (typeof data === "string" ? data : Buffer.from(data).toString("utf8")),
                }),
              ),
            ),
          closeStdin: Effect.void,
        }
        return io
      })

    const startContainer = (id: ContainerId) =>
      Effect.gen(function* () {
        const c = yield* container("startContainer", id)
        if (c.state !== "created") return
        yield* setContainer({ ...c, state: "running" })
        if (!c.script.runsUntilKilled) {
          yield* finish(id, { exitCode: c.script.exitCode ?? 0, oomKilled: c.script.oomKilled ?? false })
        }
      })

    const inspectContainer = (id: ContainerId) =>
      container("inspectContainer", id).pipe(
        Effect.map((c) => {
          const info: ContainerInfo = {
            id: c.id,
            name: c.id,
            image: c.spec.image,
            labels: c.spec.labels ?? {},
            running: c.state === "running",
            exitCode: c.result?.exitCode ?? 0,
            oomKilled: c.result?.oomKilled ?? false,
            networks: Object.fromEntries(c.networks.map((n) => [n, ""])),
          }
          return info
        }),
      )

    const killContainer = (id: ContainerId) => finish(id, { exitCode: 137, oomKilled: false })

    const removeContainer = (id: ContainerId) =>
      finish(id, { exitCode: 137, oomKilled: false }).pipe(
        Effect.zipRight(Ref.update(state, (s) => ({ ...s, containers: withoutEntry(s.containers, id) }))),
      )

    const createNetwork = (spec: NetworkSpec) =>
      Effect.gen(function* () {
        const s = yield* Ref.get(state)
        if (s.networks.has(spec.name)) {
          return yield* new ContainerError({
            operation: "createNetwork",
            reason: "Conflict",
            detail: spec.name,
          })
        }
        const info: NetworkInfo = {
          id: yield* nextId("network"),
          name: spec.name,
          internal: spec.internal,
          labels: spec.labels ?? {},
          subnets: [{ subnet: spec.subnet ?? "10.99.0.0/24" }],
        }
        yield* Ref.update(state, (st) => ({ ...st, networks: withEntry(st.networks, spec.name, info) }))
        return info
      })

    const removeNetwork = (name: string) =>
      Effect.gen(function* () {
        const s = yield* Ref.get(state)
        if ([...s.containers.values()].some((c) => c.networks.includes(name))) {
          return yield* new ContainerError({
            operation: "removeNetwork",
            reason: "Conflict",
            detail: "in use",
          })
        }
        yield* Ref.set(state, { ...s, networks: withoutEntry(s.networks, name) })
      })

    const connectNetwork = (id: ContainerId, network: NetworkAttachment) =>
      Effect.gen(function* () {
        const c = yield* container("connectNetwork", id)
        const s = yield* Ref.get(state)
        if (!s.networks.has(network.name)) return yield* notFound("connectNetwork", `network ${network.name}`)
        yield* setContainer({ ...c, networks: [...c.networks, network.name] })
      })

    const runtime = ContainerRuntime.of({
      ping: Effect.void,
      version: Effect.succeed({
        product: "podman",
        version: "4.3.1-fake",
        apiVersion: "4.3.1",
        libpod: true,
      }),
      buildImage,
      inspectImage: (tag) => Effect.map(Ref.get(state), (s) => Option.fromNullable(s.images.get(tag))),
      removeImage: (tag) =>
        Effect.gen(function* () {
          const s = yield* Ref.get(state)
          // As an engine does: an image a container (running or not) was made from stays.
          if ([...s.containers.values()].some((c) => c.spec.image === tag)) {
            return yield* new ContainerError({
              operation: "removeImage",
              reason: "Conflict",
              detail: "in use",
            })
          }
          yield* Ref.set(state, { ...s, images: withoutEntry(s.images, tag) })
        }),
      listImages: (key) =>
        Effect.map(Ref.get(state), (s) => [
          ...new Map(
            [...s.images.values()].filter((image) => key in image.labels).map((image) => [image.id, image]),
          ).values(),
        ]),
      saveImage: (tags, file) =>
        Effect.gen(function* () {
          const s = yield* Ref.get(state)
          const missing = tags.find((tag) => !s.images.has(tag))
          if (missing !== undefined) return yield* notFound("saveImage", `image ${missing}`)
          const saved = tags.flatMap((tag) => Option.toArray(Option.fromNullable(s.images.get(tag))))
          yield* Ref.set(state, { ...s, archives: withEntry(s.archives, file, saved) })
        }),
      loadImage: (file) =>
        Effect.gen(function* () {
          const s = yield* Ref.get(state)
          const saved = s.archives.get(file)
          if (saved === undefined) return yield* notFound("loadImage", `archive ${file}`)
          const images = saved.reduce(
            (all, image) => image.tags.reduce((acc, tag) => withEntry(acc, tag, image), all),
            s.images,
          )
          yield* Ref.set(state, { ...s, images })
        }),
      createContainer,
      attachContainer,
      startContainer,
      waitContainer: (id) =>
        container("waitContainer", id).pipe(Effect.flatMap((c) => Deferred.await(c.exit))),
      inspectContainer,
      statsContainer: (id) => container("statsContainer", id).pipe(Effect.as({ pids: 1, memoryBytes: 0 })),
      killContainer,
      removeContainer,
      listContainers: (labels) =>
        Effect.map(Ref.get(state), (s) =>
          [...s.containers.values()]
            .filter((c) => hasLabels(c.spec.labels, labels))
            .map((c) => ({ id: c.id, names: [c.id], labels: c.spec.labels ?? {}, state: c.state })),
        ),
      createNetwork,
      inspectNetwork: (name) => Effect.map(Ref.get(state), (s) => Option.fromNullable(s.networks.get(name))),
      removeNetwork,
      connectNetwork,
      listNetworks: (labels) =>
        Effect.map(Ref.get(state), (s) =>
          [...s.networks.values()].filter((n) => hasLabels(n.labels, labels)),
        ),
    })

    const engine = FakeEngine.of({
      builds: Effect.map(Ref.get(state), (s) => s.builds),
      created: Effect.map(Ref.get(state), (s) => s.created),
      stdinOf: (id) => Effect.map(Ref.get(state), (s) => s.containers.get(id)?.stdin ?? ""),
    })

    return Context.make(ContainerRuntime, runtime).pipe(Context.add(FakeEngine, engine))
  })

/** The in-memory engine, with `FakeEngine` to inspect it. */
export const ContainerRuntimeTest = (
  options: ContainerRuntimeTestOptions = {},
): Layer.Layer<ContainerRuntime | FakeEngine> => Layer.effectContext(makeContainerRuntimeTest(options))
