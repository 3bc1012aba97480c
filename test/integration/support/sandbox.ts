import { mkdtempSync } from "node:fs"
import { request } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Config, Effect } from "effect"
import { build } from "esbuild"
import { ContainerRuntime } from "../../../src/services/ContainerRuntime.js"
import { removeNetworkQuietly } from "../../../src/services/ContainerScope.js"

/**
 * Support for the network sandbox's integration tests: the proxy bundled the way the build does
 * it, and a deliberately leaky network to prove the isolation probe against.
 */

export const podmanSocket = Config.string("AIRUT_TEST_PODMAN_SOCKET").pipe(
  Config.withDefault("/run/airut-test/podman.sock"),
)

/** Bundles src/programs/proxy/main.ts into one ESM file (what `npm run build` ships as dist/proxy.js). */
export const buildProxyBundle = Effect.tryPromise({
  try: () => {
    const outfile = join(mkdtempSync(join(tmpdir(), "airut-proxy-bundle-")), "proxy.js")
    return build({
      entryPoints: ["src/programs/proxy/main.ts"],
      outfile,
      bundle: true,
      platform: "node",
      // Debian bookworm's nodejs runs it in the sidecar image.
      target: "node18",
      format: "esm",
      logLevel: "warning",
      // CommonJS dependencies call require() on Node built-ins.
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
