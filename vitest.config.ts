import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/integration/**"],
          // Unit tests spawn real processes (git, sh, sqlite); on a loaded two-core CI machine
          // vitest's 5 s default fails healthy tests. A hang still fails, just later.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // Real engines and servers need room. `npm test` runs this project with
          // --no-file-parallelism so two suites never fight over the one Podman service.
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
})
