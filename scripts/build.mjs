// Bundles each entry point to one ESM file in dist/. Dependencies stay external (they are
// installed next to us by npm); the proxy program, which runs inside a container with no
// node_modules, is bundled with its dependencies by its own entry below.

import { existsSync } from "node:fs"
import { build } from "esbuild"

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

// The network proxy runs inside its sidecar with no node_modules and on Debian's nodejs (18), so
// it is bundled with every dependency for Node 18. It stays ESM (the file needs `"type": "module"`
// beside it, or an .mjs name); its CommonJS dependencies get a `require` from createRequire.
await build({
  ...common,
  target: "node18",
  entryPoints: ["src/programs/proxy/main.ts"],
  outfile: "dist/proxy.js",
  sourcemap: false,
  minifySyntax: true,
  banner: {
    js: [
      'import { createRequire as __airutCreateRequire } from "node:module";',
      "const require = __airutCreateRequire(import.meta.url);",
    ].join("\n"),
  },
})
