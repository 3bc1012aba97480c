import { mkdtempSync, rmSync } from "node:fs"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Ref } from "effect"
import { DockerRuntimeLive } from "../../src/layers/DockerRuntimeLive.js"
import { ContainerRuntime } from "../../src/services/ContainerRuntime.js"

/**
 * The Docker layer against a scripted engine on a unix socket: what it sends for each call and
 * how it reads answers and errors, with no engine installed. Podman itself is exercised by
 * test/integration.
 */

interface Seen {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly body: unknown
}

type Route = (request: Seen) => { readonly status: number; readonly body?: unknown } | undefined

const podmanVersion = {
  Version: "4.3.1",
  ApiVersion: "1.41",
  Components: [{ Name: "Podman Engine", Version: "4.3.1" }],
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let data = ""
    req.on("data", (chunk: Buffer) => {
      data += chunk.toString("utf8")
    })
    req.on("end", () => resolve(data))
  })

/** A scripted engine; returns the runtime on it and what it was asked. */
const scriptedEngine = (route: Route) =>
  Effect.gen(function* () {
    const seen = yield* Ref.make<ReadonlyArray<Seen>>([])
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "airut-engine-"))),
      (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true })),
    )
    const socketPath = join(dir, "engine.sock")
    const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
      const url = new URL(req.url ?? "/", "http://engine")
      const request: Seen = {
        method: req.method ?? "",
        path: url.pathname,
        query: url.searchParams,
        body: raw === "" ? undefined : JSON.parse(raw),
      }
      Effect.runSync(Ref.update(seen, (all) => [...all, request]))
      const answer =
        route(request) ??
        (request.path === "/version" ? { status: 200, body: podmanVersion } : { status: 500 })
      res.writeHead(answer.status, { "Content-Type": "application/json" })
      res.end(answer.body === undefined ? "" : JSON.stringify(answer.body))
    }
    yield* Effect.acquireRelease(
      Effect.async<ReturnType<typeof createServer>>((resume) => {
        const server = createServer((req, res) => {
          readBody(req).then((raw) => handle(req, res, raw))
        })
        server.listen(socketPath, () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        }),
    )
    const runtime = yield* Effect.provide(ContainerRuntime, DockerRuntimeLive({ socketPath }))
    return { runtime, seen: Ref.get(seen), socketPath }
  })

describe("DockerRuntimeLive (scripted engine)", () => {
  it.scoped("a socket nobody listens on is EngineUnreachable", () =>
    Effect.gen(function* () {
      const runtime = yield* Effect.provide(
        ContainerRuntime,
        DockerRuntimeLive({ socketPath: "/nonexistent/x.sock" }),
      )
      const error = yield* runtime.ping.pipe(Effect.flip)
      assert.strictEqual(error._tag, "EngineUnreachable")
      assert.include(error.message, "/nonexistent/x.sock")
    }),
  )

  it.scoped("a container spec becomes the Engine API create body", () =>
    Effect.gen(function* () {
      const { runtime, seen } = yield* scriptedEngine((r) =>
        r.path === "/containers/create" ? { status: 201, body: { Id: "c1", Warnings: [] } } : undefined,
      )
      const id = yield* runtime.createContainer({
        image: "img",
        name: "agent-1",
        command: ["-p", "-"],
        env: { A: "1", B: "x=y" },
        labels: { "airut.managed": "true" },
        mounts: [{ source: "/host/ws", target: "/workspace", readOnly: false }],
        capDrop: ["ALL"],
        capAdd: ["CHOWN"],
        securityOpt: ["no-new-privileges"],
        memoryBytes: 1024,
        memorySwapBytes: 1024,
        cpus: 1.5,
        pidsLimit: 64,
        network: { name: "net", ipv4Address: "10.1.0.2" },
        dns: ["10.1.0.2"],
        sysctls: { "net.ipv6.conf.all.disable_ipv6": "1" },
        openStdin: true,
      })
      assert.strictEqual(id, "c1")
      const [create] = yield* seen
      assert.strictEqual(create?.query.get("name"), "agent-1")
      assert.deepStrictEqual(create?.body, {
        Image: "img",
        Cmd: ["-p", "-"],
        Env: ["A=1", "B=x=y"],
        Labels: { "airut.managed": "true" },
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        HostConfig: {
          Mounts: [{ Type: "bind", Source: "/host/ws", Target: "/workspace", ReadOnly: false }],
          CapDrop: ["ALL"],
          CapAdd: ["CHOWN"],
          SecurityOpt: ["no-new-privileges"],
          Memory: 1024,
          MemorySwap: 1024,
          NanoCpus: 1_500_000_000,
          PidsLimit: 64,
          Dns: ["10.1.0.2"],
          Sysctls: { "net.ipv6.conf.all.disable_ipv6": "1" },
          NetworkMode: "net",
        },
        NetworkingConfig: { EndpointsConfig: { net: { IPAMConfig: { IPv4Address: "10.1.0.2" } } } },
      })
    }),
  )

  it.scoped("engine refusals: a missing image fails the create, a missing container is NotFound", () =>
    Effect.gen(function* () {
      const { runtime } = yield* scriptedEngine((r) =>
        r.path === "/containers/create"
          ? { status: 404, body: { cause: "no such image", message: "img: image not known", response: 404 } }
          : r.path.startsWith("/containers/")
            ? { status: 404, body: { message: 'no container with name or ID "gone" found' } }
            : r.path.startsWith("/images/")
              ? { status: 404, body: { message: "failed to find image" } }
              : undefined,
      )
      const created = yield* runtime.createContainer({ image: "img" }).pipe(Effect.flip)
      assert.strictEqual(created._tag, "ContainerStartFailed")
      assert.include(created.message, "image not known")
      const inspected = yield* runtime.inspectContainer("gone").pipe(Effect.flip)
      assert.deepStrictEqual(
        inspected._tag === "ContainerError" ? [inspected.reason, inspected.operation] : [],
        ["NotFound", "inspectContainer"],
      )
      assert.isTrue(Option.isNone(yield* runtime.inspectImage("localhost/nope:1")))
      // Removing what is gone, or killing what no longer runs, is done already.
      yield* runtime.removeContainer("gone")
      yield* runtime.removeImage("localhost/nope:1")
    }),
  )

  it.scoped("kill of a stopped container is not an error; the signal is SIGKILL by default", () =>
    Effect.gen(function* () {
      const { runtime, seen } = yield* scriptedEngine((r) =>
        r.path === "/containers/c1/kill"
          ? { status: 409, body: { message: "container is not running" } }
          : undefined,
      )
      yield* runtime.killContainer("c1")
      assert.strictEqual((yield* seen)[0]?.query.get("signal"), "SIGKILL")
    }),
  )

  it.scoped("waits through libpod on Podman and through the compat endpoint on Docker", () =>
    Effect.gen(function* () {
      const inspect = {
        Id: "c1",
        Name: "/c1",
        Config: { Image: "img", Labels: null },
        State: { Running: false, ExitCode: 3, OOMKilled: true },
      }
      const podman = yield* scriptedEngine((r) =>
        r.path === "/v4.0.0/libpod/containers/c1/wait"
          ? { status: 200, body: 3 }
          : r.path === "/containers/c1/json"
            ? { status: 200, body: inspect }
            : undefined,
      )
      assert.deepStrictEqual(yield* podman.runtime.waitContainer("c1"), { exitCode: 3, oomKilled: true })
      assert.strictEqual(
        (yield* podman.seen).find((s) => s.path.endsWith("/wait"))?.query.get("condition"),
        "stopped",
      )

      const docker = yield* scriptedEngine((r) =>
        r.path === "/version"
          ? { status: 200, body: { Version: "27.0.1", ApiVersion: "1.46", Components: [{ Name: "Engine" }] } }
          : r.path === "/containers/c1/wait"
            ? { status: 200, body: { StatusCode: 3, Error: null } }
            : r.path === "/containers/c1/json"
              ? { status: 200, body: inspect }
              : undefined,
      )
      assert.deepStrictEqual(yield* docker.runtime.waitContainer("c1"), { exitCode: 3, oomKilled: true })
      assert.deepStrictEqual((yield* docker.runtime.version).libpod, false)
    }),
  )

  it.scoped("lists by label filter, and an unreadable answer is a Protocol error", () =>
    Effect.gen(function* () {
      const { runtime, seen } = yield* scriptedEngine((r) =>
        r.path === "/containers/json"
          ? {
              status: 200,
              body: [{ Id: "c1", Names: ["/a"], Labels: { "airut.managed": "true" }, State: "running" }],
            }
          : r.path === "/networks"
            ? { status: 200, body: [{ Name: 42 }] }
            : undefined,
      )
      const listed = yield* runtime.listContainers({ "airut.managed": "true", "airut.task": "t1" })
      assert.deepStrictEqual(listed, [
        { id: "c1", names: ["/a"], labels: { "airut.managed": "true" }, state: "running" },
      ])
      const query = (yield* seen)[0]?.query
      assert.strictEqual(query?.get("all"), "true")
      assert.deepStrictEqual(JSON.parse(query?.get("filters") ?? "{}"), {
        label: ["airut.managed=true", "airut.task=t1"],
      })
      const error = yield* runtime.listNetworks({}).pipe(Effect.flip)
      assert.deepStrictEqual(error._tag === "ContainerError" ? error.reason : undefined, "Protocol")
    }),
  )

  it.scoped("an internal network on Podman is a libpod network with DNS off", () =>
    Effect.gen(function* () {
      const { runtime, seen } = yield* scriptedEngine((r) =>
        r.path === "/v4.0.0/libpod/networks/create"
          ? {
              status: 200,
              body: {
                name: "n1",
                id: "abc",
                internal: true,
                subnets: [{ subnet: "10.89.0.0/24" }],
                labels: { a: "b" },
              },
            }
          : undefined,
      )
      const net = yield* runtime.createNetwork({ name: "n1", internal: true, labels: { a: "b" } })
      assert.deepStrictEqual(net, {
        id: "abc",
        name: "n1",
        internal: true,
        labels: { a: "b" },
        subnets: [{ subnet: "10.89.0.0/24" }],
      })
      assert.deepStrictEqual((yield* seen).find((s) => s.path.includes("networks"))?.body, {
        name: "n1",
        driver: "bridge",
        internal: true,
        dns_enabled: false,
        labels: { a: "b" },
      })
    }),
  )
})
