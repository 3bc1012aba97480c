/**
 * The dashboard in real headless Chromium, on test layers: tasks move on the home page without a
 * reload, the actions timeline grows as events are stored, the network page shows a blocked
 * request with the allowlist entry to add, and Stop interrupts a running task. A screenshot of
 * each page goes to test-artifacts/dashboard/.
 */
import { FileSystem, HttpServer } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import type { Page } from "playwright-core"
import { DashboardServer } from "../../src/programs/dashboard/Dashboard.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import {
  assistantText,
  DashboardServicesTest,
  dashboardOptions,
  networkEntry,
  seedConversation,
  toolResultLine,
  toolUseLine,
} from "../support/dashboardRig.js"
import { TaskDriver } from "../support/TaskSupervisorTest.js"
import { browser, launchChromium } from "./support/chromium.js"

const artifacts = "test-artifacts/dashboard"

const Dashboard = DashboardServer(dashboardOptions()).pipe(
  Layer.provideMerge(DashboardServicesTest),
  Layer.provideMerge(NodeContext.layer),
)

const baseUrl = Effect.gen(function* () {
  const server = yield* HttpServer.HttpServer
  assert.strictEqual(server.address._tag, "TcpAddress")
  return server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : ""
})

/** A fresh page in the shared browser, closed with the scope. */
const openPage = Effect.gen(function* () {
  const context = yield* launchChromium
  return yield* Effect.acquireRelease(
    browser("newPage", () => context.newPage()),
    (page) =>
      browser("close page", () => page.close()).pipe(Effect.timeout("5 seconds"), Effect.ignoreLogged),
  )
})

const screenshot = (page: Page, name: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(artifacts, { recursive: true })
    yield* browser(`screenshot ${name}`, () =>
      page.screenshot({ path: `${artifacts}/${name}.png`, fullPage: true }),
    )
  })

const waitFor = (page: Page, selector: string) =>
  browser(`wait for ${selector}`, () => page.waitForSelector(selector, { timeout: 10_000 }))

/** Marks the window; a reload or navigation would lose the mark. */
const markWindow = (page: Page) =>
  browser("mark", () => page.locator("html").evaluate((root) => root.setAttribute("data-test-mark", "kept")))
const markKept = (page: Page) =>
  browser("read mark", () => page.locator("html").getAttribute("data-test-mark"))

describe("dashboard in Chromium", () => {
  it.live(
    "home: a task appears and moves from pending to done without a reload",
    () =>
      Effect.gen(function* () {
        const driver = yield* TaskDriver
        const page = yield* openPage
        const base = yield* baseUrl
        yield* browser("goto home", () => page.goto(`${base}/`))
        yield* waitFor(page, "#live-status:text('live')")
        yield* markWindow(page)

        const { task } = yield* seedConversation("Upgrade the parser")
        yield* driver.move(task.id, { state: "pending" })
        yield* waitFor(page, `#pending tr[data-task-id="${task.id}"][data-state="pending"]`)
        yield* driver.move(task.id, { state: "executing" })
        yield* waitFor(page, `#running tr[data-task-id="${task.id}"][data-state="executing"]`)
        yield* driver.move(task.id, { state: "completed", reason: "success" })
        const done = yield* waitFor(page, `#recent tr[data-task-id="${task.id}"][data-state="completed"]`)
        assert.include(
          (yield* browser("row text", () => done?.textContent() ?? Promise.resolve(null))) ?? "",
          "success",
        )
        assert.strictEqual(yield* markKept(page), "kept")
        const channel = yield* browser("channel", () => page.textContent("#channels"))
        assert.include(channel, "Connected")
        yield* screenshot(page, "home")
      }).pipe(Effect.scoped, Effect.provide(Dashboard)),
    120_000,
  )

  it.live(
    "conversation: the actions timeline grows while events are appended; the plan follows TodoWrite",
    () =>
      Effect.gen(function* () {
        const driver = yield* TaskDriver
        const store = yield* ConversationStore
        const page = yield* openPage
        const base = yield* baseUrl
        const { conversation, task } = yield* seedConversation("Make CI green")
        yield* driver.move(task.id, { state: "executing" })
        yield* store.appendEvents(task.id, [assistantText("Let me look at the failing job.")])
        yield* browser("goto conversation", () => page.goto(`${base}/conversation/${conversation.id}`))
        yield* waitFor(page, "#live-status:text('live')")
        yield* markWindow(page)
        assert.strictEqual(yield* browser("count", () => page.locator("#timeline li.event").count()), 1)

        yield* store.appendEvents(task.id, [
          toolUseLine("TodoWrite", {
            todos: [
              { content: "Read the CI log", status: "completed", activeForm: "Reading the CI log" },
              { content: "Fix the test", status: "in_progress", activeForm: "Fixing the test" },
            ],
          }),
          toolUseLine("Bash", { command: "npm test -- --run flaky.test.ts" }),
        ])
        yield* waitFor(page, "#timeline li.event:nth-child(3)")
        yield* store.appendEvents(task.id, [toolResultLine("tu_Bash", "1 failed\n<script>alert(1)</script>")])
        yield* waitFor(page, "#timeline li.event:nth-child(4) details.tool-result")
        assert.strictEqual(yield* browser("count", () => page.locator("#timeline li.event").count()), 4)
        const plan = yield* browser("plan", () => page.textContent("#todos"))
        assert.include(plan, "Fixing the test")
        const bash = yield* browser("tool input", () => page.textContent("#timeline li.event:nth-child(3)"))
        assert.include(bash, "npm test -- --run flaky.test.ts")
        // The result is folded, and its markup is text.
        const result = yield* browser("result", () =>
          page.locator("#timeline li.event:nth-child(4) details pre").textContent(),
        )
        assert.include(result ?? "", "<script>alert(1)</script>")
        assert.strictEqual(yield* markKept(page), "kept")
        yield* screenshot(page, "conversation")
      }).pipe(Effect.scoped, Effect.provide(Dashboard)),
    120_000,
  )

  it.live(
    "network: a blocked request shows with the allowlist entry to add, live and filtered",
    () =>
      Effect.gen(function* () {
        const store = yield* ConversationStore
        const driver = yield* TaskDriver
        const page = yield* openPage
        const base = yield* baseUrl
        const { conversation, task } = yield* seedConversation("Fetch the docs")
        yield* driver.move(task.id, { state: "executing" })
        yield* store.appendNetwork(task.id, [networkEntry({})])
        yield* browser("goto network", () => page.goto(`${base}/conversation/${conversation.id}/network`))
        yield* waitFor(page, "#live-status:text('live')")
        yield* waitFor(page, "tr.request.allowed")
        yield* store.appendNetwork(task.id, [
          networkEntry({
            verdict: "blocked",
            method: "POST",
            host: "uploads.example.net",
            path: "/v1/put?x=1",
          }),
        ])
        const row = yield* waitFor(page, "tr.request.blocked")
        const text = yield* browser("row", () => row?.textContent() ?? Promise.resolve(null))
        assert.include(text, "uploads.example.net")
        assert.include(text, '- { host: "uploads.example.net", path: "/v1/put*", methods: ["POST"] }')
        yield* screenshot(page, "network")

        yield* browser("filter", () => page.click("#only-blocked"))
        yield* waitFor(page, "tr.request.blocked")
        assert.strictEqual(
          yield* browser("allowed rows", () => page.locator("tr.request.allowed").count()),
          0,
        )
        yield* screenshot(page, "network-blocked")
      }).pipe(Effect.scoped, Effect.provide(Dashboard)),
    120_000,
  )

  it.live(
    "Stop interrupts a running task",
    () =>
      Effect.gen(function* () {
        const store = yield* ConversationStore
        const driver = yield* TaskDriver
        const page = yield* openPage
        const base = yield* baseUrl
        const { conversation, task } = yield* seedConversation("Long refactor")
        yield* driver.move(task.id, { state: "executing" })
        yield* driver.run(task.id, Effect.never)
        yield* browser("goto conversation", () => page.goto(`${base}/conversation/${conversation.id}`))
        yield* screenshot(page, "conversation-running")
        yield* browser("click stop", () => page.click(`button.stop[data-task-id="${task.id}"]`))
        yield* waitFor(page, `#tasks tr[data-task-id="${task.id}"][data-state="completed"]`)
        assert.include(yield* browser("tasks", () => page.textContent("#tasks")), "stopped")
        assert.isFalse(yield* driver.isRunning(task.id))
        const stopped = yield* store.getTask(task.id)
        assert.deepStrictEqual(Option.getOrNull(stopped.completionReason), "stopped")
        yield* screenshot(page, "conversation-stopped")
      }).pipe(Effect.scoped, Effect.provide(Dashboard)),
    120_000,
  )
})
