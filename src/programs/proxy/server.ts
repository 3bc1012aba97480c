/**
 * The whole proxy for one task, as a scoped effect: DNS responder, HTTP and HTTPS listeners,
 * upstream pools and the leaf certificate cache, all released when the scope closes. The
 * sidecar program (main.ts) and the in-process layer both run this.
 */
import { Data, Effect, FiberSet, Option } from "effect"
import type { ProxyConfig } from "../../schema/ProxyConfig.js"
import { compileAllowlist } from "./allowlist.js"
import { compileMaskedSecrets } from "./credentials.js"
import { serveDns } from "./dns.js"
import type { ProxyCore } from "./forward.js"
import { serveHttp } from "./http.js"
import { serveHttps } from "./https.js"
import { makeLeafCerts } from "./leafCerts.js"
import { emitLine, isoNow, type LogSink } from "./log.js"
import { compileSigning } from "./sigv4.js"
import { makeUpstream } from "./upstream.js"

export class ProxyStartFailed extends Data.TaggedError("ProxyStartFailed")<{
  readonly reason: "ca" | "listen"
  readonly detail: string
}> {
  override get message(): string {
    return `the proxy could not start (${this.reason}): ${this.detail}`
  }
}

export interface BoundPorts {
  readonly http: number
  readonly https: number
  readonly dns: Option.Option<number>
}

export const serveProxy = (config: ProxyConfig, emit: LogSink) =>
  Effect.gen(function* () {
    const run = yield* FiberSet.makeRuntime<never>()
    const certs = yield* makeLeafCerts(config.ca).pipe(
      Effect.mapError((e) => new ProxyStartFailed({ reason: "ca", detail: e.detail })),
    )
    const upstream = yield* Effect.acquireRelease(
      Effect.sync(() => makeUpstream(config)),
      (u) => u.destroy,
    )
    const clock = yield* Effect.clock
    const core: ProxyCore = {
      allowlist: compileAllowlist(config.allowlist),
      masked: compileMaskedSecrets(config.maskedSecrets),
      signing: compileSigning(config.signingCredentials),
      upstream,
      emit,
      now: () => clock.unsafeCurrentTimeMillis(),
    }
    const listenFailed = (e: { readonly address: string; readonly detail: string }) =>
      new ProxyStartFailed({ reason: "listen", detail: `${e.address}: ${e.detail}` })
    const dns =
      config.dns === undefined
        ? Option.none<number>()
        : Option.some(
            yield* serveDns(config.dns.listen, config.dns.answer, emit, run).pipe(
              Effect.mapError(listenFailed),
            ),
          )
    const http = yield* serveHttp(core, config.http, run).pipe(Effect.mapError(listenFailed))
    const https = yield* serveHttps(core, certs, config.https, run).pipe(Effect.mapError(listenFailed))
    const overrides = config.upstreamOverrides
    if (Object.keys(overrides).length > 0) {
      yield* Effect.logWarning(
        `upstream overrides in effect: ${Object.entries(overrides)
          .map(([host, address]) => `${host} -> ${address}`)
          .join(", ")}`,
      )
    }
    yield* emitLine(emit, {
      kind: "start",
      time: yield* isoNow,
      http,
      https,
      ...(Option.isSome(dns) ? { dns: dns.value } : {}),
      upstreamOverrides: { ...overrides },
    })
    return { http, https, dns } satisfies BoundPorts
  })
