import * as Http from "node:http"
import * as Https from "node:https"
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { ServeError } from "@effect/platform/HttpServerError"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Data, type Duration, Effect, Layer, Option, Ref, Schema, type Scope, Stream } from "effect"

/**
 * A scripted stand-in for the Anthropic API that the real Claude Code CLI talks to in tests
 * (unit fixtures, container runs, the bench, the gateway end-to-end test). `POST /v1/messages`
 * answers with the next scripted turn, streamed as server-sent events in the order and shape
 * the real API uses; the other endpoints Claude Code calls get small answers. Every request is
 * recorded, headers included, so a test can assert what the client sent (the real API key, the
 * earlier turns of a resumed session).
 */

/** Token counts the fake reports for a turn; unset ones are derived from the sizes. */
export interface TurnUsage {
  readonly input_tokens?: number
  readonly output_tokens?: number
  readonly cache_creation_input_tokens?: number
  readonly cache_read_input_tokens?: number
}

/** One answer of the model, consumed by one `POST /v1/messages`. */
export type Turn = Data.TaggedEnum<{
  /** A final text answer (`stop_reason: end_turn`). */
  Text: { readonly text: string; readonly usage?: TurnUsage }
  /** A tool call (`stop_reason: tool_use`), optionally preceded by a text block. */
  ToolUse: {
    readonly name: string
    readonly input: Readonly<Record<string, unknown>>
    readonly text?: string
    readonly usage?: TurnUsage
  }
  /** An error answer, as the API sends it: a status and `{type:"error", error:{type, message}}`. */
  ApiError: { readonly status: number; readonly errorType: string; readonly message: string }
  /** Never answers: the request stays open until the client goes away. */
  Hang: Record<never, never>
}>
export const Turn = Data.taggedEnum<Turn>()

/** Turns for the tools the scenarios use. */
export const writeFile = (filePath: string, content: string, text?: string): Turn =>
  Turn.ToolUse({ name: "Write", input: { file_path: filePath, content }, ...(text ? { text } : {}) })
export const bash = (command: string, text?: string): Turn =>
  Turn.ToolUse({
    name: "Bash",
    input: { command, description: "Run a command" },
    ...(text ? { text } : {}),
  })
export const readFile = (filePath: string, text?: string): Turn =>
  Turn.ToolUse({ name: "Read", input: { file_path: filePath }, ...(text ? { text } : {}) })
/** What the API answers when the conversation no longer fits the context window. */
export const promptTooLong = (tokens = 212_345, maximum = 200_000): Turn =>
  Turn.ApiError({
    status: 400,
    errorType: "invalid_request_error",
    message: `prompt is too long: ${tokens} tokens > ${maximum} maximum`,
  })
/** A 400 that rejects the conversation itself, as after a broken transcript is resumed. */
export const invalidSession = (): Turn =>
  Turn.ApiError({
    status: 400,
    errorType: "invalid_request_error",
    message:
      "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_01. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
  })
export const invalidApiKey = (): Turn =>
  Turn.ApiError({ status: 401, errorType: "authentication_error", message: "invalid x-api-key" })

/** One request as it arrived. */
export interface RecordedRequest {
  readonly method: string
  /** Path without the query string. */
  readonly path: string
  readonly url: string
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** The body parsed as JSON, when it is JSON. */
  readonly json: Option.Option<unknown>
}

/** The parts of a Messages request the fake reads. */
const MessagesBody = Schema.Struct({
  model: Schema.String,
  stream: Schema.optional(Schema.Boolean),
  messages: Schema.Array(Schema.Unknown),
})
const decodeMessagesBody = Schema.decodeUnknownOption(MessagesBody)
const parseJson = Schema.decodeUnknownOption(Schema.parseJson())

export interface FakeAnthropicShape {
  /** `http(s)://host:port`, for ANTHROPIC_BASE_URL. */
  readonly url: string
  readonly host: string
  readonly port: number
  /** Appends turns to the script; each `POST /v1/messages` takes the next one. */
  readonly script: (turns: ReadonlyArray<Turn>) => Effect.Effect<void>
  /**
   * A standing answer: every Messages request for which `when` holds gets `turn`, before the
   * script is looked at (and without using it up). For behaviour that must hold however many
   * calls the client makes, e.g. rejecting every call of a corrupted session.
   */
  readonly answerWhen: (when: (request: RecordedRequest) => boolean, turn: Turn) => Effect.Effect<void>
  /** Turns not yet consumed. */
  readonly remaining: Effect.Effect<number>
  /** Every request so far, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** The `POST /v1/messages` requests so far, oldest first. */
  readonly messageRequests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** Forgets the recorded requests (the script stays). */
  readonly clearRequests: Effect.Effect<void>
}

export class FakeAnthropic extends Context.Tag("test/FakeAnthropic")<FakeAnthropic, FakeAnthropicShape>() {}

export interface FakeAnthropicOptions {
  /** Address to bind; 127.0.0.1 by default. Containers need the egress network's gateway. */
  readonly host?: string
  readonly port?: number
  /**
   * Serve HTTPS with this certificate (e.g. one for api.anthropic.com from a test CA), as the
   * upstream a sandbox proxy forwards to; plain HTTP when absent.
   */
  readonly tls?: { readonly certPem: string; readonly keyPem: string }
  /**
   * Delay between streamed events (none by default: each event is still its own write). The
   * delay runs on the Clock of the fiber serving the request, so give one only under the live clock.
   */
  readonly chunkDelay?: Duration.DurationInput
}

const encoder = new TextEncoder()

const sse = (event: string, data: unknown): Uint8Array =>
  encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)

/** Splits text the way a model streams it: a few characters per delta. */
const pieces = (text: string, size: number): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}

const estimateTokens = (text: string) => Math.max(1, Math.ceil(text.length / 4))

interface Block {
  readonly start: unknown
  readonly deltas: ReadonlyArray<unknown>
}

const textBlock = (text: string): Block => ({
  start: { type: "text", text: "" },
  deltas: pieces(text, 12).map((t) => ({ type: "text_delta", text: t })),
})

const toolBlock = (id: string, name: string, input: unknown): Block => ({
  start: { type: "tool_use", id, name, input: {} },
  // The real API opens with an empty partial, then sends the JSON in fragments.
  deltas: ["", ...pieces(JSON.stringify(input), 24)].map((p) => ({
    type: "input_json_delta",
    partial_json: p,
  })),
})

/** The SSE events of one successful answer, in the API's order. */
const answerEvents = (
  messageId: string,
  model: string,
  inputTokens: number,
  blocks: ReadonlyArray<Block>,
  stopReason: "end_turn" | "tool_use",
  usage: TurnUsage | undefined,
  outputEstimate: number,
): ReadonlyArray<Uint8Array> => {
  const input = usage?.input_tokens ?? inputTokens
  const cacheCreation = usage?.cache_creation_input_tokens ?? 0
  const cacheRead = usage?.cache_read_input_tokens ?? 0
  const output = usage?.output_tokens ?? outputEstimate
  const events: Array<Uint8Array> = [
    sse("message_start", {
      type: "message_start",
      message: {
        id: messageId,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: input,
          cache_creation_input_tokens: cacheCreation,
          cache_read_input_tokens: cacheRead,
          output_tokens: 1,
          service_tier: "standard",
        },
      },
    }),
    sse("ping", { type: "ping" }),
  ]
  blocks.forEach((block, index) => {
    events.push(
      sse("content_block_start", { type: "content_block_start", index, content_block: block.start }),
    )
    for (const delta of block.deltas) {
      events.push(sse("content_block_delta", { type: "content_block_delta", index, delta }))
    }
    events.push(sse("content_block_stop", { type: "content_block_stop", index }))
  })
  events.push(
    sse("message_delta", {
      type: "message_delta",
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: {
        input_tokens: input,
        cache_creation_input_tokens: cacheCreation,
        cache_read_input_tokens: cacheRead,
        output_tokens: output,
      },
    }),
    sse("message_stop", { type: "message_stop" }),
  )
  return events
}

/** The non-streaming form of the same answer (a `Message` object). */
const answerMessage = (
  messageId: string,
  model: string,
  inputTokens: number,
  content: ReadonlyArray<unknown>,
  stopReason: "end_turn" | "tool_use",
  outputTokens: number,
) => ({
  id: messageId,
  type: "message",
  role: "assistant",
  model,
  content,
  stop_reason: stopReason,
  stop_sequence: null,
  usage: {
    input_tokens: inputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: outputTokens,
    service_tier: "standard",
  },
})

const jsonResponse = (status: number, body: unknown, requestId: string) =>
  HttpServerResponse.unsafeJson(body, { status, headers: { "request-id": requestId } })

/** Starts the fake on an ephemeral port (unless `port` is given); it stops with the scope. */
export const makeFakeAnthropic = (
  options: FakeAnthropicOptions = {},
): Effect.Effect<FakeAnthropicShape, ServeError, Scope.Scope> =>
  Effect.gen(function* () {
    const host = options.host ?? "127.0.0.1"
    const chunkDelay = options.chunkDelay
    const turns = yield* Ref.make<ReadonlyArray<Turn>>([])
    const standing = yield* Ref.make<
      ReadonlyArray<{ readonly when: (request: RecordedRequest) => boolean; readonly turn: Turn }>
    >([])
    const recorded = yield* Ref.make<ReadonlyArray<RecordedRequest>>([])
    const counter = yield* Ref.make(0)

    const nextId = Ref.updateAndGet(counter, (n) => n + 1)
    const takeTurn = Ref.modify(turns, (queue): readonly [Option.Option<Turn>, ReadonlyArray<Turn>] =>
      queue.length === 0 ? [Option.none(), queue] : [Option.fromNullable(queue[0]), queue.slice(1)],
    )

    const messages = (request: RecordedRequest, requestId: string) =>
      Effect.gen(function* () {
        const body = Option.flatMap(request.json, decodeMessagesBody)
        if (Option.isNone(body)) {
          return jsonResponse(
            400,
            {
              type: "error",
              error: { type: "invalid_request_error", message: "fake API: not a Messages request body" },
            },
            requestId,
          )
        }
        const { model, stream, messages: history } = body.value
        const rule = (yield* Ref.get(standing)).find((r) => r.when(request))
        const turn = rule === undefined ? yield* takeTurn : Option.some(rule.turn)
        if (Option.isNone(turn)) {
          // A run that asks for more turns than the test scripted is a test failure; 500 would
          // make the client retry for minutes, so answer with a non-retryable status.
          return jsonResponse(
            400,
            {
              type: "error",
              error: { type: "invalid_request_error", message: "fake API: no scripted turn left" },
            },
            requestId,
          )
        }
        const n = yield* nextId
        const messageId = `msg_fake${String(n).padStart(6, "0")}`
        const inputTokens = estimateTokens(JSON.stringify(history))
        const answer = (
          blocks: ReadonlyArray<Block>,
          content: ReadonlyArray<unknown>,
          stop: "end_turn" | "tool_use",
          usage: TurnUsage | undefined,
          outputText: string,
        ) => {
          if (stream !== true) {
            return Effect.succeed(
              jsonResponse(
                200,
                answerMessage(
                  messageId,
                  model,
                  inputTokens,
                  content,
                  stop,
                  usage?.output_tokens ?? estimateTokens(outputText),
                ),
                requestId,
              ),
            )
          }
          const events = answerEvents(
            messageId,
            model,
            inputTokens,
            blocks,
            stop,
            usage,
            estimateTokens(outputText),
          )
          return Effect.succeed(
            HttpServerResponse.stream(
              chunkDelay === undefined
                ? Stream.fromIterable(events)
                : Stream.fromIterable(events).pipe(Stream.tap(() => Effect.sleep(chunkDelay))),
              {
                contentType: "text/event-stream; charset=utf-8",
                headers: { "cache-control": "no-cache", "request-id": requestId },
              },
            ),
          )
        }
        return yield* Turn.$match(turn.value, {
          Text: ({ text, usage }) =>
            answer([textBlock(text)], [{ type: "text", text }], "end_turn", usage, text),
          ToolUse: ({ name, input, text, usage }) => {
            const toolId = `toolu_fake${String(n).padStart(6, "0")}`
            const blocks = [...(text ? [textBlock(text)] : []), toolBlock(toolId, name, input)]
            const content = [
              ...(text ? [{ type: "text", text }] : []),
              { type: "tool_use", id: toolId, name, input },
            ]
            return answer(blocks, content, "tool_use", usage, `${text ?? ""}${JSON.stringify(input)}`)
          },
          ApiError: ({ status, errorType, message }) =>
            Effect.succeed(
              jsonResponse(
                status,
                { type: "error", error: { type: errorType, message }, request_id: requestId },
                requestId,
              ),
            ),
          Hang: () => Effect.never,
        })
      })

    const app = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const body = yield* request.text
      const url = new URL(request.url, "http://fake.invalid")
      const entry: RecordedRequest = {
        method: request.method,
        path: url.pathname,
        url: request.url,
        headers: { ...request.headers },
        body,
        json: body === "" ? Option.none() : parseJson(body),
      }
      yield* Ref.update(recorded, (all) => [...all, entry])
      const requestId = `req_fake${String(yield* nextId).padStart(6, "0")}`
      if (entry.method === "POST" && entry.path === "/v1/messages") {
        return yield* messages(entry, requestId)
      }
      if (entry.method === "POST" && entry.path === "/v1/messages/count_tokens") {
        return jsonResponse(200, { input_tokens: estimateTokens(body) }, requestId)
      }
      if (entry.path === "/api/hello") return jsonResponse(200, { message: "hello" }, requestId)
      // Telemetry batches: accepted and dropped.
      if (entry.path.startsWith("/api/event_logging/"))
        return jsonResponse(200, { accepted: true }, requestId)
      return jsonResponse(
        404,
        { type: "error", error: { type: "not_found_error", message: `fake API: no ${entry.path}` } },
        requestId,
      )
    })

    const nodeServer: Http.Server =
      options.tls === undefined
        ? Http.createServer()
        : Https.createServer({ cert: options.tls.certPem, key: options.tls.keyPem })
    const server = yield* NodeHttpServer.make(() => nodeServer, { host, port: options.port ?? 0 })
    // A Hang turn keeps its connection open; closing the server would wait for it forever.
    yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))
    yield* server.serve(app)
    const address = server.address
    const port = address._tag === "TcpAddress" ? address.port : 0

    const shape: FakeAnthropicShape = {
      url: `${options.tls === undefined ? "http" : "https"}://${host}:${port}`,
      host,
      port,
      script: (more) => Ref.update(turns, (queue) => [...queue, ...more]),
      answerWhen: (when, turn) => Ref.update(standing, (rules) => [...rules, { when, turn }]),
      remaining: Effect.map(Ref.get(turns), (queue) => queue.length),
      requests: Ref.get(recorded),
      messageRequests: Effect.map(Ref.get(recorded), (all) =>
        all.filter((r) => r.method === "POST" && r.path === "/v1/messages"),
      ),
      clearRequests: Ref.set(recorded, []),
    }
    return shape
  })

export const layer = (options: FakeAnthropicOptions = {}) =>
  Layer.scoped(FakeAnthropic, makeFakeAnthropic(options))
