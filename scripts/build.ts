// Bundles each entry point to one ESM file in dist/. Dependencies stay external (they are
// installed next to us by npm); the proxy program, which runs inside a container with no
// node_modules, is bundled with its dependencies (scripts/proxyBundle.ts).

import { existsSync } from "node:fs"
import { build } from "esbuild"
import { bundleProxy } from "./proxyBundle.js"

const entries = [
  { in: "src/bin/airut.ts", out: "airut" },
  { in: "src/bin/airut-sandbox.ts", out: "airut-sandbox" },
  { in: "src/index.ts", out: "index" },
].filter((e) => existsSync(e.in))

for (const entry of entries) {
  await build({
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    sourcemap: true,
    logLevel: "warning",
    packages: "external",
    entryPoints: [entry.in],
    outfile: `dist/${entry.out}.js`,
  })
}

await bundleProxy("dist/proxy.js")
