import { fileURLToPath } from "node:url"
import { Config } from "effect"

/**
 * The proxy program bundled to one file (what the sidecar image runs): `dist/proxy.js` beside
 * the bundled CLI and daemon (`dist/airut.js`), or AIRUT_PROXY_BUNDLE.
 */
export const proxyBundlePath = Config.string("AIRUT_PROXY_BUNDLE").pipe(
  Config.withDefault(fileURLToPath(new URL("./proxy.js", import.meta.url))),
)
