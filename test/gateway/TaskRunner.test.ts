import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Option, Redacted, Ref, Schema, Stream } from "effect"
import { AgentExecutorTest, answered, FakeAgent } from "../../src/layers/AgentExecutorTest.js"
import { ConversationStoreMemory } from "../../src/layers/ConversationStoreMemory.js"
import { GitMirrorLive } from "../../src/layers/GitMirrorLive.js"
import { TaskRunnerLive } from "../../src/layers/TaskRunnerLive.js"
import { parseAgentLine } from "../../src/schema/AgentEvent.js"
import type { ReplyContent } from "../../src/schema/ChannelReply.js"
import { SafeFileName } from "../../src/schema/FileName.js"
import type { InboundMessage } from "../../src/schema/InboundMessage.js"
import { ServerConfig } from "../../src/schema/ServerConfig.js"
import type { AgentFailure } from "../../src/services/AgentExecutor.js"
import { ContainerFailed, TaskTimeout } from "../../src/services/AgentExecutor.js"
import { AirutPaths } from "../../src/services/AirutPaths.js"
import type { ChannelShape } from "../../src/services/Channel.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import { GatewayConfig } from "../../src/services/GatewayConfig.js"
import { ImageCache } from "../../src/services/ImageCache.js"
import { NetworkIsolation, NetworkNotIsolated } from "../../src/services/NetworkIsolation.js"
import { NetworkProxy, ProxyFailed, type ProxySpec } from "../../src/services/NetworkProxy.js"
import { TaskRunner } from "../../src/services/TaskRunner.js"
import { gitIn } from "../support/git.js"

/**
 * The runner on a real git mirror of a local repository and the memory store, with the engine
 * parts faked: the image cache returns a tag, the proxy a handle, the agent a scripted outcome.
 * What is checked is the runner's own work: workspace, prompt, sandbox wiring, reply, outbox,
 * and how each failure is told.
 */

interface Fixture {
  readonly root: string
  readonly stateDir: string
  readonly source: string
}

const fixture = (options: { readonly allowlist?: string } = {}): Fixture => {
  const root = mkdtempSync(join(tmpdir(), "airut-runner-"))
  const source = join(root, "source")
  mkdirSync(join(source, ".airut", "container"), { recursive: true })
  gitIn(source, "init", "--quiet", "--initial-branch=main")
  writeFileSync(join(source, ".airut", "container", "Dockerfile"), "FROM localhost/airut-base:bookworm\n")
  if (options.allowlist !== undefined)
    writeFileSync(join(source, ".airut", "network-allowlist.yaml"), options.allowlist)
  writeFileSync(join(source, "README.md"), "hello\n")
  gitIn(source, "add", ".")
  gitIn(source, "commit", "--quiet", "-m", "initial")
  return { root, stateDir: join(root, "state"), source }
}

const configFor = (f: Fixture, repo: Record<string, unknown> = {}) =>
  Schema.decodeUnknownSync(ServerConfig)({
    repos: {
      app: {
        repo_url: f.source,
        email: {
          account: { username: "a@example.com", from: "a@example.com" },
          imap: { server: "imap.example.com" },
          smtp: { server: "smtp.example.com" },
          auth: { authorized_senders: ["ann@example.com"], trusted_authserv_id: "mx.example.com" },
        },
        secrets: { PLAIN_TOKEN: "plain-value" },
        masked_secrets: { API_KEY: { value: "sk-ant-real", scopes: ["api.anthropic.com"] } },
        ...repo,
      },
    },
  })

interface Recorded {
  readonly replies: Ref.Ref<ReadonlyArray<ReplyContent>>
  readonly errors: Ref.Ref<ReadonlyArray<string>>
  readonly proxySpecs: Ref.Ref<ReadonlyArray<ProxySpec>>
  /** What the channel was told, in order: progress updates and replies. */
  readonly told: Ref.Ref<ReadonlyArray<string>>
}

const channelOf = (r: Recorded): ChannelShape => ({
  kind: "email",
  repoId: "app",
  inbound: Stream.empty,
  acknowledge: () => Effect.void,
  reply: (_target, content) =>
    Ref.update(r.replies, (all) => [...all, content]).pipe(
      Effect.zipRight(Ref.update(r.told, (all) => [...all, "reply"])),
      Effect.as({ messageId: "<reply-1@x>", unattached: [] }),
    ),
  replyError: (_target, text) =>
    Ref.update(r.errors, (all) => [...all, text]).pipe(
      Effect.as({ messageId: "<error-1@x>", unattached: [] }),
    ),
  notifyStarted: () => Effect.succeed({ messageId: "<s@x>", unattached: [] }),
  progress: (_target, update) =>
    Ref.update(r.told, (all) => [
      ...all,
      update._tag === "Plan"
        ? `plan: ${update.todos.map((t) => `${t.content}=${t.status}`).join(", ")}`
        : update._tag,
    ]),
  health: Effect.succeed({ _tag: "Connected" }),
  healthChanges: Stream.empty,
})

const message: InboundMessage = {
  channel: "email",
  repoId: "app",
  channelMessageId: "<m1@example.com>",
  sender: "ann@example.com",
  senderName: "Ann",
  subject: "Add a greeting",
  body: "Please add hello.txt",
  threadKeys: [],
  conversationId: Option.none(),
  attachments: [
    {
      fileName: SafeFileName.make("spec.txt"),
      contentType: "text/plain",
      size: 4,
      content: new TextEncoder().encode("spec"),
    },
  ],
  modelHint: Option.none(),
  receivedAt: DateTime.unsafeMake(0),
  receipt: { channel: "email", repoId: "app", key: "1" },
}

const assistantLine = (content: ReadonlyArray<unknown>) =>
  parseAgentLine(
    JSON.stringify({ type: "assistant", session_id: "s", message: { role: "assistant", content } }),
  )
const todoWrite = (items: Record<string, "pending" | "in_progress" | "completed">) =>
  assistantLine([
    {
      type: "tool_use",
      id: "toolu_1",
      name: "TodoWrite",
      input: { todos: Object.entries(items).map(([content, status]) => ({ content, status })) },
    },
  ])
const textEvent = assistantLine([{ type: "text", text: "Working on it." }])

interface Fakes {
  readonly isolated?: boolean
  readonly proxyFails?: boolean
  readonly respond?: Parameters<typeof AgentExecutorTest>[0]
}

const runOnce = (f: Fixture, config: ServerConfig, fakes: Fakes = {}) =>
  Effect.gen(function* () {
    const recorded: Recorded = {
      replies: yield* Ref.make<ReadonlyArray<ReplyContent>>([]),
      errors: yield* Ref.make<ReadonlyArray<string>>([]),
      proxySpecs: yield* Ref.make<ReadonlyArray<ProxySpec>>([]),
      told: yield* Ref.make<ReadonlyArray<string>>([]),
    }
    const proxy = NetworkProxy.of({
      start: (spec) =>
        fakes.proxyFails
          ? Effect.fail(new ProxyFailed({ reason: "unhealthy", detail: "no answer on 443 within 20 s" }))
          : Ref.update(recorded.proxySpecs, (all) => [...all, spec]).pipe(
              Effect.as({
                dnsServer: "10.0.0.2",
                network: Option.some("airut-task-net"),
                caCert: { hostPath: join(f.root, "ca.pem"), containerPath: "/etc/airut/ca.pem" },
                env: { API_KEY: "sk-ant-surrogate", NODE_EXTRA_CA_CERTS: "/etc/airut/ca.pem" },
                endpoints: {
                  dns: { host: "10.0.0.2", port: 53 },
                  http: { host: "10.0.0.2", port: 80 },
                  https: { host: "10.0.0.2", port: 443 },
                },
                log: Stream.empty,
              }),
            ),
    })
    const isolation = NetworkIsolation.of({
      probe: Effect.die("not used"),
      probeNetwork: () => Effect.die("not used"),
      ensureIsolated:
        fakes.isolated === false
          ? Effect.fail(new NetworkNotIsolated({ network: "probe-net", leaks: [], advice: "see DESIGN.md" }))
          : Effect.succeed({
              network: "probe-net",
              engine: "podman 4.3.1",
              checks: [],
              leaks: [],
              durationMs: 1,
            }),
    })
    const images = ImageCache.of({
      ensureImage: () =>
        Effect.succeed({
          tag: "localhost/airut-overlay:abc",
          repoTag: "localhost/airut-repo:abc",
          repo: "cached",
          overlay: "cached",
        }),
    })
    const layer = TaskRunnerLive.pipe(
      Layer.provideMerge(AgentExecutorTest(fakes.respond)),
      Layer.provide(GitMirrorLive),
      Layer.provide(
        Layer.mergeAll(
          Layer.succeed(NetworkProxy, proxy),
          Layer.succeed(NetworkIsolation, isolation),
          Layer.succeed(ImageCache, images),
          Layer.succeed(GatewayConfig, { current: Effect.succeed(config) }),
          Layer.succeed(AirutPaths, { configFile: join(f.root, "airut.yaml"), stateDir: f.stateDir }),
        ),
      ),
      Layer.provideMerge(ConversationStoreMemory),
      Layer.provide(NodeContext.layer),
    )
    return yield* Effect.gen(function* () {
      const store = yield* ConversationStore
      const conversation = yield* store.createConversation({
        repoId: "app",
        channel: "email",
        threadKeys: [],
        model: "sonnet",
      })
      const task = yield* store.createTask({
        conversationId: conversation.id,
        sender: message.sender,
        title: message.subject,
      })
      const runner = yield* TaskRunner
      const result = yield* runner.run({
        taskId: task.id,
        conversationId: conversation.id,
        isNew: true,
        messages: [message],
        channel: channelOf(recorded),
      })
      const requests = yield* Effect.flatMap(FakeAgent, (a) => a.requests)
      const stored = yield* store.getConversation(conversation.id)
      const replies = yield* store.listReplies(conversation.id)
      return {
        result,
        requests,
        conversation: stored,
        storedReplies: replies,
        dir: join(f.stateDir, "conversations", conversation.id),
        replies: yield* Ref.get(recorded.replies),
        errors: yield* Ref.get(recorded.errors),
        proxySpecs: yield* Ref.get(recorded.proxySpecs),
        told: yield* Ref.get(recorded.told),
      }
    }).pipe(Effect.provide(layer))
  })

describe("TaskRunnerLive", () => {
  it.live(
    "clones the workspace, runs the agent in the sandbox, replies with the outbox and the cost line",
    () => {
      const f = fixture({ allowlist: "domains: [registry.npmjs.org]\n" })
      return Effect.gen(function* () {
        const out = yield* runOnce(f, configFor(f), {
          respond: {
            events: () => [
              todoWrite({ Clone: "completed", Test: "in_progress" }),
              textEvent,
              todoWrite({ Clone: "completed", Test: "completed" }),
            ],
            respond: (request) =>
              Effect.sync(() => {
                // The agent leaves a file in /outbox.
                writeFileSync(join(request.hostPaths.outbox, "report.txt"), "done")
                return answered("I added hello.txt.", "session-42")
              }),
          },
        })
        assert.deepStrictEqual(out.result, { reason: "success" })
        // The workspace is a clone of the repository, the attachment is in /inbox.
        assert.strictEqual(readFileSync(join(out.dir, "workspace", "README.md"), "utf8"), "hello\n")
        assert.strictEqual(readFileSync(join(out.dir, "inbox", "spec.txt"), "utf8"), "spec")

        const [request] = out.requests
        assert.isDefined(request)
        if (request === undefined) return
        assert.strictEqual(request.model, "sonnet")
        assert.strictEqual(request.image, "localhost/airut-overlay:abc")
        assert.isUndefined(request.sessionId)
        assert.include(request.prompt, "/outbox")
        assert.include(request.prompt, "/inbox/spec.txt")
        assert.include(request.prompt, "Subject: Add a greeting\n\nPlease add hello.txt")
        // Plain secrets as they are, masked ones only as the proxy's surrogate.
        assert.strictEqual(request.env.PLAIN_TOKEN, "plain-value")
        assert.strictEqual(request.env.API_KEY, "sk-ant-surrogate")
        assert.notInclude(JSON.stringify(request), "sk-ant-real")
        assert.deepStrictEqual(request.sandbox, {
          network: "airut-task-net",
          proxyIp: "10.0.0.2",
          caCertPath: join(f.root, "ca.pem"),
        })
        // The proxy got the default branch's allowlist and the real secret.
        const [spec] = out.proxySpecs
        assert.deepStrictEqual(spec?.allowlist.domains, ["registry.npmjs.org"])
        assert.strictEqual(
          Redacted.value(spec?.maskedSecrets.API_KEY?.value ?? Redacted.make("")),
          "sk-ant-real",
        )

        const [reply] = out.replies
        assert.strictEqual(reply?.text, "I added hello.txt.")
        assert.match(
          Option.getOrElse(reply?.footer ?? Option.none(), () => ""),
          /^Cost \$0\.0100 · 1 turn · 1 s$/,
        )
        assert.deepStrictEqual(
          reply?.outboxFiles.map((file) => file.fileName),
          ["report.txt"],
        )
        // Sent, so the outbox is empty; the session is what the next message resumes.
        assert.deepStrictEqual(readdirSync(join(out.dir, "outbox")), [])
        assert.deepStrictEqual(out.conversation.sessionId, Option.some("session-42"))
        assert.include(out.conversation.threadKeys, "<reply-1@x>")
        assert.strictEqual(out.storedReplies.length, 1)
        // The channel saw the task prepare, run, and each plan, all before the answer.
        assert.deepStrictEqual(out.told, [
          "Preparing",
          "Running",
          "plan: Clone=completed, Test=in_progress",
          "plan: Clone=completed, Test=completed",
          "reply",
        ])
      })
    },
  )

  it.live("without an allowlist file the agent may reach the Anthropic API only", () => {
    const f = fixture()
    return Effect.gen(function* () {
      const out = yield* runOnce(f, configFor(f))
      assert.deepStrictEqual(out.result, { reason: "success" })
      const [spec] = out.proxySpecs
      assert.deepStrictEqual(spec?.allowlist.domains, [])
      assert.deepStrictEqual(
        spec?.allowlist.url_prefixes.map((p) => p.host),
        ["api.anthropic.com", "api.anthropic.com"],
      )
    })
  })

  it.live(
    "fails closed: an unproven network or an unhealthy proxy runs no agent and tells the sender why",
    () => {
      const f = fixture()
      return Effect.gen(function* () {
        for (const fakes of [{ isolated: false }, { proxyFails: true }]) {
          const out = yield* runOnce(f, configFor(f), fakes)
          assert.strictEqual(out.result.reason, "internal_error")
          assert.deepStrictEqual(out.requests, [], "the agent must not run")
          assert.strictEqual(out.errors.length, 1)
          assert.include(out.errors[0] ?? "", "Nothing was executed")
          assert.include(
            out.errors[0] ?? "",
            fakes.isolated === false ? "proving the network sandbox" : "starting the network proxy",
          )
        }
      })
    },
  )

  it.live("with the sandbox switched off no proxy starts and masked secrets are not handed out", () => {
    const f = fixture()
    return Effect.gen(function* () {
      const out = yield* runOnce(f, configFor(f, { network: { sandbox_enabled: false } }))
      assert.deepStrictEqual(out.result, { reason: "success" })
      assert.deepStrictEqual(out.proxySpecs, [])
      const [request] = out.requests
      assert.isUndefined(request?.sandbox)
      assert.isUndefined(request?.env.API_KEY)
    })
  })

  it.live("resource_limits.timeout bounds the run; a timeout is answered and the work is kept", () => {
    const f = fixture()
    return Effect.gen(function* () {
      const out = yield* runOnce(f, configFor(f, { resource_limits: { timeout: 600 } }), {
        respond: {
          respond: (request) =>
            Effect.fail(
              new TaskTimeout({
                timeoutMs: Duration.toMillis(request.timeout ?? Duration.zero),
                sessionId: Option.some("session-7"),
              }),
            ),
        },
      })
      const [request] = out.requests
      assert.deepStrictEqual(request?.timeout, Duration.seconds(600))
      assert.deepStrictEqual(out.result.reason, "timeout")
      assert.include(out.errors[0] ?? "", "did not finish within 10m")
      assert.include(out.errors[0] ?? "", "reply to this message to let it continue")
    })
  })

  it.live("an agent failure is answered with what happened and recorded; the outbox is kept", () => {
    const f = fixture()
    return Effect.gen(function* () {
      const failure: AgentFailure = new ContainerFailed({
        exitCode: 1,
        detail: "API error 529 overloaded",
        lastLines: ["retrying", "giving up"],
        sessionId: Option.none(),
      })
      const out = yield* runOnce(f, configFor(f), {
        respond: {
          respond: (request) =>
            Effect.sync(() => writeFileSync(join(request.hostPaths.outbox, "partial.txt"), "x")).pipe(
              Effect.zipRight(Effect.fail(failure)),
            ),
        },
      })
      assert.strictEqual(out.result.reason, "error")
      assert.include(out.errors[0] ?? "", "API error 529 overloaded")
      assert.include(out.errors[0] ?? "", "giving up")
      assert.deepStrictEqual(out.replies, [])
      assert.isTrue(existsSync(join(out.dir, "outbox", "partial.txt")))
    })
  })

  it.live("a repository without a Dockerfile on the default branch is told where it was looked for", () => {
    const f = fixture()
    return Effect.gen(function* () {
      const out = yield* runOnce(f, configFor(f, { container_path: ".devcontainer" }))
      assert.strictEqual(out.result.reason, "internal_error")
      assert.include(out.errors[0] ?? "", ".devcontainer/Dockerfile")
      assert.deepStrictEqual(out.requests, [])
    })
  })
})
