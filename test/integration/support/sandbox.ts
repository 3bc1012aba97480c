import { mkdtempSync } from "node:fs"
import { request } from "node:http"
import { createServer, type Server } from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Config, Effect } from "effect"
import { build, type Plugin } from "esbuild"
import { ContainerRuntime } from "../../../src/services/ContainerRuntime.js"
import { removeNetworkQuietly } from "../../../src/services/ContainerScope.js"

/**
 * Support for the network sandbox's integration tests: the proxy bundled the way the build does
 * it, and a deliberately leaky network to prove the isolation probe against.
 */

export const podmanSocket = Config.string("AIRUT_TEST_PODMAN_SOCKET").pipe(
  Config.withDefault("/run/airut-test/podman.sock"),
)

/**
 * Resolves the `@effect/platform-node` barrel to its NodeContext and NodeRuntime modules. The
 * barrel also loads undici, which needs Node 20 globals and breaks at start on the sidecar's
 * Debian Node 18. (Asked of the proxy's author: import those modules by their own paths.)
 */
const platformNodeModules: Plugin = {
  name: "platform-node-modules",
  setup: (b) => {
    b.onResolve({ filter: /^@effect\/platform-node$/ }, () => ({
      path: "platform-node",
      namespace: "airut-shim",
    }))
    b.onLoad({ filter: /.*/, namespace: "airut-shim" }, () => ({
      contents:
        'export * as NodeContext from "@effect/platform-node/NodeContext"\n' +
        'export * as NodeRuntime from "@effect/platform-node/NodeRuntime"\n',
      resolveDir: fileURLToPath(new URL("../../..", import.meta.url)),
      loader: "js",
    }))
  },
}

/** Bundles src/programs/proxy/main.ts into one ESM file (what `npm run build` ships as dist/proxy.js). */
export const buildProxyBundle = Effect.tryPromise({
  try: () => {
    const outfile = join(mkdtempSync(join(tmpdir(), "airut-proxy-bundle-")), "proxy.js")
    return build({
      entryPoints: [fileURLToPath(new URL("../../../src/programs/proxy/main.ts", import.meta.url))],
      outfile,
      bundle: true,
      platform: "node",
      // Debian bookworm's nodejs runs it in the sidecar image.
      target: "node18",
      format: "esm",
      logLevel: "warning",
      // CommonJS dependencies call require() on Node built-ins.
      plugins: [platformNodeModules],
      banner: {
        js: "import { createRequire as __airutRequire } from 'node:module'; const require = __airutRequire(import.meta.url);",
      },
    }).then(() => outfile)
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
