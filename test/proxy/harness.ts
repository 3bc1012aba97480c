import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { Chunk, Duration, Effect, Layer, Schema, Stream } from "effect"
import { ProxyCaLive } from "../../src/layers/ProxyCaLive.js"
import { ProxyInProcessLive } from "../../src/layers/ProxyInProcessLive.js"
import { ConversationId } from "../../src/schema/ConversationId.js"
import { MaskedSecret, SigningCredential } from "../../src/schema/Credentials.js"
import { decodeNetworkAllowlist } from "../../src/schema/NetworkAllowlist.js"
import type { NetworkLogLine, RequestLogLine } from "../../src/schema/NetworkLogLine.js"
import { TaskId } from "../../src/schema/TaskId.js"
import { AirutPaths } from "../../src/services/AirutPaths.js"
import { NetworkProxy, type ProxyHandle } from "../../src/services/NetworkProxy.js"
import { ProxyCa } from "../../src/services/ProxyCa.js"
import { makeTestPki, startUpstream, type TestPki, type TestUpstream } from "./support.js"

/** Host names the test upstream serves (all routed to it by upstream overrides). */
export const testHosts = [
  "api.test",
  "other.test",
  "docs.test",
  "sub.docs.test",
  "api.anthropic.com",
  "api.github.com",
  "example.amazonaws.com",
  "bucket.s3.amazonaws.com",
]

/** A fresh installation CA in a temp state dir, and the in-process proxy using it. */
export const proxyLayer = () => {
  const stateDir = mkdtempSync(join(tmpdir(), "airut-proxy-"))
  const ca = ProxyCaLive.pipe(
    Layer.provide(Layer.succeed(AirutPaths, { configFile: join(stateDir, "airut.yaml"), stateDir })),
  )
  return ProxyInProcessLive.pipe(Layer.provideMerge(ca), Layer.provideMerge(NodeContext.layer))
}

export const decodeMasked = Schema.decodeUnknownSync(MaskedSecret)
export const decodeSigning = Schema.decodeUnknownSync(SigningCredential)

export interface Rig {
  readonly handle: ProxyHandle
  readonly upstream: TestUpstream
  readonly pki: TestPki
  /** curl arguments reaching `https://host/path` through the proxy's HTTPS port. */
  readonly https: (host: string, path: string) => ReadonlyArray<string>
  readonly http: (host: string, path: string) => ReadonlyArray<string>
}

export interface RigOptions {
  readonly allowlist: string
  readonly masked?: Readonly<Record<string, unknown>>
  readonly signing?: Readonly<Record<string, unknown>>
  readonly respond?: Parameters<typeof startUpstream>[1]
  /** More `upstream_overrides`; as a function, of the test upstream's port. */
  readonly extraOverrides?:
    | Readonly<Record<string, string>>
    | ((upstreamPort: number) => Readonly<Record<string, string>>)
}

/** Starts a test upstream and a proxy in front of it, for the current scope. */
export const rig = (options: RigOptions) =>
  Effect.gen(function* () {
    const pki = yield* makeTestPki(testHosts)
    const upstream = yield* startUpstream(pki, options.respond)
    const ca = yield* ProxyCa
    yield* ca.ensure
    const proxy = yield* NetworkProxy
    const allowlist = yield* decodeNetworkAllowlist(options.allowlist)
    const handle = yield* proxy.start({
      taskId: TaskId.make("0123456789ab"),
      conversationId: ConversationId.make("0123abcd"),
      allowlist,
      maskedSecrets: Object.fromEntries(
        Object.entries(options.masked ?? {}).map(([k, v]) => [k, decodeMasked(v)]),
      ),
      signingCredentials: Object.fromEntries(
        Object.entries(options.signing ?? {}).map(([k, v]) => [k, decodeSigning(v)]),
      ),
      upstreamOverrides: {
        ...Object.fromEntries(testHosts.map((h) => [h, `127.0.0.1:${upstream.port}`])),
        ...(typeof options.extraOverrides === "function"
          ? options.extraOverrides(upstream.port)
          : options.extraOverrides),
      },
      upstreamCaPem: pki.caPem,
    })
    const https = (host: string, path: string) => [
      "--resolve",
      `${host}:${handle.endpoints.https.port}:127.0.0.1`,
      "--cacert",
      handle.caCert.hostPath,
      `https://${host}:${handle.endpoints.https.port}${path}`,
    ]
    const http = (host: string, path: string) => [
      "--resolve",
      `${host}:${handle.endpoints.http.port}:127.0.0.1`,
      `http://${host}:${handle.endpoints.http.port}${path}`,
    ]
    return { handle, upstream, pki, https, http } satisfies Rig
  })

/** The next `n` request log lines (waiting at most 5 s). */
export const requestLines = (handle: ProxyHandle, n: number) =>
  handle.log.pipe(
    Stream.filter((l): l is RequestLogLine => l.kind === "request"),
    Stream.take(n),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.timeoutFail({
      duration: Duration.seconds(5),
      onTimeout: () => new Error(`fewer than ${n} request lines`),
    }),
  )

/** Every line logged so far (drains what is queued without waiting). */
export const linesSoFar = (handle: ProxyHandle): Effect.Effect<ReadonlyArray<NetworkLogLine>> =>
  handle.log.pipe(
    Stream.interruptAfter(Duration.millis(200)),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
  )
