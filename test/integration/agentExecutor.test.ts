import { randomBytes } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Option } from "effect"
import { AgentExecutorLive } from "../../src/layers/AgentExecutorLive.js"
import { ConversationStoreMemory } from "../../src/layers/ConversationStoreMemory.js"
import { ImageCacheLive } from "../../src/layers/ImageCacheLive.js"
import { SecretRedactorLive } from "../../src/layers/SecretRedactorLive.js"
import type { AgentRequest } from "../../src/schema/AgentRequest.js"
import { AgentExecutor } from "../../src/services/AgentExecutor.js"
import { ContainerRuntime } from "../../src/services/ContainerRuntime.js"
import { runContainer } from "../../src/services/ContainerScope.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import { ImageCache } from "../../src/services/ImageCache.js"
import { SecretRedactor } from "../../src/services/SecretRedactor.js"
import { testApiKey } from "../support/ClaudeHost.js"
import {
  bash,
  type FakeAnthropicShape,
  invalidSession,
  makeFakeAnthropic,
  promptTooLong,
  Turn,
  writeFile,
} from "../support/FakeAnthropic.js"
import { claudeVersion, TestClaudeBinary } from "./support/claude.js"
import { PodmanRuntimeRemovingImages } from "./support/images.js"
import { baseImage } from "./support/podman.js"

/**
 * The executor end to end on Podman: the real Claude Code binary (mounted read-only) in a real
 * container built by the image cache, talking to the scripted fake API, outcomes classified
 * from its real output. Without the network sandbox here (the repository setting
 * `network.sandbox_enabled: false`); the fake listens on the default network's gateway.
 */

const run = randomBytes(4).toString("hex")

interface RigShape {
  readonly fake: FakeAnthropicShape
  readonly image: string
  readonly root: string
}
class Rig extends Context.Tag("test/AgentRig")<Rig, RigShape>() {}

const RigLive = Layer.scoped(
  Rig,
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    const network = yield* runtime.inspectNetwork("podman")
    const gateway = Option.flatMap(network, (n) => Option.fromNullable(n.subnets[0]?.gateway))
    if (Option.isNone(gateway)) return yield* Effect.dieMessage("Podman's default network has no gateway")
    // Netavark brings the bridge (and its gateway address, where the fake listens) up with the
    // first container on it and down with the last: this one holds it up for the whole file.
    yield* runContainer({ image: baseImage, command: ["sleep", "3600"], labels: { "airut.test": run } })
    const fake = yield* makeFakeAnthropic({ host: gateway.value })
    const image = yield* Effect.flatMap(ImageCache, (cache) =>
      cache.ensureImage({
        context: new Map([["Dockerfile", Buffer.from(`FROM ${baseImage}\n`)]]),
        entrypoint: "agent",
      }),
    )
    const root = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "airut-agent-exec-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
    )
    return { fake, image: image.tag, root }
  }),
).pipe(Layer.provide(ImageCacheLive({ prefix: `localhost/airut-t${run}` })))

const TestLayer = Layer.mergeAll(AgentExecutorLive().pipe(Layer.provide(TestClaudeBinary)), RigLive).pipe(
  Layer.provideMerge(ConversationStoreMemory),
  Layer.provideMerge(SecretRedactorLive),
  Layer.provideMerge(PodmanRuntimeRemovingImages),
)

/** A conversation (its host directories made) and a task; the request to run in it. */
const newTask = (overrides: Partial<AgentRequest> = {}) =>
  Effect.gen(function* () {
    const { fake, image, root } = yield* Rig
    const store = yield* ConversationStore
    const conversationId =
      overrides.conversationId ??
      (yield* store.createConversation({
        repoId: "example",
        channel: "email",
        threadKeys: [],
        model: "sonnet",
      })).id
    const task = yield* store.createTask({ conversationId, sender: "a@example.com", title: "test" })
    const dir = join(root, conversationId)
    const hostPaths = {
      workspace: join(dir, "workspace"),
      inbox: join(dir, "inbox"),
      outbox: join(dir, "outbox"),
      storage: join(dir, "storage"),
      claudeState: join(dir, "claude"),
    }
    for (const path of Object.values(hostPaths)) mkdirSync(path, { recursive: true })
    const request: AgentRequest = {
      taskId: task.id,
      conversationId,
      repoId: "example",
      image,
      claudeVersion,
      hostPaths,
      prompt: "Say hello.",
      model: "claude-sonnet-4-5",
      env: {
        ANTHROPIC_BASE_URL: fake.url,
        ANTHROPIC_API_KEY: testApiKey,
        // No sandbox in this file: keep the CLI's own calls to api.anthropic.com off the internet.
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      },
      limits: { memoryBytes: 2 * 1024 ** 3, pidsLimit: 512 },
      timeout: Duration.minutes(3),
      ...overrides,
    }
    return request
  })

const noContainersOf = (request: AgentRequest) =>
  Effect.flatMap(ContainerRuntime, (runtime) =>
    runtime.listContainers({ "airut.task": request.taskId }),
  ).pipe(Effect.map((listed) => assert.deepStrictEqual(listed, [])))

layer(TestLayer, { excludeTestServices: true, timeout: "900 seconds" })(
  "AgentExecutorLive on Podman",
  (it) => {
    it.effect(
      "a multi-turn run writes into /workspace and /outbox and answers; the fake saw the key",
      () =>
        Effect.gen(function* () {
          const { fake } = yield* Rig
          // A plain secret the container gets as it is; the agent prints it.
          const plainSecret = `plain-${randomBytes(8).toString("hex")}`
          yield* (yield* SecretRedactor).register([plainSecret])
          const base = yield* newTask({ prompt: "Create notes.md and a report. MARK-WRITE" })
          const request = { ...base, env: { ...base.env, PLAIN_TOKEN: plainSecret } }
          yield* fake.script([
            writeFile("/workspace/notes.md", "# Notes\n", "Creating the notes."),
            writeFile("/outbox/report.txt", "All done.\n"),
            bash("echo token=$PLAIN_TOKEN"),
            Turn.Text({ text: "Created notes.md and put report.txt in the outbox." }),
          ])
          const outcome = yield* (yield* AgentExecutor).run(request)
          assert.strictEqual(outcome.replyText, "Created notes.md and put report.txt in the outbox.")
          assert.strictEqual(outcome.turns, 4)
          assert.isFalse(outcome.recovered)
          assert.strictEqual(readFileSync(join(request.hostPaths.workspace, "notes.md"), "utf8"), "# Notes\n")
          assert.strictEqual(
            readFileSync(join(request.hostPaths.outbox, "report.txt"), "utf8"),
            "All done.\n",
          )
          // The session transcript lives in the conversation's Claude state directory.
          assert.isTrue(existsSync(join(request.hostPaths.claudeState, "projects")))
          const calls = (yield* fake.messageRequests).filter((r) => r.body.includes("MARK-WRITE"))
          assert.strictEqual(calls.length, 4)
          // The command really printed it (the API saw the tool result), the store never did.
          assert.include(calls[3]?.body ?? "", `token=${plainSecret}`)
          for (const call of calls) assert.strictEqual(call.headers["x-api-key"], testApiKey)
          const stored = yield* (yield* ConversationStore).readEvents({ taskId: request.taskId }, 0, 1000)
          assert.isAbove(stored.events.length, 5)
          for (const row of stored.events) assert.notInclude(row.line, plainSecret)
          assert.isTrue(stored.events.some((row) => row.line.includes("token=<redacted>")))
          yield* noContainersOf(request)
        }),
      300_000,
    )

    it.effect(
      "a reply resumes the session: the API sees the earlier turns; a 400 on resume recovers in a fresh session",
      () =>
        Effect.gen(function* () {
          const { fake } = yield* Rig
          const executor = yield* AgentExecutor
          const first = yield* newTask({ prompt: "Remember: the build uses make. MARK-RESUME-1" })
          yield* fake.script([Turn.Text({ text: "Noted, make it is." })])
          const one = yield* executor.run(first)

          const second = yield* newTask({
            conversationId: first.conversationId,
            hostPaths: first.hostPaths,
            sessionId: one.sessionId,
            prompt: "What does the build use? MARK-RESUME-2",
          })
          yield* fake.script([Turn.Text({ text: "The build uses make." })])
          const two = yield* executor.run(second)
          assert.strictEqual(two.sessionId, one.sessionId)
          assert.isFalse(two.recovered)
          const resumedCall = (yield* fake.messageRequests).find((r) => r.body.includes("MARK-RESUME-2"))
          assert.include(resumedCall?.body ?? "", "MARK-RESUME-1")
          assert.include(resumedCall?.body ?? "", "Noted, make it is.")

          // From now on the API rejects every call carrying that conversation.
          yield* fake.answerWhen((r) => r.body.includes("MARK-RESUME-1"), invalidSession())
          const third = yield* newTask({
            conversationId: first.conversationId,
            hostPaths: first.hostPaths,
            sessionId: one.sessionId,
            lastReply: two.replyText,
            prompt: "And the tests? MARK-RESUME-3",
          })
          yield* fake.script([Turn.Text({ text: "Context was lost; the tests run with make test." })])
          const three = yield* executor.run(third)
          assert.isTrue(three.recovered)
          assert.notStrictEqual(three.sessionId, one.sessionId)
          assert.strictEqual(three.replyText, "Context was lost; the tests run with make test.")
          const recoveryCall = (yield* fake.messageRequests).find(
            (r) => r.body.includes("MARK-RESUME-3") && !r.body.includes("MARK-RESUME-1"),
          )
          assert.include(recoveryCall?.body ?? "", "could not be resumed")
          assert.include(recoveryCall?.body ?? "", "The build uses make.")
          yield* noContainersOf(third)
        }),
      300_000,
    )

    it.effect(
      "a fresh prompt that is too long is PromptTooLong, without a retry",
      () =>
        Effect.gen(function* () {
          const { fake } = yield* Rig
          yield* fake.answerWhen((r) => r.body.includes("MARK-PTL"), promptTooLong())
          const request = yield* newTask({ prompt: "Summarise everything. MARK-PTL" })
          const error = yield* (yield* AgentExecutor).run(request).pipe(Effect.flip)
          assert.strictEqual(error._tag, "PromptTooLong")
          yield* noContainersOf(request)
        }),
      300_000,
    )

    it.effect(
      "an API that never answers: TaskTimeout, the container gone, the session kept for the next reply",
      () =>
        Effect.gen(function* () {
          const { fake } = yield* Rig
          yield* fake.answerWhen((r) => r.body.includes("MARK-HANG"), Turn.Hang())
          const request = yield* newTask({ prompt: "Wait forever. MARK-HANG", timeout: Duration.seconds(20) })
          const error = yield* (yield* AgentExecutor).run(request).pipe(Effect.flip)
          assert.strictEqual(error._tag, "TaskTimeout")
          if (error._tag !== "TaskTimeout") return
          assert.isTrue(Option.isSome(error.sessionId))
          const conversation = yield* (yield* ConversationStore).getConversation(request.conversationId)
          assert.deepStrictEqual(conversation.sessionId, error.sessionId)
          yield* noContainersOf(request)
        }),
      300_000,
    )
  },
)
