import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted, Stream } from "effect"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import {
  assistantText,
  DashboardAppTest,
  get,
  seedConversation,
  toolResultLine,
} from "../support/dashboardRig.js"
import { TaskDriver } from "../support/TaskSupervisorTest.js"

const Dashboard = DashboardAppTest

const postStop = (taskId: string, headers: Record<string, string>) =>
  HttpClient.execute(
    HttpClientRequest.post(`/api/tasks/${taskId}/stop`).pipe(HttpClientRequest.setHeaders(headers)),
  )

const csrfOf = (page: string) => {
  const match = /<meta name="csrf-token" content="([^"]+)">/.exec(page)
  assert.isNotNull(match)
  return match?.[1] ?? ""
}

/** Reads a text/event-stream until `done` holds for what came so far (or 5 s pass). */
const readSse = (url: string, done: (text: string) => boolean) =>
  Effect.gen(function* () {
    const response = yield* get(url)
    assert.strictEqual(response.headers["content-type"], "text/event-stream")
    const seen = yield* response.stream.pipe(
      Stream.decodeText(),
      Stream.scan("", (acc, chunk) => acc + chunk),
      Stream.takeUntil(done),
      Stream.runLast,
      Effect.timeout("5 seconds"),
    )
    return Option.getOrElse(seen, () => "")
  }).pipe(Effect.scoped)

describe("dashboard pages", () => {
  it.live("an event containing a script tag renders as text, and the page forbids inline script", () =>
    Effect.gen(function* () {
      const store = yield* ConversationStore
      const { conversation, task } = yield* seedConversation("<img src=x onerror=alert(1)>")
      yield* store.appendEvents(task.id, [
        assistantText('<script>alert("owned")</script>'),
        toolResultLine("tu_1", "</pre><script>alert(2)</script>"),
      ])
      const response = yield* get(`/conversation/${conversation.id}`)
      assert.strictEqual(response.status, 200)
      const page = yield* response.text
      assert.include(page, "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;")
      assert.include(page, "&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;")
      assert.include(page, "&lt;img src=x onerror=alert(1)&gt;")
      assert.notInclude(page, "<script>alert")
      assert.notInclude(page, "<img src=x")
      const csp = response.headers["content-security-policy"] ?? ""
      assert.include(csp, "script-src 'self'")
      assert.notInclude(csp, "unsafe-inline")
      assert.include(csp, "frame-ancestors 'none'")
      assert.strictEqual(response.headers["x-content-type-options"], "nosniff")
      assert.strictEqual(response.headers["referrer-policy"], "same-origin")
      // The page's one script is ours, from a route.
      const script = yield* get("/static/dashboard.js")
      assert.strictEqual(script.status, 200)
      assert.include(script.headers["content-type"] ?? "", "javascript")
      assert.include(yield* script.text, "EventSource")
    }).pipe(Effect.provide(Dashboard())),
  )

  it.live("home and network pages render; unknown and malformed conversations are 404 and 400", () =>
    Effect.gen(function* () {
      const { conversation } = yield* seedConversation("Home page task")
      const home = yield* get("/")
      assert.strictEqual(home.status, 200)
      assert.include(yield* home.text, "Home page task")
      assert.strictEqual((yield* get(`/conversation/${conversation.id}/network`)).status, 200)
      assert.strictEqual((yield* get("/conversation/0badcafe")).status, 404)
      assert.strictEqual((yield* get("/conversation/0badcafe/network")).status, 404)
      assert.strictEqual((yield* get("/conversation/..%2F..")).status, 400)
      assert.strictEqual((yield* get(`/conversation/${conversation.id}/network?blocked=yes`)).status, 400)
    }).pipe(Effect.provide(Dashboard())),
  )

  it.live("Stop needs the page's CSRF token and a same-origin request; it stops the task once", () =>
    Effect.gen(function* () {
      const driver = yield* TaskDriver
      const store = yield* ConversationStore
      const { conversation, task } = yield* seedConversation()
      yield* driver.move(task.id, { state: "executing" })
      yield* driver.run(task.id, Effect.never)
      const csrf = csrfOf(yield* get(`/conversation/${conversation.id}`).pipe(Effect.flatMap((r) => r.text)))

      assert.strictEqual((yield* postStop(task.id, {})).status, 403)
      assert.strictEqual((yield* postStop(task.id, { "x-csrf-token": "wrong" })).status, 403)
      assert.strictEqual(
        (yield* postStop(task.id, { "x-csrf-token": csrf, origin: "https://evil.example" })).status,
        403,
      )
      assert.strictEqual((yield* postStop(task.id, { "x-csrf-token": csrf, origin: "null" })).status, 403)
      assert.isTrue(yield* driver.isRunning(task.id))
      assert.strictEqual((yield* store.getTask(task.id)).state, "executing")

      const stopped = yield* postStop(task.id, { "x-csrf-token": csrf })
      assert.strictEqual(stopped.status, 200)
      assert.isFalse(yield* driver.isRunning(task.id))
      const after = yield* store.getTask(task.id)
      assert.deepStrictEqual(
        [after.state, Option.getOrNull(after.completionReason)],
        ["completed", "stopped"],
      )

      assert.strictEqual((yield* postStop(task.id, { "x-csrf-token": csrf })).status, 409)
      assert.strictEqual((yield* postStop("0123456789ab", { "x-csrf-token": csrf })).status, 404)
      assert.strictEqual((yield* postStop("nope", { "x-csrf-token": csrf })).status, 400)
    }).pipe(Effect.provide(Dashboard())),
  )

  it.live("a form post stops the task and returns to the conversation", () =>
    Effect.gen(function* () {
      const driver = yield* TaskDriver
      const { conversation, task } = yield* seedConversation()
      yield* driver.move(task.id, { state: "executing" })
      const csrf = csrfOf(yield* get(`/conversation/${conversation.id}`).pipe(Effect.flatMap((r) => r.text)))
      const client = (yield* HttpClient.HttpClient).pipe(HttpClient.followRedirects(0))
      const response = yield* client.execute(
        HttpClientRequest.post(`/api/tasks/${task.id}/stop`).pipe(HttpClientRequest.bodyUrlParams({ csrf })),
      )
      assert.strictEqual(response.status, 303)
      assert.strictEqual(response.headers.location, `/conversation/${conversation.id}`)
    }).pipe(Effect.provide(Dashboard())),
  )

  it.live("with a token: 401 without it, a bearer header or the login cookie lets in", () =>
    Effect.gen(function* () {
      const token = "correct-horse-battery-staple"
      assert.strictEqual((yield* get("/api/tasks")).status, 401)
      assert.strictEqual((yield* get("/")).status, 401)
      assert.strictEqual(
        (yield* get("/api/tasks", { authorization: "Bearer wrong-token-wrong-token" })).status,
        401,
      )
      assert.strictEqual((yield* get("/api/tasks", { authorization: `Bearer ${token}` })).status, 200)
      assert.strictEqual((yield* get("/static/dashboard.css")).status, 200)

      const client = (yield* HttpClient.HttpClient).pipe(HttpClient.followRedirects(0))
      const wrong = yield* client.execute(
        HttpClientRequest.post("/login").pipe(
          HttpClientRequest.bodyUrlParams({ token: "not-the-token-at-all" }),
        ),
      )
      assert.strictEqual(wrong.status, 401)
      const login = yield* client.execute(
        HttpClientRequest.post("/login").pipe(HttpClientRequest.bodyUrlParams({ token })),
      )
      assert.strictEqual(login.status, 303)
      const cookie = login.headers["set-cookie"] ?? ""
      assert.include(cookie, "HttpOnly")
      assert.include(cookie, "SameSite=Strict")
      assert.notInclude(cookie, token)
      const pair = cookie.split(";")[0] ?? ""
      assert.strictEqual((yield* get("/", { cookie: pair })).status, 200)
    }).pipe(Effect.provide(Dashboard(Redacted.make("correct-horse-battery-staple")))),
  )

  it.live("the home stream sends the task lists again when a task changes", () =>
    Effect.gen(function* () {
      const driver = yield* TaskDriver
      const { task } = yield* seedConversation("Streamed task")
      const fiber = yield* readSse("/events", (text) => text.includes('data-state="executing"')).pipe(
        Effect.fork,
      )
      yield* Effect.sleep("300 millis")
      yield* driver.move(task.id, { state: "executing" })
      const text = yield* fiber.await.pipe(Effect.flatten)
      assert.include(text, "event: tasks")
      assert.include(text, "Streamed task")
      assert.include(text, 'data-state="executing"')
    }).pipe(Effect.provide(Dashboard())),
  )

  it.live("the conversation stream appends events stored after the page was rendered", () =>
    Effect.gen(function* () {
      const store = yield* ConversationStore
      const { conversation, task } = yield* seedConversation()
      yield* store.appendEvents(task.id, [assistantText("first")])
      const page = yield* store.readEvents({ conversationId: conversation.id }, 0, 100)
      const fiber = yield* readSse(
        `/conversation/${conversation.id}/stream?offset=${page.nextOffset}`,
        (text) => text.includes("second step"),
      ).pipe(Effect.fork)
      yield* Effect.sleep("200 millis")
      yield* store.appendEvents(task.id, [assistantText("second step")])
      const text = yield* fiber.await.pipe(Effect.flatten)
      assert.include(text, "event: timeline")
      assert.notInclude(text, ">first<")
      assert.match(text, /id: \d+/)
    }).pipe(Effect.provide(Dashboard())),
  )
})
