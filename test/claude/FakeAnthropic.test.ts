import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Schema } from "effect"
import { bash, makeFakeAnthropic, promptTooLong, Turn, writeFile } from "../support/FakeAnthropic.js"

/** The fake speaks the Messages API the way the real one streams it (what Claude Code parses). */

const SseEvent = Schema.parseJson(
  Schema.Struct({
    type: Schema.String,
    index: Schema.optional(Schema.Number),
    content_block: Schema.optional(
      Schema.Struct({ type: Schema.String, name: Schema.optional(Schema.String) }),
    ),
    delta: Schema.optional(
      Schema.Struct({
        type: Schema.optional(Schema.String),
        text: Schema.optional(Schema.String),
        partial_json: Schema.optional(Schema.String),
        stop_reason: Schema.optional(Schema.String),
      }),
    ),
    usage: Schema.optional(Schema.Struct({ output_tokens: Schema.Number })),
    message: Schema.optional(Schema.Struct({ id: Schema.String, model: Schema.String })),
  }),
)

/** Frames of an SSE body: `event:` name, parsed `data:`. */
const frames = (body: string) =>
  Effect.forEach(
    body.split("\n\n").filter((f) => f.trim() !== ""),
    (frame) => {
      const name = /^event: (.*)$/m.exec(frame)?.[1] ?? ""
      const data = /^data: (.*)$/m.exec(frame)?.[1] ?? ""
      return Effect.map(Schema.decodeUnknown(SseEvent)(data), (event) => ({ name, event }))
    },
  )

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    client.execute(
      HttpClientRequest.post(`${url}/v1/messages?beta=true`).pipe(
        HttpClientRequest.setHeaders({
          "x-api-key": "sk-ant-test",
          "anthropic-version": "2023-06-01",
          ...headers,
        }),
        HttpClientRequest.bodyUnsafeJson(body),
      ),
    ),
  )

const request = {
  model: "claude-sonnet-4-5",
  max_tokens: 1024,
  stream: true,
  messages: [{ role: "user", content: "hi" }],
}

describe("FakeAnthropic", () => {
  it.scoped(
    "streams a text turn: message_start, ping, block start/deltas/stop, message_delta, message_stop",
    () =>
      Effect.gen(function* () {
        const fake = yield* makeFakeAnthropic()
        yield* fake.script([
          Turn.Text({ text: "Hello there, this is a longer answer.", usage: { output_tokens: 9 } }),
        ])
        const response = yield* post(fake.url, request)
        assert.strictEqual(response.status, 200)
        assert.include(response.headers["content-type"] ?? "", "text/event-stream")
        const events = yield* frames(yield* response.text)
        const names = events.map((e) => e.name)
        assert.deepStrictEqual(names.slice(0, 3), ["message_start", "ping", "content_block_start"])
        assert.deepStrictEqual(names.slice(-3), ["content_block_stop", "message_delta", "message_stop"])
        // The frame name repeats the data's type, as the real API does.
        for (const e of events) assert.strictEqual(e.name, e.event.type)
        assert.strictEqual(events[0]?.event.message?.model, "claude-sonnet-4-5")
        const text = events
          .flatMap((e) => (e.event.delta?.type === "text_delta" ? [e.event.delta.text] : []))
          .join("")
        assert.strictEqual(text, "Hello there, this is a longer answer.")
        const delta = events.find((e) => e.name === "message_delta")?.event
        assert.strictEqual(delta?.delta?.stop_reason, "end_turn")
        assert.strictEqual(delta?.usage?.output_tokens, 9)
      }).pipe(Effect.provide(FetchHttpClient.layer)),
  )

  it.scoped("streams a tool call as input_json_delta fragments that rebuild the input", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeAnthropic()
      yield* fake.script([writeFile("/workspace/a.txt", "x".repeat(100), "Writing it.")])
      const events = yield* frames(yield* (yield* post(fake.url, request)).text)
      const starts = events.filter((e) => e.name === "content_block_start").map((e) => e.event.content_block)
      assert.deepStrictEqual(
        starts.map((b) => b?.type),
        ["text", "tool_use"],
      )
      assert.strictEqual(starts[1]?.name, "Write")
      const fragments = events.flatMap((e) =>
        e.event.index === 1 && e.event.delta?.type === "input_json_delta"
          ? [e.event.delta.partial_json ?? ""]
          : [],
      )
      assert.strictEqual(fragments[0], "")
      assert.isAbove(fragments.length, 2)
      assert.deepStrictEqual(JSON.parse(fragments.join("")), {
        file_path: "/workspace/a.txt",
        content: "x".repeat(100),
      })
      const stop = events.find((e) => e.name === "message_delta")?.event.delta?.stop_reason
      assert.strictEqual(stop, "tool_use")
    }).pipe(Effect.provide(FetchHttpClient.layer)),
  )

  it.scoped("errors answer with the API's status and error body; an empty script is a 400", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeAnthropic()
      yield* fake.script([promptTooLong()])
      const refused = yield* post(fake.url, request)
      assert.strictEqual(refused.status, 400)
      const body = yield* refused.json
      assert.deepInclude(body, { type: "error" })
      assert.include(JSON.stringify(body), "prompt is too long")
      const empty = yield* post(fake.url, request)
      assert.strictEqual(empty.status, 400)
      assert.include(yield* empty.text, "no scripted turn left")
    }).pipe(Effect.provide(FetchHttpClient.layer)),
  )

  it.scoped("records every request with its headers and body; turns are consumed in order", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeAnthropic()
      yield* fake.script([bash("ls"), Turn.Text({ text: "done" })])
      yield* post(fake.url, request, { "x-api-key": "sk-ant-real-key" }).pipe(Effect.flatMap((r) => r.text))
      assert.strictEqual(yield* fake.remaining, 1)
      const client = yield* HttpClient.HttpClient
      const settings = yield* client.get(`${fake.url}/api/claude_code/settings`)
      assert.strictEqual(settings.status, 404)
      const hello = yield* client.get(`${fake.url}/api/hello`)
      assert.strictEqual(hello.status, 200)
      const all = yield* fake.requests
      assert.deepStrictEqual(
        all.map((r) => `${r.method} ${r.path}`),
        ["POST /v1/messages", "GET /api/claude_code/settings", "GET /api/hello"],
      )
      assert.strictEqual(all[0]?.headers["x-api-key"], "sk-ant-real-key")
      assert.deepInclude(Option.getOrThrow(all[0]?.json ?? Option.none()), { model: "claude-sonnet-4-5" })
      assert.strictEqual((yield* fake.messageRequests).length, 1)
    }).pipe(Effect.provide(FetchHttpClient.layer)),
  )

  it.scoped("a non-streaming request gets a Message object", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeAnthropic()
      yield* fake.script([Turn.Text({ text: "plain" })])
      const response = yield* post(fake.url, { ...request, stream: false })
      const body = yield* response.json
      assert.deepInclude(body, { type: "message", role: "assistant", stop_reason: "end_turn" })
    }).pipe(Effect.provide(FetchHttpClient.layer)),
  )

  it.live("a Hang turn never answers; the server still stops with its scope, cutting the request", () =>
    Effect.gen(function* () {
      const pending = yield* Effect.scoped(
        Effect.gen(function* () {
          const fake = yield* makeFakeAnthropic()
          yield* fake.script([Turn.Hang()])
          const fiber = yield* Effect.fork(post(fake.url, request))
          yield* Effect.sleep("300 millis")
          assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
          return fiber
        }),
      ).pipe(Effect.timeout("5 seconds"))
      const exit = yield* Fiber.await(pending).pipe(Effect.timeout("5 seconds"))
      assert.isTrue(Exit.isFailure(exit))
    }).pipe(Effect.provide(FetchHttpClient.layer)),
  )
})
