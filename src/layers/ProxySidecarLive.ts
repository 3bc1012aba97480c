import { FileSystem } from "@effect/platform"
import {
  Cause,
  Chunk,
  Deferred,
  Duration,
  Effect,
  Fiber,
  Layer,
  Option,
  Queue,
  Redacted,
  Ref,
  Schedule,
  Stream,
  Take,
} from "effect"
import type { NewNetworkLogEntry } from "../schema/NetworkLogEntry.js"
import { decodeNetworkLogLine, type NetworkLogLine } from "../schema/NetworkLogLine.js"
import { caTrustEnv, encodeProxyConfigJson, type ProxyConfig } from "../schema/ProxyConfig.js"
import { proxyCaTarget } from "../schema/RunPolicy.js"
import { cryptoRandom, planSurrogates } from "../schema/Surrogate.js"
import { ContainerRuntime, type NetworkInfo } from "../services/ContainerRuntime.js"
import { acquireNetwork, managedLabels, removeContainerQuietly } from "../services/ContainerScope.js"
import { ConversationStore } from "../services/ConversationStore.js"
import { NetworkIsolation } from "../services/NetworkIsolation.js"
import { NetworkProxy, ProxyFailed, type ProxyHandle, type ProxySpec } from "../services/NetworkProxy.js"
import { ProxyCa } from "../services/ProxyCa.js"
import { proxyConfigTarget, SidecarImages } from "../services/SidecarImages.js"
import { proxyAddressIn } from "./sandbox/addresses.js"
import { toStoreEntry } from "./sandbox/logRows.js"
import { answersDns, answersTcp, answersTls } from "./sandbox/reachable.js"

export interface ProxySidecarOptions {
  /** Names are `<prefix>-net-<task>`, `<prefix>-proxy-<task>` and `<prefix>-egress`. */
  readonly namePrefix?: string
  /** The network the sidecars reach the outside through; made at first need, shared by tasks. */
  readonly egressNetwork?: string
  /** DNS servers the proxy resolves allowed hosts with (server config `network.upstream_dns`). */
  readonly upstreamDns?: ReadonlyArray<string>
  /**
   * Where each sidecar's config (real secrets, mode 0600) is written, one directory per task
   * removed with it (default: the system temp dir). The daemon uses a directory of its own
   * state dir, so what a crash leaves there is in an owner-only place it empties at start.
   */
  readonly secretsDir?: string
  /** How long a sidecar may take to answer on 53, 80 and 443. */
  readonly readyTimeout?: Duration.DurationInput
  /** Memory limit of the sidecar (the original had none: a body bomb could take the host's). */
  readonly memoryBytes?: number
  readonly pidsLimit?: number
}

const defaults = {
  namePrefix: "airut",
  readyTimeout: Duration.seconds(20),
  memoryBytes: 512 * 1024 ** 2,
  pidsLimit: 256,
}

// The name the readiness check's TLS handshake asks for (the DNS check asks for it too).
const readyName = "airut-ready.invalid"
// Lines of the sidecar's stderr kept to explain a sidecar that failed to come up.
const stderrTail = 20
// Network log rows are written in batches of at most this many, at least this often.
const storeBatch = 100
const storeBatchWindow = Duration.millis(250)
// After SIGTERM the proxy flushes its last lines and exits; past this the scope moves on.
const flushTimeout = Duration.seconds(5)

export const makeProxySidecar = (options: ProxySidecarOptions = {}) =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    const images = yield* SidecarImages
    const isolation = yield* NetworkIsolation
    const ca = yield* ProxyCa
    const store = yield* ConversationStore
    const fs = yield* FileSystem.FileSystem
    const settings = { ...defaults, ...options }
    const prefix = settings.namePrefix
    const egressName = options.egressNetwork ?? `${prefix}-egress`
    const readyTimeout = Duration.decode(settings.readyTimeout)
    const failed = (reason: ProxyFailed["reason"]) => (e: { readonly message: string }) =>
      new ProxyFailed({ reason, detail: e.message })

    // Tasks starting together share one creation of the egress network.
    const egressLock = yield* Effect.makeSemaphore(1)
    const ensureEgress = Effect.gen(function* () {
      const existing = yield* runtime.inspectNetwork(egressName)
      if (Option.isSome(existing)) {
        if (existing.value.internal) {
          return yield* new ProxyFailed({
            reason: "network",
            detail: `the egress network ${egressName} is internal; remove it and airut will make it again`,
          })
        }
        return existing.value
      }
      yield* Effect.logInfo(`creating the proxies' egress network ${egressName}`)
      return yield* runtime.createNetwork({
        name: egressName,
        internal: false,
        labels: { ...managedLabels, "airut.role": "egress" },
      })
    }).pipe(
      Effect.mapError((e) => (e._tag === "ProxyFailed" ? e : failed("network")(e))),
      egressLock.withPermits(1),
    )

    /** The task network: internal, no gateway (checked, not assumed), and the proxy's address on it. */
    const taskNetwork = (spec: ProxySpec) =>
      Effect.gen(function* () {
        const network: NetworkInfo = yield* acquireNetwork({
          name: `${prefix}-net-${spec.taskId}`,
          internal: true,
          labels: {
            "airut.role": "task-network",
            "airut.task": spec.taskId,
            "airut.conversation": spec.conversationId,
          },
        }).pipe(Effect.mapError(failed("network")))
        const subnet = network.subnets[0]
        if (subnet === undefined || network.subnets.some((s) => s.gateway !== undefined)) {
          return yield* new ProxyFailed({
            reason: "network",
            detail: `the task network ${network.name} got ${subnet === undefined ? "no subnet" : "a gateway on the host"}; it would not be isolated`,
          })
        }
        const proxyIp = yield* Option.match(proxyAddressIn(subnet.subnet), {
          onNone: () =>
            Effect.fail(
              new ProxyFailed({ reason: "network", detail: `no room for the proxy in ${subnet.subnet}` }),
            ),
          onSome: Effect.succeed,
        })
        return { network, proxyIp }
      }).pipe(Effect.provideService(ContainerRuntime, runtime))

    const start = (spec: ProxySpec) =>
      Effect.gen(function* () {
        // Fail closed: no sandboxed task on a network not proven isolated on this engine.
        yield* isolation.ensureIsolated.pipe(Effect.mapError(failed("network")))
        const image = yield* images.proxyImage.pipe(
          Effect.mapError(
            (e) => new ProxyFailed({ reason: "unhealthy", detail: `no proxy image: ${e.message}` }),
          ),
        )
        const caFiles = yield* ca.inspect.pipe(Effect.mapError(failed("ca")))
        const readCa = (file: string) =>
          fs
            .readFileString(file)
            .pipe(Effect.mapError((e) => new ProxyFailed({ reason: "ca", detail: `${file}: ${e.message}` })))
        const certPem = yield* readCa(caFiles.certPath)
        const keyPem = yield* readCa(caFiles.keyPath)
        const surrogates = yield* planSurrogates(spec.maskedSecrets, spec.signingCredentials).pipe(
          Effect.withRandom(cryptoRandom),
        )
        const egress = yield* ensureEgress
        const { network, proxyIp } = yield* taskNetwork(spec)

        const config: ProxyConfig = {
          version: 1,
          dns: { listen: { host: "0.0.0.0", port: 53 }, answer: proxyIp },
          http: { host: "0.0.0.0", port: 80 },
          https: { host: "0.0.0.0", port: 443 },
          ca: { certPem, keyPem: Redacted.make(keyPem) },
          allowlist: spec.allowlist,
          maskedSecrets: surrogates.maskedSecrets,
          signingCredentials: surrogates.signingCredentials,
          upstreamOverrides: spec.upstreamOverrides,
          ...(spec.upstreamCaPem === undefined ? {} : { upstreamCaPem: spec.upstreamCaPem }),
          ...(settings.upstreamDns === undefined ? {} : { upstreamDns: settings.upstreamDns }),
        }
        const overrides = Object.entries(spec.upstreamOverrides)
        if (overrides.length > 0) {
          yield* Effect.logWarning(
            `upstream overrides reroute this task's traffic: ${overrides.map(([h, a]) => `${h} -> ${a}`).join(", ")}`,
          )
        }
        // Real secrets and the CA key: owner-only file in an owner-only directory, mounted
        // read-only into the sidecar alone, removed with the scope (after the container).
        const json = yield* encodeProxyConfigJson(config).pipe(
          Effect.mapError((e) => new ProxyFailed({ reason: "config", detail: e.message })),
        )
        const dir = yield* fs
          .makeTempDirectoryScoped({
            prefix: "airut-sidecar-",
            ...(options.secretsDir === undefined ? {} : { directory: options.secretsDir }),
          })
          .pipe(Effect.mapError(failed("config")))
        const configFile = `${dir}/proxy.json`
        yield* fs.writeFileString(configFile, json, { mode: 0o600 }).pipe(Effect.mapError(failed("config")))

        const labels = {
          ...managedLabels,
          "airut.role": "proxy",
          "airut.task": spec.taskId,
          "airut.conversation": spec.conversationId,
        }
        const id = yield* Effect.acquireRelease(
          runtime.createContainer({
            image,
            name: `${prefix}-proxy-${spec.taskId}`,
            labels,
            mounts: [{ source: configFile, target: proxyConfigTarget, readOnly: true }],
            network: { name: network.name, ipv4Address: proxyIp },
            capDrop: ["ALL"],
            // Ports 53, 80 and 443, nothing else.
            capAdd: ["NET_BIND_SERVICE"],
            securityOpt: ["no-new-privileges"],
            memoryBytes: settings.memoryBytes,
            memorySwapBytes: settings.memoryBytes,
            pidsLimit: settings.pidsLimit,
          }),
          (container) =>
            removeContainerQuietly(container).pipe(Effect.provideService(ContainerRuntime, runtime)),
        ).pipe(Effect.mapError(failed("listen")))
        // Joined before start: the proxy must never run with only one of its two networks.
        yield* runtime.connectNetwork(id, { name: egress.name }).pipe(Effect.mapError(failed("network")))
        const io = yield* runtime
          .attachContainer(id, { stdin: false })
          .pipe(Effect.mapError(failed("listen")))

        const lines = yield* Effect.acquireRelease(
          Queue.unbounded<Take.Take<NetworkLogLine>>(),
          Queue.shutdown,
        )
        const rows = yield* Effect.acquireRelease(
          Queue.unbounded<Take.Take<NewNetworkLogEntry>>(),
          Queue.shutdown,
        )
        const ready = yield* Deferred.make<void>()
        const recentErrors = yield* Ref.make<ReadonlyArray<string>>([])

        const onLine = (text: string) =>
          decodeNetworkLogLine(text).pipe(
            Effect.flatMap((line) =>
              Effect.all(
                [
                  Queue.offer(lines, Take.of(line)),
                  line.kind === "start" ? Deferred.succeed(ready, undefined) : Effect.void,
                  line.kind === "request" ? Queue.offer(rows, Take.of(toStoreEntry(line))) : Effect.void,
                ],
                { discard: true },
              ),
            ),
            Effect.catchTag("ParseError", () =>
              Effect.logWarning(`the proxy wrote a line that is not a log line: ${text.slice(0, 200)}`),
            ),
          )
        const ends = Effect.all([Queue.offer(lines, Take.end), Queue.offer(rows, Take.end)], {
          discard: true,
        })
        const pump = yield* io.stdout.pipe(
          Stream.runForEach(onLine),
          Effect.catchAllCause((cause) =>
            Effect.logError("reading the proxy's log broke off", Cause.pretty(cause)),
          ),
          Effect.ensuring(ends),
          Effect.forkScoped,
        )
        const writer = yield* Stream.fromQueue(rows).pipe(
          Stream.flattenTake,
          Stream.groupedWithin(storeBatch, storeBatchWindow),
          Stream.runForEach((batch) =>
            store.appendNetwork(spec.taskId, Chunk.toReadonlyArray(batch)).pipe(
              Effect.catchTags({
                TaskNotFound: (e) =>
                  Effect.logError(`network log rows for an unknown task ${e.id} were not stored`),
                StoreError: (e) =>
                  Effect.logError(`could not store ${batch.length} network log rows: ${e.message}`),
              }),
            ),
          ),
          Effect.forkScoped,
        )
        yield* io.stderr.pipe(
          Stream.runForEach((line) =>
            Ref.update(recentErrors, (kept) => [...kept, line].slice(-stderrTail)).pipe(
              Effect.zipRight(Effect.logInfo(line)),
            ),
          ),
          Effect.catchAllCause((cause) =>
            Effect.logWarning("reading the proxy's diagnostics broke off", Cause.pretty(cause)),
          ),
          Effect.annotateLogs({ proxy: spec.taskId }),
          Effect.forkScoped,
        )
        // Runs first when the scope closes (finalizers run in reverse): SIGTERM lets the proxy
        // write its last lines, which are then stored before the container is removed.
        yield* Effect.addFinalizer(() =>
          runtime.killContainer(id, "SIGTERM").pipe(
            Effect.zipRight(Fiber.await(pump)),
            Effect.zipRight(Fiber.await(writer)),
            Effect.interruptible,
            Effect.timeout(flushTimeout),
            Effect.catchAllCause((cause) =>
              Effect.logWarning("the proxy's last log lines may be lost", Cause.pretty(cause)),
            ),
          ),
        )

        yield* runtime.startContainer(id).pipe(Effect.mapError(failed("listen")))
        const exited = yield* runtime.waitContainer(id).pipe(Effect.forkScoped)
        const explain = Ref.get(recentErrors).pipe(
          Effect.map((tail) => (tail.length === 0 ? "" : `; its last words: ${tail.join(" | ")}`)),
        )
        const died = Fiber.join(exited).pipe(
          Effect.mapError(failed("unhealthy")),
          Effect.flatMap((exit) =>
            Effect.flatMap(explain, (why) =>
              Effect.fail(
                new ProxyFailed({
                  reason: "unhealthy",
                  detail: `the proxy exited with ${exit.exitCode}${why}`,
                }),
              ),
            ),
          ),
        )
        const notReady = Effect.flatMap(explain, (why) =>
          Effect.fail(
            new ProxyFailed({
              reason: "unhealthy",
              detail: `the proxy did not answer on 53, 80 and 443 within ${Duration.format(readyTimeout)}${why}`,
            }),
          ),
        )
        const answering = Effect.gen(function* () {
          yield* Deferred.await(ready)
          // The start line says the listeners are bound; the daemon checks they answer, over the
          // sidecar's address on the egress network (the task network has none on the host).
          const info = yield* runtime.inspectContainer(id).pipe(Effect.mapError(failed("unhealthy")))
          const address = info.networks[egress.name] ?? ""
          yield* Effect.all(
            [answersTcp(address, 80), answersTls(address, 443, readyName, certPem), answersDns(address, 53)],
            {
              concurrency: "unbounded",
              discard: true,
            },
          ).pipe(
            Effect.mapError((detail) => new ProxyFailed({ reason: "unhealthy", detail })),
            Effect.retry(Schedule.spaced("100 millis")),
          )
        })
        yield* Effect.raceFirst(answering, died).pipe(
          Effect.timeout(readyTimeout),
          Effect.catchTag("TimeoutException", () => notReady),
        )
        // A proxy that dies mid-task leaves the agent without any way out (fail closed); say so.
        yield* Fiber.join(exited).pipe(
          Effect.flatMap((exit) =>
            Effect.logError(
              `the network proxy of task ${spec.taskId} stopped (exit ${exit.exitCode}); the agent has no network now`,
            ),
          ),
          Effect.catchTags({
            ContainerError: (e) =>
              Effect.logError(`lost track of the proxy of task ${spec.taskId}: ${e.message}`),
            EngineUnreachable: (e) =>
              Effect.logError(`lost track of the proxy of task ${spec.taskId}: ${e.message}`),
          }),
          Effect.forkScoped,
        )

        const handle: ProxyHandle = {
          dnsServer: proxyIp,
          network: Option.some(network.name),
          caCert: { hostPath: caFiles.certPath, containerPath: proxyCaTarget },
          env: { ...surrogates.env, ...caTrustEnv(proxyCaTarget) },
          endpoints: {
            dns: { host: proxyIp, port: 53 },
            http: { host: proxyIp, port: 80 },
            https: { host: proxyIp, port: 443 },
          },
          log: Stream.fromQueue(lines).pipe(Stream.flattenTake),
        }
        return handle
      }).pipe(
        Effect.annotateLogs({ task: spec.taskId }),
        Effect.withSpan("NetworkProxy.start", { attributes: { task: spec.taskId } }),
      )

    return NetworkProxy.of({ start })
  })

/**
 * The network proxy as a sidecar container per task, on an internal network proven isolated,
 * joined to a shared egress network. Network log rows go to the store as they arrive.
 */
export const ProxySidecarLive = (
  options: ProxySidecarOptions = {},
): Layer.Layer<
  NetworkProxy,
  never,
  ContainerRuntime | SidecarImages | NetworkIsolation | ProxyCa | ConversationStore | FileSystem.FileSystem
> => Layer.effect(NetworkProxy, makeProxySidecar(options))
