import { FileSystem } from "@effect/platform"
import { Effect, Layer, Option, Queue, Redacted, Stream } from "effect"
import { serveProxy } from "../programs/proxy/server.js"
import {
  decodeNetworkLogLineJson,
  type NetworkLogLine,
  type NetworkLogLineJson,
} from "../schema/NetworkLogLine.js"
import { caTrustEnv, type ProxyConfig } from "../schema/ProxyConfig.js"
import { cryptoRandom, planSurrogates } from "../schema/Surrogate.js"
import { NetworkProxy, ProxyFailed, type ProxySpec } from "../services/NetworkProxy.js"
import { ProxyCa } from "../services/ProxyCa.js"

const loopback = "127.0.0.1"

/**
 * The proxy run inside this process on loopback ephemeral ports: the same modules the sidecar
 * runs, without a container or a network, for fast tests and the benchmark. It isolates
 * nothing by itself; clients must be pointed at it (curl `--resolve`, `--dns-servers`).
 */
export const makeProxyInProcess = Effect.gen(function* () {
  const ca = yield* ProxyCa
  const fs = yield* FileSystem.FileSystem

  const start = (spec: ProxySpec) =>
    Effect.gen(function* () {
      const caFiles = yield* ca.inspect.pipe(
        Effect.mapError((e) => new ProxyFailed({ reason: "ca", detail: e.message })),
      )
      const read = (file: string) =>
        fs
          .readFileString(file)
          .pipe(Effect.mapError((e) => new ProxyFailed({ reason: "ca", detail: `${file}: ${e.message}` })))
      const certPem = yield* read(caFiles.certPath)
      const keyPem = yield* read(caFiles.keyPath)
      const surrogates = yield* planSurrogates(spec.maskedSecrets, spec.signingCredentials).pipe(
        Effect.withRandom(cryptoRandom),
      )
      const config: ProxyConfig = {
        version: 1,
        dns: { listen: { host: loopback, port: 0 }, answer: loopback },
        http: { host: loopback, port: 0 },
        https: { host: loopback, port: 0 },
        ca: { certPem, keyPem: Redacted.make(keyPem) },
        allowlist: spec.allowlist,
        maskedSecrets: surrogates.maskedSecrets,
        signingCredentials: surrogates.signingCredentials,
        upstreamOverrides: spec.upstreamOverrides,
        ...(spec.upstreamCaPem === undefined ? {} : { upstreamCaPem: spec.upstreamCaPem }),
        ...(spec.upstreamDns === undefined ? {} : { upstreamDns: spec.upstreamDns }),
      }
      // Unbounded: the log is the audit trail and must not drop lines; each is small and one is
      // written per request. Lines are decoded as they are read, off the proxy's hot path.
      const lines = yield* Effect.acquireRelease(Queue.unbounded<NetworkLogLineJson>(), (q) =>
        Queue.shutdown(q),
      )
      const ports = yield* serveProxy(config, (json) => {
        // Synchronous on the proxy's hot path (see LogSink); an unbounded queue takes every line.
        lines.unsafeOffer(json)
      }).pipe(
        Effect.mapError(
          (e) => new ProxyFailed({ reason: e.reason === "ca" ? "ca" : "listen", detail: e.detail }),
        ),
      )
      const dnsPort = Option.getOrElse(ports.dns, () => 0)
      return {
        dnsServer: loopback,
        network: Option.none(),
        caCert: { hostPath: caFiles.certPath, containerPath: caFiles.certPath },
        env: { ...surrogates.env, ...caTrustEnv(caFiles.certPath) },
        endpoints: {
          dns: { host: loopback, port: dnsPort },
          http: { host: loopback, port: ports.http },
          https: { host: loopback, port: ports.https },
        },
        log: Stream.fromQueue(lines).pipe(
          Stream.mapEffect((json) =>
            decodeNetworkLogLineJson(json).pipe(
              Effect.map(Option.some),
              Effect.catchTag("ParseError", (e) =>
                Effect.as(Effect.logError(`proxy wrote an unreadable log line: ${e.message}`), Option.none()),
              ),
            ),
          ),
          Stream.filterMap((line: Option.Option<NetworkLogLine>) => line),
        ),
      }
    })

  return NetworkProxy.of({ start })
})

export const ProxyInProcessLive = Layer.effect(NetworkProxy, makeProxyInProcess)
