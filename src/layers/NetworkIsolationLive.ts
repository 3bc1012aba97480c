import { randomBytes } from "node:crypto"
import { isIP } from "node:net"
import { Chunk, Clock, Duration, Effect, Layer, Option, Ref, Stream } from "effect"
import { decodeProbeOutput, type IsolationReport } from "../schema/IsolationProbe.js"
import { keptCapabilities } from "../schema/RunPolicy.js"
import { ContainerRuntime, type NetworkInfo } from "../services/ContainerRuntime.js"
import { acquireNetwork, runContainer } from "../services/ContainerScope.js"
import {
  IsolationUnsupported,
  isolationAdvice,
  NetworkIsolation,
  NetworkNotIsolated,
  ProbeFailed,
} from "../services/NetworkIsolation.js"
import { SidecarImages } from "../services/SidecarImages.js"
import { hostAddresses, proxyAddressIn } from "./sandbox/addresses.js"
import { hostListener } from "./sandbox/hostListener.js"
import { assembleReport, planProbe } from "./sandbox/probePlan.js"
import { probeScript } from "./sandbox/probeScript.js"

export interface NetworkIsolationOptions {
  /** Probe networks are named `<prefix>-probe-<random>`. */
  readonly namePrefix?: string
  /** Public addresses the probe tries to connect to; none may answer. */
  readonly publicTcp?: ReadonlyArray<{ readonly host: string; readonly port: number }>
  /** Public DNS servers the probe queries directly; none may answer. */
  readonly publicDns?: ReadonlyArray<string>
  /** An outside name that must not resolve. */
  readonly outsideName?: string
  /** How long each attempt may take; all run at once. */
  readonly attemptTimeout?: Duration.DurationInput
}

const defaults = {
  namePrefix: "airut",
  publicTcp: [
    { host: "1.1.1.1", port: 443 },
    { host: "8.8.8.8", port: 53 },
  ],
  publicDns: ["1.1.1.1", "8.8.8.8"],
  outsideName: "example.com",
  attemptTimeout: Duration.seconds(2),
}

// Container start, every attempt (bounded by attemptTimeout) and removal fit well inside this.
const probeDeadline = Duration.seconds(60)

const gatewaysOf = (networks: ReadonlyArray<NetworkInfo>) =>
  networks.flatMap((n) =>
    n.subnets.flatMap((s) =>
      // The compat API writes "<nil>" for a network without a gateway.
      s.gateway !== undefined && isIP(s.gateway) !== 0 ? [{ address: s.gateway, network: n.name }] : [],
    ),
  )

export const makeNetworkIsolation = (options: NetworkIsolationOptions = {}) =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    const images = yield* SidecarImages
    const settings = { ...defaults, ...options }
    const timeoutMs = Duration.toMillis(Duration.decode(settings.attemptTimeout))
    const failed = (e: { readonly message: string }) => new ProbeFailed({ detail: e.message })

    const engineName = runtime.version.pipe(
      Effect.map((v) => `${v.product} ${v.version}`),
      Effect.mapError(failed),
    )

    /** Runs the probe container on `network` (which the caller owns) and reads its answer. */
    const probeOn = (network: NetworkInfo) =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        const engine = yield* engineName
        const image = yield* images.nodeImage.pipe(Effect.mapError(failed))
        const greeting = `airut-probe-${randomBytes(12).toString("hex")}`
        const listener = yield* hostListener(greeting).pipe(
          Effect.mapError(
            (e) => new ProbeFailed({ detail: `cannot open the host-side listener: ${e.message}` }),
          ),
        )
        const others = yield* runtime.listNetworks({}).pipe(Effect.mapError(failed))
        const input = planProbe({
          hostAddresses: yield* hostAddresses,
          gateways: gatewaysOf([network, ...others]),
          listenerPort: listener.port,
          greeting,
          publicTcp: settings.publicTcp,
          publicDns: settings.publicDns,
          outsideName: settings.outsideName,
          timeoutMs,
        })
        // Like an agent: the only DNS server is where the proxy would be (nothing answers there
        // during the probe), IPv6 off, the agent's capabilities.
        const dns = Option.flatMap(Option.fromNullable(network.subnets[0]), (s) => proxyAddressIn(s.subnet))
        const container = yield* runContainer({
          image,
          entrypoint: ["/usr/bin/node"],
          command: ["-e", probeScript, JSON.stringify(input)],
          labels: { "airut.role": "isolation-probe" },
          network: { name: network.name },
          ...(Option.isSome(dns) ? { dns: [dns.value] } : {}),
          sysctls: { "net.ipv6.conf.all.disable_ipv6": "1" },
          capDrop: ["ALL"],
          capAdd: keptCapabilities,
          securityOpt: ["no-new-privileges"],
        }).pipe(Effect.mapError(failed))
        const [stdout, stderr, exit] = yield* Effect.all(
          [
            Stream.runCollect(container.stdout).pipe(Effect.map(Chunk.toArray)),
            Stream.runCollect(container.stderr).pipe(Effect.map(Chunk.toArray)),
            container.wait,
          ],
          { concurrency: "unbounded" },
        ).pipe(Effect.mapError(failed))
        const last = stdout.filter((l) => l.trim() !== "").at(-1)
        if (exit.exitCode !== 0 || last === undefined) {
          return yield* new ProbeFailed({
            detail: `the probe container exited with ${exit.exitCode}: ${stderr.slice(-5).join(" | ") || "no output"}`,
          })
        }
        const output = yield* decodeProbeOutput(last).pipe(
          Effect.mapError((e) => new ProbeFailed({ detail: `unreadable probe output: ${e.message}` })),
        )
        const verdict = assembleReport({
          input,
          output,
          listenerConnections: yield* listener.connections,
          network: network.name,
          engine,
          durationMs: (yield* Clock.currentTimeMillis) - started,
        })
        if (verdict._tag === "Broken") return yield* new ProbeFailed({ detail: verdict.detail })
        return verdict.report
      }).pipe(
        Effect.scoped,
        Effect.provideService(ContainerRuntime, runtime),
        Effect.timeoutFail({
          duration: probeDeadline,
          onTimeout: () => new ProbeFailed({ detail: `no result within ${Duration.format(probeDeadline)}` }),
        }),
      )

    const probeNetwork = (name: string) =>
      Effect.gen(function* () {
        const found = yield* runtime.inspectNetwork(name).pipe(Effect.mapError(failed))
        if (Option.isNone(found)) return yield* new ProbeFailed({ detail: `no network named ${name}` })
        return yield* probeOn(found.value)
      }).pipe(Effect.withSpan("NetworkIsolation.probeNetwork", { attributes: { network: name } }))

    const probe = Effect.gen(function* () {
      const info = yield* runtime.version.pipe(Effect.mapError(failed))
      if (!info.libpod) {
        return yield* new IsolationUnsupported({ engine: `${info.product} ${info.version}` })
      }
      const network = yield* acquireNetwork({
        name: `${settings.namePrefix}-probe-${randomBytes(6).toString("hex")}`,
        internal: true,
        labels: { "airut.role": "isolation-probe" },
      }).pipe(Effect.mapError(failed))
      return yield* probeOn(network)
    }).pipe(
      Effect.scoped,
      Effect.provideService(ContainerRuntime, runtime),
      Effect.withSpan("NetworkIsolation.probe"),
    )

    const proven = yield* Ref.make(Option.none<IsolationReport>())
    const oneProbe = yield* Effect.makeSemaphore(1)
    const ensureIsolated = Effect.gen(function* () {
      const known = yield* Ref.get(proven)
      if (Option.isSome(known)) return known.value
      const report = yield* probe
      if (report.leaks.length > 0) {
        const error = new NetworkNotIsolated({
          network: report.network,
          leaks: report.leaks,
          advice: isolationAdvice,
        })
        yield* Effect.logError(error.message)
        return yield* error
      }
      yield* Effect.logInfo(
        `network isolation proven on ${report.engine}: ${report.checks.length} ways out tried, none got through (${report.durationMs} ms)`,
      )
      yield* Ref.set(proven, Option.some(report))
      return report
    }).pipe(oneProbe.withPermits(1), Effect.withSpan("NetworkIsolation.ensureIsolated"))

    return NetworkIsolation.of({ probe, probeNetwork, ensureIsolated })
  })

/** The isolation probe on the container runtime; a proven result is kept for the layer's life. */
export const NetworkIsolationLive = (
  options: NetworkIsolationOptions = {},
): Layer.Layer<NetworkIsolation, never, ContainerRuntime | SidecarImages> =>
  Layer.effect(NetworkIsolation, makeNetworkIsolation(options))
