// Bundles each entry point to one ESM file in dist/. Dependencies stay external (they are
// installed next to us by npm); the proxy program, which runs inside a container with no
// node_modules, is bundled with its dependencies by its own entry below once it exists.
import { build } from "esbuild"
import { existsSync } from "node:fs"

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: true,
  logLevel: "warning",
}

const entries = [
  { in: "src/bin/airut.ts", out: "airut", external: true },
  { in: "src/bin/airut-sandbox.ts", out: "airut-sandbox", external: true },
  { in: "src/index.ts", out: "index", external: true },
].filter((e) => existsSync(e.in))

for (const entry of entries) {
  await build({
    ...common,
    entryPoints: [entry.in],
    outfile: `dist/${entry.out}.js`,
    packages: entry.external ? "external" : undefined,
  })
}
