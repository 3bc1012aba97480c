import { build } from "esbuild"

/**
 * Bundles the network proxy program to one ESM file at `outfile`. It runs inside its sidecar
 * with no node_modules and on Debian's nodejs (18), so every dependency is bundled for Node 18.
 * The file needs `"type": "module"` beside it or an .mjs name; its CommonJS dependencies get a
 * `require` from createRequire. `npm run build` and the integration tests both bundle it here,
 * so the tests run what ships.
 */
export const bundleProxy = (outfile: string) =>
  build({
    bundle: true,
    platform: "node",
    target: "node18",
    format: "esm",
    logLevel: "warning",
    entryPoints: [new URL("../src/programs/proxy/main.ts", import.meta.url).pathname],
    outfile,
    minifySyntax: true,
    banner: {
      js: [
        'import { createRequire as __airutCreateRequire } from "node:module";',
        "const require = __airutCreateRequire(import.meta.url);",
      ].join("\n"),
    },
  })
