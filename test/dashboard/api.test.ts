import type { HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { ConversationPayload } from "../../src/schema/DashboardConversation.js"
import { ApiErrorPayload, HealthPayload, VersionPayload } from "../../src/schema/DashboardHealth.js"
import { EventsPayload, NetworkPayload } from "../../src/schema/DashboardLogs.js"
import { TaskListPayload } from "../../src/schema/DashboardTask.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import { SecretRedactor } from "../../src/services/SecretRedactor.js"
import {
  assistantText,
  DashboardAppTest,
  get,
  networkEntry,
  seedConversation,
  toolUseLine,
} from "../support/dashboardRig.js"
import { TaskDriver } from "../support/TaskSupervisorTest.js"

const Dashboard = DashboardAppTest

const body =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (response: HttpClientResponse.HttpClientResponse) =>
    Effect.flatMap(response.json, Schema.decodeUnknown(schema))

const secret = "sk-real-secret-value-0123456789"

/** A conversation with events and network entries, some carrying a registered secret. */
const seeded = Effect.gen(function* () {
  const store = yield* ConversationStore
  const redactor = yield* SecretRedactor
  yield* redactor.register([secret])
  const { conversation, task } = yield* seedConversation()
  yield* store.appendEvents(task.id, [
    assistantText(`Looking at it; the key is ${secret}`),
    toolUseLine("TodoWrite", {
      todos: [{ content: "Read the test", status: "in_progress", activeForm: "Reading" }],
    }),
  ])
  yield* store.appendNetwork(task.id, [
    networkEntry({}),
    networkEntry({ verdict: "blocked", host: "evil.example", path: `/exfil?k=${secret}`, method: "post" }),
  ])
  return { conversation, task }
})

describe("dashboard JSON API", () => {
  it.live("GET /api/version names the build", () =>
    Effect.gen(function* () {
      const response = yield* get("/api/version")
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(yield* body(VersionPayload)(response), { name: "airut", version: "0.0.0-test" })
    }).pipe(Effect.provide(Dashboard())),
  )

  it.live("GET /api/health reports the store and each channel", () =>
    Effect.gen(function* () {
      const response = yield* get("/api/health")
      assert.strictEqual(response.status, 200)
      const health = yield* body(HealthPayload)(response)
      assert.strictEqual(health.status, "ok")
      assert.strictEqual(health.store, "ok")
      assert.deepStrictEqual(health.channels, [
        { repoId: "acme", kind: "email", health: { _tag: "Connected" } },
      ])
      assert.strictEqual(health.maxConcurrent, 3)
    }).pipe(Effect.provide(Dashboard())),
  )

  it.live("GET /api/tasks lists unfinished and finished tasks with their repository", () =>
    Effect.gen(function* () {
      const driver = yield* TaskDriver
      const a = yield* seedConversation("first")
      const b = yield* seedConversation("second")
      yield* driver.move(b.task.id, { state: "executing" })
      yield* driver.move(a.task.id, { state: "completed", reason: "success" })
      const list = yield* get("/api/tasks").pipe(Effect.flatMap(body(TaskListPayload)))
      assert.deepStrictEqual(
        list.tasks.map((t) => [t.title, t.state, t.repoId, t.channel]),
        [
          ["second", "executing", "acme", "email"],
          ["first", "completed", "acme", "email"],
        ],
      )
      assert.strictEqual(list.counts.executing, 1)
      assert.strictEqual(list.counts.completed, 1)
      assert.deepStrictEqual(list.active, [b.task.id])
    }).pipe(Effect.provide(Dashboard())),
  )

  it.live("GET /api/conversations/:id: the conversation, its tasks, replies and plan; 404 and 400", () =>
    Effect.gen(function* () {
      const store = yield* ConversationStore
      const { conversation, task } = yield* seeded
      yield* store.recordReply({
        conversationId: conversation.id,
        taskId: task.id,
        sessionId: "sess-1",
        durationMs: 1200,
        costUsd: 0.0123,
        turns: 3,
        usage: {},
        requestText: "please fix",
        responseText: `done, and the key was ${secret}`,
        outcome: "Success",
      })
      const response = yield* get(`/api/conversations/${conversation.id}`)
      assert.strictEqual(response.status, 200)
      const payload = yield* body(ConversationPayload)(response)
      assert.strictEqual(payload.conversation.id, conversation.id)
      assert.deepStrictEqual(
        payload.tasks.map((t) => t.id),
        [task.id],
      )
      assert.strictEqual(payload.replies[0]?.responseText, "done, and the key was <redacted>")
      assert.deepStrictEqual(payload.todos, [
        { content: "Read the test", status: "in_progress", activeForm: "Reading" },
      ])

      const missing = yield* get("/api/conversations/0badcafe")
      assert.strictEqual(missing.status, 404)
      assert.strictEqual((yield* body(ApiErrorPayload)(missing)).error, "NotFound")
      const malformed = yield* get("/api/conversations/not-an-id")
      assert.strictEqual(malformed.status, 400)
    }).pipe(Effect.provide(Dashboard())),
  )

  it.live(
    "GET /api/conversations/:id/events pages by offset, redacts secrets; 400 on bad offsets, 404 on unknown ids",
    () =>
      Effect.gen(function* () {
        const { conversation } = yield* seeded
        const first = yield* get(`/api/conversations/${conversation.id}/events?offset=0&limit=1`).pipe(
          Effect.flatMap(body(EventsPayload)),
        )
        assert.strictEqual(first.events.length, 1)
        assert.isTrue(first.running)
        assert.include(first.events[0]?.line ?? "", "<redacted>")
        assert.notInclude(first.events[0]?.line ?? "", secret)
        const rest = yield* get(
          `/api/conversations/${conversation.id}/events?offset=${first.nextOffset}`,
        ).pipe(Effect.flatMap(body(EventsPayload)))
        assert.strictEqual(rest.events.length, 1)
        assert.include(rest.events[0]?.line ?? "", "TodoWrite")
        const empty = yield* get(
          `/api/conversations/${conversation.id}/events?offset=${rest.nextOffset}`,
        ).pipe(Effect.flatMap(body(EventsPayload)))
        assert.deepStrictEqual([empty.events.length, empty.nextOffset], [0, rest.nextOffset])

        for (const bad of ["offset=abc", "offset=-1", "offset=1.5", "limit=0", "limit=5000"]) {
          const response = yield* get(`/api/conversations/${conversation.id}/events?${bad}`)
          assert.strictEqual(response.status, 400, bad)
        }
        assert.strictEqual((yield* get("/api/conversations/0badcafe/events")).status, 404)
        assert.strictEqual((yield* get("/api/conversations/XYZ/events")).status, 400)
      }).pipe(Effect.provide(Dashboard())),
  )

  it.live(
    "GET /api/conversations/:id/network: entries, the blocked filter and the allowlist entry; 400, 404",
    () =>
      Effect.gen(function* () {
        const { conversation } = yield* seeded
        const all = yield* get(`/api/conversations/${conversation.id}/network`).pipe(
          Effect.flatMap(body(NetworkPayload)),
        )
        assert.deepStrictEqual(
          all.entries.map((e) => e.verdict),
          ["allowed", "blocked"],
        )
        const blocked = yield* get(`/api/conversations/${conversation.id}/network?blocked=true`).pipe(
          Effect.flatMap(body(NetworkPayload)),
        )
        assert.strictEqual(blocked.entries.length, 1)
        const entry = blocked.entries[0]
        assert.strictEqual(entry?.path, "/exfil?k=<redacted>")
        assert.strictEqual(entry?.swappedSecrets, 1)
        assert.deepStrictEqual(
          entry?.allowlistEntry._tag === "Some" ? entry.allowlistEntry.value : undefined,
          '- { host: "evil.example", path: "/exfil*", methods: ["POST"] }',
        )
        assert.strictEqual(
          (yield* get(`/api/conversations/${conversation.id}/network?blocked=maybe`)).status,
          400,
        )
        assert.strictEqual((yield* get(`/api/conversations/${conversation.id}/network?offset=x`)).status, 400)
        assert.strictEqual((yield* get("/api/conversations/0badcafe/network")).status, 404)
      }).pipe(Effect.provide(Dashboard())),
  )

  it.live("an unknown route is a 404 with the security headers", () =>
    Effect.gen(function* () {
      const api = yield* get("/api/nothing-here")
      assert.strictEqual(api.status, 404)
      const page = yield* get("/nothing-here")
      assert.strictEqual(page.status, 404)
      assert.include(page.headers["content-security-policy"] ?? "", "frame-ancestors 'none'")
      assert.strictEqual(page.headers["x-content-type-options"], "nosniff")
    }).pipe(Effect.provide(Dashboard())),
  )
})
