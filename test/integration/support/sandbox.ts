import { mkdtempSync } from "node:fs"
import { request } from "node:http"
import { createServer, type Server } from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Config, Effect } from "effect"
import { bundleProxy } from "../../../scripts/proxyBundle.js"
import { ContainerRuntime } from "../../../src/services/ContainerRuntime.js"
import { acquireNetwork, removeNetworkQuietly, runContainer } from "../../../src/services/ContainerScope.js"
import { baseImage } from "./podman.js"

/**
 * Support for the network sandbox's integration tests: the proxy bundled the way the build does
 * it, and a deliberately leaky network to prove the isolation probe against.
 */

export const podmanSocket = Config.string("AIRUT_TEST_PODMAN_SOCKET").pipe(
  Config.withDefault("/run/airut-test/podman.sock"),
)

/** The proxy bundled exactly as `npm run build` ships it (dist/proxy.js), into a temp dir. */
export const buildProxyBundle = Effect.tryPromise({
  try: () => {
    const outfile = join(mkdtempSync(join(tmpdir(), "airut-proxy-bundle-")), "proxy.js")
    return bundleProxy(outfile).then(() => outfile)
  },
  catch: (cause) => new Error(`bundling the proxy failed: ${String(cause)}`),
})

/** One call to the engine's Docker-compatible API, bypassing our runtime on purpose. */
const compatCall = (socketPath: string, method: string, path: string, body?: object) =>
  Effect.async<{ readonly status: number; readonly text: string }, Error>((resume) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = request(
      {
        socketPath,
        method,
        path,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () =>
          resume(
            Effect.succeed({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
          ),
        )
      },
    )
    req.on("error", (e) => resume(Effect.fail(e)))
    req.end(payload)
    return Effect.sync(() => req.destroy())
  })

/**
 * A plain internal network made through the Docker-compatible endpoint, as `podman network
 * create --internal` makes it: it keeps a gateway on the host and DNS on that gateway, so it
 * LEAKS (DESIGN.md). Removed with the scope.
 */
export const leakyInternalNetwork = (name: string) =>
  Effect.gen(function* () {
    const socketPath = yield* podmanSocket
    yield* Effect.acquireRelease(
      compatCall(socketPath, "POST", "/networks/create", {
        Name: name,
        Internal: true,
        Labels: { "airut.managed": "true", "airut.test": "leaky" },
      }).pipe(
        Effect.filterOrFail(
          (r) => r.status === 201 || r.status === 200,
          (r) => new Error(`creating ${name}: ${r.status} ${r.text}`),
        ),
      ),
      () => Effect.flatMap(ContainerRuntime, () => removeNetworkQuietly(name)),
    )
    return name
  })

export interface Arrived {
  readonly method: string
  readonly url: string
  readonly host: string
  readonly authorization: string | undefined
}

export interface HostUpstream {
  readonly port: number
  /** Every request that arrived, in order. */
  readonly arrived: ReadonlyArray<Arrived>
}

/**
 * An HTTPS test upstream on `host` (the egress network's gateway: the one host address a sidecar
 * can reach) with the test CA's certificate, answering 200 with a JSON echo of the request line.
 */
export const hostUpstream = (tls: { readonly certPem: string; readonly keyPem: string }, host: string) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Server; readonly upstream: HostUpstream }, Error>((resume) => {
      const arrived: Array<Arrived> = []
      const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
        req.resume()
        req.on("end", () => {
          const seen: Arrived = {
            method: req.method ?? "",
            url: req.url ?? "",
            host: req.headers.host ?? "",
            authorization: req.headers.authorization,
          }
          arrived.push(seen)
          // Headers stay out of the echo: an upstream echoing the real credential back would put
          // it in the container (a residual risk of any allowed API, not the sandbox's doing).
          const text = JSON.stringify({ echo: { method: seen.method, url: seen.url, host: seen.host } })
          res.writeHead(200, {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(text),
          })
          res.end(text)
        })
      })
      server.once("error", (e) => resume(Effect.fail(e)))
      server.listen(0, host, () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, upstream: { port, arrived } }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      }),
  ).pipe(Effect.map(({ upstream }) => upstream))

/**
 * The egress network tests' upstreams listen on, created for the scope, and its gateway address
 * (the host address the sidecar reaches). Netavark brings the bridge, and with it that address,
 * up with its first container and down with its last: a sleeping container keeps it up for the
 * whole scope.
 */
export const acquireEgress = (name: string, testLabel: string) =>
  Effect.gen(function* () {
    const egress = yield* acquireNetwork({ name, internal: false, labels: { "airut.role": "egress" } })
    const gateway = egress.subnets[0]?.gateway
    if (gateway === undefined) return yield* Effect.dieMessage(`${name} has no gateway`)
    yield* runContainer({
      image: baseImage,
      command: ["sleep", "3600"],
      network: { name },
      labels: { "airut.test": testLabel },
    })
    return gateway
  })
