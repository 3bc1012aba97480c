import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { networkInterfaces, tmpdir } from "node:os"
import { join } from "node:path"
import type { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import {
  Chunk,
  Context,
  Deferred,
  Effect,
  Fiber,
  HashSet,
  Layer,
  Logger,
  Option,
  Schema,
  Stream,
} from "effect"
import { ConversationStoreMemory } from "../../src/layers/ConversationStoreMemory.js"
import { ImageCacheLive } from "../../src/layers/ImageCacheLive.js"
import { NetworkIsolationLive } from "../../src/layers/NetworkIsolationLive.js"
import { ProxyCaEnsuredLive } from "../../src/layers/ProxyCaLive.js"
import { ProxySidecarLive } from "../../src/layers/ProxySidecarLive.js"
import { SidecarImagesLive } from "../../src/layers/SidecarImagesLive.js"
import { MaskedSecret } from "../../src/schema/Credentials.js"
import { decodeNetworkAllowlist } from "../../src/schema/NetworkAllowlist.js"
import type { NetworkLogLine } from "../../src/schema/NetworkLogLine.js"
import { agentContainerSpec } from "../../src/schema/RunPolicy.js"
import { AirutPaths } from "../../src/services/AirutPaths.js"
import { ContainerRuntime } from "../../src/services/ContainerRuntime.js"
import { runContainer } from "../../src/services/ContainerScope.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import { ImageCache } from "../../src/services/ImageCache.js"
import type { NetworkIsolation } from "../../src/services/NetworkIsolation.js"
import { NetworkProxy, type ProxyHandle, type ProxySpec } from "../../src/services/NetworkProxy.js"
import type { ProxyCa } from "../../src/services/ProxyCa.js"
import { SidecarImages } from "../../src/services/SidecarImages.js"
import { makeTestPki, type TestPki } from "../proxy/support.js"
import { baseImage, PodmanRuntime } from "./support/podman.js"
import { acquireEgress, buildProxyBundle, type HostUpstream, hostUpstream } from "./support/sandbox.js"

/**
 * The network sandbox end to end on Podman: a real sidecar per task on a network proven
 * isolated, and a real agent container (the overlay's entrypoint into a stand-in Claude binary
 * that is a bash script running curl, dig and getent) whose only way out is that proxy.
 */

const run = randomBytes(4).toString("hex")
const prefix = `airut-t${run}`
const egressName = `${prefix}-egress`
const stateDir = mkdtempSync(join(tmpdir(), "airut-sandbox-state-"))

/** Names the test upstream answers for; every one is routed to it by an upstream override. */
const upstreamHosts = ["api.test", "other.test", "gql.test"]

// A real-looking GitHub token; only the proxy may ever hold it.
const realToken = `ghp_${randomBytes(18).toString("hex")}`

const agentDockerfile = `FROM ${baseImage}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl dnsutils ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
`

interface RigShape {
  /** The egress network's gateway: the host address the sidecar reaches upstreams on. */
  readonly gateway: string
  readonly upstream: HostUpstream
  readonly pki: TestPki
  readonly agentImage: string
}
class Rig extends Context.Tag("test/SandboxRig")<Rig, RigShape>() {}

const RigLive = Layer.scoped(
  Rig,
  Effect.gen(function* () {
    const gateway = yield* acquireEgress(egressName, run)
    const pki = yield* makeTestPki(upstreamHosts)
    const upstream = yield* hostUpstream(pki, gateway)
    const image = yield* Effect.flatMap(ImageCache, (cache) =>
      cache.ensureImage({
        context: new Map([["Dockerfile", Buffer.from(agentDockerfile)]]),
        entrypoint: "agent",
      }),
    )
    return { gateway, upstream, pki, agentImage: image.tag }
  }),
)

const Engine = Layer.mergeAll(PodmanRuntime, NodeContext.layer)
const Images = Layer.unwrapEffect(
  Effect.map(buildProxyBundle, (proxyBundle) => SidecarImagesLive({ proxyBundle })),
)
const Ca = ProxyCaEnsuredLive.pipe(
  Layer.provide(Layer.succeed(AirutPaths, { configFile: join(stateDir, "airut.yaml"), stateDir })),
)
const Sandbox = ProxySidecarLive({ namePrefix: prefix, egressNetwork: egressName }).pipe(
  Layer.provideMerge(NetworkIsolationLive()),
  Layer.provideMerge(Images),
  Layer.provideMerge(Ca),
  Layer.provideMerge(ConversationStoreMemory),
  Layer.provideMerge(RigLive),
  Layer.provideMerge(ImageCacheLive({ prefix: "localhost/airut-sandbox-test" })),
  Layer.provideMerge(Engine),
)

const allowlistYaml = `
url_prefixes:
  - host: api.test
    path: /allowed/*
    methods: [GET, POST]
  - host: other.test
    path: /*
  - host: gql.test
    path: /graphql
    methods: [POST]
    graphql:
      queries: [viewer]
`

/** A task in the store (network rows need one) and the proxy spec for it. */
const taskSpec = Effect.gen(function* () {
  const store = yield* ConversationStore
  const rig = yield* Rig
  const conversation = yield* store.createConversation({
    repoId: "sandbox-test",
    channel: "email",
    threadKeys: [`thread-${randomBytes(4).toString("hex")}`],
    model: "sonnet",
  })
  const task = yield* store.createTask({
    conversationId: conversation.id,
    sender: "test@example.com",
    title: "t",
  })
  const allowlist = yield* decodeNetworkAllowlist(allowlistYaml)
  const target = `${rig.gateway}:${rig.upstream.port}`
  const spec: ProxySpec = {
    taskId: task.id,
    conversationId: conversation.id,
    allowlist,
    maskedSecrets: {
      GH_TOKEN: Schema.decodeUnknownSync(MaskedSecret)({
        value: realToken,
        scopes: ["api.test"],
        headers: ["Authorization"],
      }),
    },
    signingCredentials: {},
    upstreamOverrides: Object.fromEntries(upstreamHosts.map((h) => [h, target])),
    upstreamCaPem: rig.pki.caPem,
  }
  return spec
})

interface AgentRun {
  readonly sections: Readonly<Record<string, string>>
  readonly output: string
  readonly exitCode: number
}

/** Splits `### name` sections of the script's output. */
const sectionsOf = (lines: ReadonlyArray<string>) => {
  const sections: Record<string, string> = {}
  let current = ""
  for (const line of lines) {
    const header = /^### (\S+)$/.exec(line)
    if (header?.[1] !== undefined) {
      current = header[1]
      sections[current] = ""
    } else if (current !== "") {
      sections[current] += `${line}\n`
    }
  }
  return sections
}

/** The conversation directories and a stand-in Claude binary (the script) for one agent run. */
const hostTree = (script: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const root = mkdtempSync(join(tmpdir(), "airut-sandbox-agent-"))
      for (const dir of ["workspace", "inbox", "outbox", "storage", "claude"]) mkdirSync(join(root, dir))
      writeFileSync(join(root, "claude-bin"), script)
      chmodSync(join(root, "claude-bin"), 0o755)
      return root
    }),
    (root) => Effect.sync(() => rmSync(root, { recursive: true, force: true })),
  )

/** Starts the agent container for `handle` under the real run policy, running `script`. */
const startAgent = (handle: ProxyHandle, spec: ProxySpec, script: string, env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const rig = yield* Rig
    const root = yield* hostTree(script)
    const network = Option.getOrThrow(handle.network)
    const container = yield* runContainer(
      agentContainerSpec({
        image: rig.agentImage,
        taskId: spec.taskId,
        conversationId: spec.conversationId,
        repoId: "sandbox-test",
        hostPaths: {
          workspace: join(root, "workspace"),
          inbox: join(root, "inbox"),
          outbox: join(root, "outbox"),
          storage: join(root, "storage"),
          claudeState: join(root, "claude"),
          claudeBinary: join(root, "claude-bin"),
        },
        args: [],
        env: { ...handle.env, ...env },
        limits: {},
        sandbox: { network, proxyIp: handle.dnsServer, caCertPath: handle.caCert.hostPath },
      }),
      { stdin: "" },
    )
    return { container, root }
  })

const runAgent = (handle: ProxyHandle, spec: ProxySpec, script: string, env: Record<string, string> = {}) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { container } = yield* startAgent(handle, spec, script, env)
      const [stdout, stderr, exit] = yield* Effect.all(
        [
          Stream.runCollect(container.stdout).pipe(Effect.map(Chunk.toArray)),
          Stream.runCollect(container.stderr).pipe(Effect.map(Chunk.toArray)),
          container.wait,
        ],
        { concurrency: "unbounded" },
      )
      const result: AgentRun = {
        sections: sectionsOf(stdout),
        output: [...stdout, ...stderr].join("\n"),
        exitCode: exit.exitCode,
      }
      return result
    }),
  )

/** Every address of this host, with the port to try: none may be reachable from the agent. */
const hostTargets = (port: number) =>
  Object.entries(networkInterfaces()).flatMap(([name, list]) =>
    (list ?? [])
      .filter((a) => !a.internal)
      .map((a) => (a.family === "IPv6" && a.address.startsWith("fe80") ? `${a.address}%${name}` : a.address))
      .map((address) => `${address} ${port}`),
  )

const curlPrelude = `#!/bin/bash
sec() { echo "### $1"; }
c() { curl -sS --max-time 8 -w '\\nstatus=%{http_code}\\n' "$@" 2>&1; echo "exit=$?"; }
`

/** Collects every log line written while `effect` runs, forked fibers included. */
const capturingLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    const logger = Logger.make(({ message }) => {
      lines.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
    })
    const result = yield* effect.pipe(Effect.provide(Logger.add(logger)))
    return [result, lines] as const
  })

const blockedBody = (text: string) => {
  const json = text.split("\n").find((l) => l.startsWith("{")) ?? "{}"
  return Schema.decodeUnknownSync(
    Schema.parseJson(
      Schema.Struct({
        error: Schema.String,
        host: Schema.String,
        path: Schema.String,
        method: Schema.String,
      }),
    ),
  )(json)
}

/** The sidecars' config files (secrets inside) that exist now. */
const secretsFiles = Effect.sync(() =>
  HashSet.fromIterable(
    readdirSync(tmpdir())
      .filter((name) => name.startsWith("airut-sidecar-"))
      .map((name) => join(tmpdir(), name, "proxy.json"))
      .filter((file) => existsSync(file)),
  ),
)

const statusOf = (text: string | undefined) => Number(/status=(\d+)/.exec(text ?? "")?.[1] ?? "-1")

layer(Sandbox, { excludeTestServices: true, timeout: "600 seconds" })("network sandbox on Podman", (it) => {
  it.scoped(
    "an agent reaches allowed URLs only, gets the 403 body otherwise, and never sees a real secret",
    () =>
      Effect.gen(function* () {
        const proxy = yield* NetworkProxy
        const rig = yield* Rig
        const spec = yield* taskSpec
        const [agent, logs] = yield* capturingLogs(
          Effect.gen(function* () {
            const handle = yield* proxy.start(spec)
            const script = `${curlPrelude}
sec allowed; c https://api.test/allowed/x
sec system-store; env -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u REQUESTS_CA_BUNDLE curl -sS --max-time 8 -o /dev/null -w 'status=%{http_code}\n' https://api.test/allowed/x 2>&1
sec blocked-http; c http://api.test/secret
sec blocked-host; c https://blocked.test/
sec blocked-path; c https://api.test/secret
sec blocked-method; c -X DELETE https://api.test/allowed/x
sec graphql-query; c -X POST -H 'content-type: application/json' --data '{"query":"query { viewer { login } }"}' https://gql.test/graphql
sec graphql-mutation; c -X POST -H 'content-type: application/json' --data '{"query":"mutation { createIssue(title: \\"x\\") { id } }"}' https://gql.test/graphql
sec dotdot; c --path-as-is 'https://api.test/allowed/%2e%2e/secret'
sec double-encoded; c --path-as-is 'https://api.test/allowed/%252e%252e/secret'
sec nul; c --path-as-is 'https://api.test/allowed/%00secret'
sec backslash; c --path-as-is 'https://api.test/allowed/..%5csecret'
sec double-slash; c --path-as-is 'https://api.test//allowed/../secret'
sec mixed-case; c 'https://API.Test/secret'
sec absolute-form; c --request-target 'https://blocked.test/x' https://api.test/allowed/x
sec absolute-form-http; c --request-target 'http://blocked.test/x' http://api.test/allowed/x
sec host-sni; c -H 'Host: blocked.test' https://api.test/allowed/x
sec connect; c -p -x http://api.test:80 https://blocked.test/
sec swap-in-scope; c -H "Authorization: Bearer $GH_TOKEN" https://api.test/allowed/in-scope
sec swap-out-of-scope; c -H "Authorization: Bearer $GH_TOKEN" https://other.test/out-of-scope
sec dns-any; getent ahosts anything.example.org | awk '{print $1}' | sort -u; getent ahosts api.test | awk '{print $1}' | sort -u
sec dns-dig; dig +short +time=2 +tries=1 whatever.example A
sec dns-aaaa; dig +time=2 +tries=1 whatever.example AAAA | grep -o 'status: [A-Z]*'
sec dns-public; dig +time=1 +tries=1 @8.8.8.8 example.com A >/dev/null 2>&1; echo "exit=$?"; dig +time=1 +tries=1 @1.1.1.1 example.com A >/dev/null 2>&1; echo "exit=$?"
sec direct; while read -r host port; do [ -z "$host" ] && continue; if timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then echo "REACHED $host $port"; else echo "failed $host $port"; fi; done <<< "$DIRECT_TARGETS"
sec ipv6; cat /proc/net/if_inet6; echo "end"
sec secrets-env; env
sec secrets-proc; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < "$f"; done 2>/dev/null
sec secrets-mounts; awk '$5 != "/" && $5 !~ /^\\/(proc|sys|dev)/ { print $5 }' /proc/self/mountinfo | while read -r m; do find "$m" -xdev -type f -size -2M 2>/dev/null; done | sort -u | while read -r f; do echo "file $f"; cat "$f" 2>/dev/null; echo; done
`
            const runtime = yield* ContainerRuntime
            const sidecars = yield* runtime.listContainers({
              "airut.task": spec.taskId,
              "airut.role": "proxy",
            })
            const sidecar = yield* runtime.inspectContainer(sidecars[0]?.id ?? "")
            const direct = [
              ...hostTargets(rig.upstream.port),
              `${rig.gateway} ${rig.upstream.port}`,
              `${sidecar.networks[egressName]} 443`,
              "1.1.1.1 443",
              "8.8.8.8 53",
              "10.88.0.1 22",
            ].join("\n")
            const result = yield* runAgent(handle, spec, script, { DIRECT_TARGETS: direct })
            // The log stream is the caller's: read what arrived so far.
            const seen = yield* handle.log.pipe(
              // The script's last query through the proxy.
              Stream.takeUntil((l) => l.kind === "dns" && l.name === "whatever.example" && l.type === "AAAA"),
              Stream.runCollect,
              Effect.timeout("10 seconds"),
            )
            return { result, handle, log: Chunk.toArray(seen) }
          }),
        )
        const { result, handle, log } = agent
        const s = result.sections
        assert.strictEqual(result.exitCode, 0, result.output)

        assert.strictEqual(statusOf(s.allowed), 200, s.allowed)
        assert.include(s.allowed, '"url":"/allowed/x"')
        // Tools that read only the system store trust the proxy too (the entrypoint added its CA).
        assert.strictEqual(statusOf(s["system-store"]), 200, s["system-store"])

        for (const [name, host, path, method] of [
          ["blocked-host", "blocked.test", "/", "GET"],
          ["blocked-path", "api.test", "/secret", "GET"],
          ["blocked-http", "api.test", "/secret", "GET"],
          ["blocked-method", "api.test", "/allowed/x", "DELETE"],
        ] as const) {
          assert.strictEqual(statusOf(s[name]), 403, `${name}: ${s[name]}`)
          const body = blockedBody(s[name] ?? "")
          assert.deepStrictEqual(
            { host: body.host, path: body.path, method: body.method },
            { host, path, method },
            name,
          )
          assert.include(s[name], ".airut/network-allowlist.yaml", name)
        }
        assert.strictEqual(statusOf(s["graphql-query"]), 200, s["graphql-query"])
        assert.strictEqual(statusOf(s["graphql-mutation"]), 403, s["graphql-mutation"])
        assert.include(s["graphql-mutation"], "createIssue")

        for (const name of [
          "dotdot",
          "double-encoded",
          "nul",
          "backslash",
          "double-slash",
          "mixed-case",
          "absolute-form",
          "absolute-form-http",
          "host-sni",
        ]) {
          const status = statusOf(s[name])
          assert.isTrue(status === 403 || status === 400, `${name} must be blocked: ${s[name]}`)
        }
        assert.notInclude(s.connect, "status=200")
        assert.include(s.connect, "403")

        // Only the in-scope host got the real token; the other got the surrogate, unchanged.
        const inScope = rig.upstream.arrived.find((a) => a.url === "/allowed/in-scope")
        const outOfScope = rig.upstream.arrived.find((a) => a.url === "/out-of-scope")
        assert.strictEqual(inScope?.authorization, `Bearer ${realToken}`)
        assert.strictEqual(outOfScope?.authorization, `Bearer ${handle.env.GH_TOKEN}`)
        assert.notStrictEqual(handle.env.GH_TOKEN, realToken)
        // Nothing the allowlist refused reached the upstream.
        assert.deepStrictEqual(
          rig.upstream.arrived.filter((a) => a.url.includes("secret") || a.url === "/x").map((a) => a.url),
          [],
        )

        // DNS: every name is the proxy; AAAA is not implemented; public resolvers are unreachable.
        assert.deepStrictEqual(s["dns-any"]?.trim().split("\n"), [handle.dnsServer, handle.dnsServer])
        assert.strictEqual(s["dns-dig"]?.trim(), handle.dnsServer)
        assert.strictEqual(s["dns-aaaa"]?.trim(), "status: NOTIMP")
        assert.strictEqual(s["dns-public"]?.trim(), "exit=9\nexit=9")

        // No direct way out: every host address, the bridge, the sidecar's egress side, public IPs.
        const direct = (s.direct ?? "").trim().split("\n")
        assert.isAbove(direct.length, 5)
        for (const line of direct) assert.match(line, /^failed /)
        assert.strictEqual(s.ipv6?.trim(), "end")

        // The real secret is nowhere in the container or the logs; the surrogate is in its env.
        assert.include(s["secrets-env"], `GH_TOKEN=${handle.env.GH_TOKEN}`)
        assert.include(s["secrets-mounts"], "file /usr/local/share/ca-certificates/airut-proxy-ca.crt")
        assert.notInclude(result.output, realToken)
        assert.notInclude(result.output, realToken.slice(4))
        assert.notInclude(logs.join("\n"), realToken)
        assert.notInclude(JSON.stringify(log), realToken)

        // The log stream carried the requests, each once.
        const requests = log.filter(
          (l): l is Extract<NetworkLogLine, { kind: "request" }> => l.kind === "request",
        )
        const inScopeLine = requests.find((l) => l.path === "/allowed/in-scope")
        assert.strictEqual(inScopeLine?.action, "allowed")
        assert.strictEqual(inScopeLine?.swapped, 1)
        assert.strictEqual(
          requests.find((l) => l.host === "blocked.test" && l.path === "/")?.action,
          "blocked",
        )
        assert.isTrue(log.some((l) => l.kind === "dns" && l.name === "anything.example.org"))
        // The readiness check completes its handshakes: no failed TLS lines from it or curl.
        assert.deepStrictEqual(
          log.filter((l) => l.kind === "tls"),
          [],
        )

        // And the store got them for the task.
        const store = yield* ConversationStore
        yield* Effect.sleep("500 millis")
        const page = yield* store.readNetwork({ taskId: spec.taskId }, 0, 1000)
        const stored = page.entries.map((e) => `${e.verdict} ${e.method} ${e.host}${e.path}`)
        assert.include(stored, "allowed GET api.test/allowed/x")
        assert.include(stored, "blocked DELETE api.test/allowed/x")
        assert.notInclude(JSON.stringify(page), realToken)
      }),
  )

  it.scoped("when the sidecar dies mid-task the agent has no way out at all", () =>
    Effect.gen(function* () {
      const proxy = yield* NetworkProxy
      const runtime = yield* ContainerRuntime
      const rig = yield* Rig
      const spec = yield* taskSpec
      const handle = yield* proxy.start(spec)
      const script = `${curlPrelude}
sec before; c https://api.test/allowed/before
echo READY
while [ ! -e /workspace/go ]; do sleep 0.1; done
sec after-allowed; c --max-time 3 https://api.test/allowed/after
sec after-dns; timeout 3 getent ahosts api.test; echo "exit=$?"
sec after-direct; for t in "${rig.gateway} ${rig.upstream.port}" "1.1.1.1 443" "${handle.dnsServer} 443"; do set -- $t; if timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; then echo "REACHED $t"; else echo "failed $t"; fi; done
`
      const { container, root } = yield* startAgent(handle, spec, script)
      const ready = yield* Deferred.make<void>()
      const lines = yield* container.stdout.pipe(
        Stream.tap((l) => (l === "READY" ? Deferred.succeed(ready, undefined) : Effect.void)),
        Stream.runCollect,
        Effect.fork,
      )
      yield* Deferred.await(ready).pipe(Effect.timeout("60 seconds"))
      const sidecars = yield* runtime.listContainers({ "airut.task": spec.taskId, "airut.role": "proxy" })
      assert.strictEqual(sidecars.length, 1)
      yield* runtime.killContainer(sidecars[0]?.id ?? "")
      yield* Effect.sync(() => writeFileSync(join(root, "workspace", "go"), ""))
      const s = sectionsOf(Chunk.toArray(yield* Fiber.join(lines)))
      assert.strictEqual((yield* container.wait).exitCode, 0)
      assert.strictEqual(statusOf(s.before), 200, s.before)
      assert.notInclude(s["after-allowed"], "status=200")
      assert.match(s["after-allowed"] ?? "", /exit=(6|7|28)/)
      assert.notInclude(s["after-dns"], handle.dnsServer)
      assert.notInclude(s["after-dns"], "exit=0")
      for (const line of (s["after-direct"] ?? "").trim().split("\n")) assert.match(line, /^failed /)
    }),
  )

  it.effect("interrupting the task's scope removes the sidecar, its network and its secrets file", () =>
    Effect.gen(function* () {
      const proxy = yield* NetworkProxy
      const runtime = yield* ContainerRuntime
      const spec = yield* taskSpec
      // Other runs on the machine may have sidecar files of their own: only this task's count.
      const before = yield* secretsFiles
      const started = yield* Deferred.make<ProxyHandle>()
      const task = yield* Effect.scoped(
        Effect.flatMap(proxy.start(spec), (handle) => Deferred.succeed(started, handle)).pipe(
          Effect.zipRight(Effect.never),
        ),
      ).pipe(Effect.fork)
      const handle = yield* Deferred.await(started)
      const network = Option.getOrThrow(handle.network)
      const labels = { "airut.task": spec.taskId }
      const sidecars = yield* runtime.listContainers(labels)
      assert.strictEqual(sidecars.length, 1)
      const mounted = yield* runtime.inspectContainer(sidecars[0]?.id ?? "")
      assert.isTrue(mounted.running)
      assert.isTrue(Option.isSome(yield* runtime.inspectNetwork(network)))
      const configDirs = HashSet.difference(yield* secretsFiles, before)
      assert.strictEqual(HashSet.size(configDirs), 1)

      yield* Fiber.interrupt(task)
      assert.deepStrictEqual(yield* runtime.listContainers(labels), [])
      assert.isTrue(Option.isNone(yield* runtime.inspectNetwork(network)))
      const left = yield* secretsFiles
      assert.isTrue(HashSet.every(configDirs, (f) => !HashSet.has(left, f) && !existsSync(f)))
    }),
  )

  it.scoped(
    "a proxy that does not come up fails the task closed with ProxyFailed, leaving nothing behind",
    () =>
      Effect.gen(function* () {
        const runtime = yield* ContainerRuntime
        const images = yield* SidecarImages
        const spec = yield* taskSpec
        // The Node image has no proxy in it: the container exits at once.
        const broken = Layer.succeed(
          SidecarImages,
          SidecarImages.of({ ...images, proxyImage: images.nodeImage }),
        )
        const error = yield* Effect.flatMap(NetworkProxy, (p) => Effect.scoped(p.start(spec))).pipe(
          Effect.provide(
            ProxySidecarLive({
              namePrefix: prefix,
              egressNetwork: egressName,
              readyTimeout: "10 seconds",
            }).pipe(
              Layer.provide(broken),
              Layer.provide(
                Layer.succeedContext(
                  yield* Effect.context<
                    ContainerRuntime | NetworkIsolation | ProxyCa | ConversationStore | FileSystem.FileSystem
                  >(),
                ),
              ),
            ),
          ),
          Effect.flip,
        )
        assert.strictEqual(error._tag, "ProxyFailed")
        assert.strictEqual(error.reason, "unhealthy")
        assert.match(error.detail, /exited with|did not answer/)
        assert.deepStrictEqual(yield* runtime.listContainers({ "airut.task": spec.taskId }), [])
        assert.deepStrictEqual(yield* runtime.listNetworks({ "airut.task": spec.taskId }), [])
      }),
  )
})
