import * as Http from "node:http"
import { HttpServerRequest, HttpServerResponse, Socket } from "@effect/platform"
import type { ServeError } from "@effect/platform/HttpServerError"
import { NodeHttpServer } from "@effect/platform-node"
import { Clock, Effect, Exit, Option, Ref, Schedule, Scope } from "effect"

/**
 * A local stand-in for Slack that the real `@slack/web-api` and `@slack/socket-mode` clients
 * talk to (their `slackApiUrl` points here). Web API methods answer from a small directory of
 * users and groups and record every call; `apps.connections.open` hands out a `ws://` URL of
 * this server, whose Socket Mode connection says `hello`, carries event envelopes the test
 * pushes (the real envelope shape) and records the client's acknowledgements. Tests can make
 * the next calls of a method fail (`429` with `Retry-After`, `ok: false`), drop every live
 * connection, and serve files at `url_private` URLs that demand the bot token.
 */

export const botToken = "xoxb-fake-bot-token"
export const appToken = "xapp-fake-app-token"
export const botUserId = "UBOT0001"
export const teamId = "T0000001"

export interface FakeUser {
  readonly id: string
  readonly name: string
  readonly teamId?: string
  readonly deleted?: boolean
  readonly isBot?: boolean
  readonly restricted?: boolean
  readonly ultraRestricted?: boolean
}

export interface FakeGroup {
  readonly id: string
  readonly handle: string
  readonly users: ReadonlyArray<string>
}

/** One Web API call as it arrived: the method and its form fields. */
export interface RecordedCall {
  readonly method: string
  readonly params: Readonly<Record<string, string>>
  readonly authorization: string
  /** Time of arrival (ms, the server's clock). */
  readonly at: number
}

export interface Upload {
  readonly fileId: string
  readonly filename: string
  readonly bytes: Uint8Array
}

/** What a scripted failure answers instead of the method. */
export type Failure =
  | { readonly _tag: "RateLimited"; readonly retryAfterSeconds: number }
  | { readonly _tag: "Platform"; readonly error: string }

export interface FakeSlackShape {
  /** The Web API base URL (`http://127.0.0.1:PORT/api/`). */
  readonly apiUrl: string
  readonly origin: string
  readonly addUser: (user: FakeUser) => Effect.Effect<void>
  readonly addGroup: (group: FakeGroup) => Effect.Effect<void>
  /** A file served at the returned `url_private` (bot token required). */
  readonly addFile: (name: string, bytes: Uint8Array) => Effect.Effect<string>
  /** The next `times` calls of `method` fail this way. */
  readonly failNext: (method: string, failure: Failure, times?: number) => Effect.Effect<void>
  /** Sends an Events API envelope on every open connection; returns its envelope id. */
  readonly pushEvent: (event: Readonly<Record<string, unknown>>) => Effect.Effect<string>
  readonly acks: Effect.Effect<ReadonlyArray<string>>
  readonly calls: Effect.Effect<ReadonlyArray<RecordedCall>>
  readonly callsOf: (method: string) => Effect.Effect<ReadonlyArray<RecordedCall>>
  readonly uploads: Effect.Effect<ReadonlyArray<Upload>>
  /** Open Socket Mode connections now, and how many were ever opened. */
  readonly connections: Effect.Effect<{ readonly open: number; readonly opened: number }>
  /** Closes every Socket Mode connection (a close frame), as Slack does when it recycles. */
  readonly dropConnections: Effect.Effect<void>
  /** Refuse new Socket Mode connections (`apps.connections.open` fails) while true. */
  readonly setRefusing: (refusing: boolean) => Effect.Effect<void>
}

interface ScriptedFailure {
  readonly method: string
  readonly failure: Failure
}

interface Connection {
  readonly id: number
  readonly send: (text: string) => Effect.Effect<void>
  readonly close: Effect.Effect<void>
}

const ok = (body: Readonly<Record<string, unknown>>) => HttpServerResponse.unsafeJson({ ok: true, ...body })
const notOk = (error: string) => HttpServerResponse.unsafeJson({ ok: false, error })

const parseJsonArray = (text: string | undefined): ReadonlyArray<unknown> => {
  if (text === undefined) return []
  try {
    const parsed: unknown = JSON.parse(text)
    return Array.isArray(parsed) ? parsed : []
  } catch {
    return []
  }
}

export const makeFakeSlack = (): Effect.Effect<FakeSlackShape, ServeError, Scope.Scope> =>
  Effect.gen(function* () {
    const users = yield* Ref.make(new Map<string, FakeUser>())
    const groups = yield* Ref.make<ReadonlyArray<FakeGroup>>([])
    const files = yield* Ref.make(new Map<string, Uint8Array>())
    const calls = yield* Ref.make<ReadonlyArray<RecordedCall>>([])
    const failures = yield* Ref.make<ReadonlyArray<ScriptedFailure>>([])
    const acks = yield* Ref.make<ReadonlyArray<string>>([])
    const uploads = yield* Ref.make<ReadonlyArray<Upload>>([])
    const pendingUploads = yield* Ref.make(new Map<string, string>())
    const connections = yield* Ref.make<ReadonlyArray<Connection>>([])
    const opened = yield* Ref.make(0)
    const refusing = yield* Ref.make(false)
    const counter = yield* Ref.make(0)
    const next = Ref.updateAndGet(counter, (n) => n + 1)
    let origin = ""

    const nextTs = Effect.map(
      next,
      (n) => `1700000${String(n).padStart(3, "0")}.${String(n).padStart(6, "0")}`,
    )

    const takeFailure = (method: string) =>
      Ref.modify(failures, (all): readonly [Option.Option<Failure>, ReadonlyArray<ScriptedFailure>] => {
        const at = all.findIndex((f) => f.method === method)
        if (at < 0) return [Option.none(), all]
        const found = all[at]
        return [Option.fromNullable(found?.failure), [...all.slice(0, at), ...all.slice(at + 1)]]
      })

    const userJson = (u: FakeUser) => ({
      id: u.id,
      team_id: u.teamId ?? teamId,
      name: u.name.toLowerCase(),
      real_name: u.name,
      deleted: u.deleted === true,
      is_bot: u.isBot === true,
      is_restricted: u.restricted === true,
      is_ultra_restricted: u.ultraRestricted === true,
      profile: { display_name: u.name, real_name: u.name },
    })

    const method = (name: string, params: Readonly<Record<string, string>>) =>
      Effect.gen(function* () {
        switch (name) {
          case "auth.test":
            return ok({ user_id: botUserId, team_id: teamId, bot_id: "BFAKE", team: "Fake", user: "airut" })
          case "apps.connections.open": {
            if (yield* Ref.get(refusing)) return HttpServerResponse.text("unavailable", { status: 503 })
            const n = yield* next
            return ok({ url: `${origin.replace(/^http/, "ws")}/socket/${n}` })
          }
          case "users.info": {
            const user = (yield* Ref.get(users)).get(params.user ?? "")
            return user === undefined ? notOk("user_not_found") : ok({ user: userJson(user) })
          }
          case "usergroups.list":
            return ok({ usergroups: (yield* Ref.get(groups)).map((g) => ({ id: g.id, handle: g.handle })) })
          case "usergroups.users.list": {
            const group = (yield* Ref.get(groups)).find((g) => g.id === params.usergroup)
            return group === undefined ? notOk("no_such_subteam") : ok({ users: group.users })
          }
          case "chat.postMessage": {
            const ts = yield* nextTs
            return ok({ channel: params.channel, ts, message: { text: params.text, ts } })
          }
          case "chat.update":
            return ok({ channel: params.channel, ts: params.ts })
          case "assistant.threads.setStatus":
          case "assistant.threads.setTitle":
          case "reactions.add":
          case "reactions.remove":
            return ok({})
          case "files.getUploadURLExternal": {
            const fileId = `F${yield* next}`
            yield* Ref.update(pendingUploads, (m) => new Map(m).set(fileId, params.filename ?? ""))
            return ok({ upload_url: `${origin}/upload/${fileId}`, file_id: fileId })
          }
          case "files.completeUploadExternal": {
            const listed = parseJsonArray(params.files)
            return ok({ files: listed })
          }
          default:
            return notOk("unknown_method")
        }
      })

    const onSocketMessage = (data: string | Uint8Array) => {
      const text = typeof data === "string" ? data : new TextDecoder().decode(data)
      try {
        const parsed: unknown = JSON.parse(text)
        const id =
          typeof parsed === "object" && parsed !== null && "envelope_id" in parsed
            ? parsed.envelope_id
            : undefined
        if (typeof id === "string") return Ref.update(acks, (all) => [...all, id])
      } catch {
        // Not JSON: nothing a Socket Mode client sends.
      }
      return Effect.void
    }

    const socketSession = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.scoped(
        Effect.gen(function* () {
          const socket = yield* request.upgrade
          const write = yield* socket.writer
          const id = yield* next
          const connection: Connection = {
            id,
            send: (text) => write(text).pipe(Effect.catchAll(() => Effect.void)),
            close: write(new Socket.CloseEvent(1001, "going away")).pipe(Effect.catchAll(() => Effect.void)),
          }
          yield* Ref.update(connections, (all) => [...all, connection])
          yield* Ref.update(opened, (n) => n + 1)
          yield* socket
            .runRaw(onSocketMessage, {
              onOpen: connection.send(
                JSON.stringify({ type: "hello", num_connections: 1, connection_info: { app_id: "AFAKE" } }),
              ),
            })
            .pipe(
              Effect.catchAll(() => Effect.void),
              Effect.ensuring(Ref.update(connections, (all) => all.filter((c) => c.id !== id))),
            )
          return HttpServerResponse.empty()
        }),
      )

    const app = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const url = new URL(request.url, "http://fake.invalid")
      if (url.pathname.startsWith("/socket/")) return yield* socketSession(request)
      const authorization = request.headers.authorization ?? ""
      if (url.pathname.startsWith("/upload/")) {
        const fileId = url.pathname.slice("/upload/".length)
        const body = new Uint8Array(yield* request.arrayBuffer)
        const filename = (yield* Ref.get(pendingUploads)).get(fileId) ?? ""
        yield* Ref.update(uploads, (all) => [...all, { fileId, filename, bytes: body }])
        return HttpServerResponse.text("OK - uploaded")
      }
      if (url.pathname.startsWith("/files/")) {
        if (authorization !== `Bearer ${botToken}`)
          return HttpServerResponse.text("forbidden", { status: 403 })
        const bytes = (yield* Ref.get(files)).get(decodeURIComponent(url.pathname.slice("/files/".length)))
        return bytes === undefined
          ? HttpServerResponse.text("not found", { status: 404 })
          : HttpServerResponse.uint8Array(bytes, { contentType: "application/octet-stream" })
      }
      if (!url.pathname.startsWith("/api/")) return HttpServerResponse.text("not found", { status: 404 })
      const name = url.pathname.slice("/api/".length)
      const body = yield* request.text
      const params: Record<string, string> = Object.fromEntries(new URLSearchParams(body))
      for (const [k, v] of url.searchParams) params[k] = v
      const at = yield* Clock.currentTimeMillis
      yield* Ref.update(calls, (all) => [...all, { method: name, params, authorization, at }])
      const expected = name === "apps.connections.open" ? `Bearer ${appToken}` : `Bearer ${botToken}`
      if (authorization !== expected) return notOk("invalid_auth")
      const failure = yield* takeFailure(name)
      if (Option.isSome(failure)) {
        return failure.value._tag === "RateLimited"
          ? HttpServerResponse.unsafeJson(
              { ok: false, error: "ratelimited" },
              { status: 429, headers: { "retry-after": String(failure.value.retryAfterSeconds) } },
            )
          : notOk(failure.value.error)
      }
      return yield* method(name, params)
    }).pipe(Effect.catchAll(() => Effect.succeed(HttpServerResponse.text("bad request", { status: 400 }))))

    // The server lives in a scope of its own, closed by the one finalizer below once every
    // Socket Mode connection is gone: the platform's WebSocket server registers its release
    // lazily (at the first upgrade), and that release waits for all clients to leave, so in
    // the caller's scope it would run first and wait forever on a still-connected client.
    const nodeServer = Http.createServer()
    const serverScope = yield* Scope.make()
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* Ref.set(refusing, true)
        for (const c of yield* Ref.get(connections))
          yield* c.close.pipe(Effect.timeout("1 second"), Effect.ignore)
        yield* Ref.get(connections).pipe(
          Effect.repeat({ until: (open) => open.length === 0, schedule: Schedule.spaced("10 millis") }),
          Effect.timeout("2 seconds"),
          Effect.ignore,
        )
        nodeServer.closeAllConnections()
        yield* Scope.close(serverScope, Exit.void)
      }),
    )
    const server = yield* NodeHttpServer.make(() => nodeServer, { host: "127.0.0.1", port: 0 }).pipe(
      Scope.extend(serverScope),
    )
    yield* server.serve(app).pipe(Scope.extend(serverScope))
    const address = server.address
    const port = address._tag === "TcpAddress" ? address.port : 0
    origin = `http://127.0.0.1:${port}`

    const shape: FakeSlackShape = {
      apiUrl: `${origin}/api/`,
      origin,
      addUser: (user) => Ref.update(users, (m) => new Map(m).set(user.id, user)),
      addGroup: (group) => Ref.update(groups, (all) => [...all, group]),
      addFile: (name, bytes) =>
        Effect.as(
          Ref.update(files, (m) => new Map(m).set(name, bytes)),
          `${origin}/files/${encodeURIComponent(name)}`,
        ),
      failNext: (m, failure, times = 1) =>
        Ref.update(failures, (all) => [
          ...all,
          ...Array.from({ length: times }, () => ({ method: m, failure })),
        ]),
      pushEvent: (event) =>
        Effect.gen(function* () {
          const n = yield* next
          const envelopeId = `env-${n}`
          const envelope = {
            envelope_id: envelopeId,
            type: "events_api",
            accepts_response_payload: false,
            retry_attempt: 0,
            retry_reason: "",
            payload: {
              token: "verification",
              team_id: teamId,
              api_app_id: "AFAKE",
              type: "event_callback",
              event_id: `Ev${n}`,
              event_time: 1700000000,
              event,
            },
          }
          for (const c of yield* Ref.get(connections)) yield* c.send(JSON.stringify(envelope))
          return envelopeId
        }),
      acks: Ref.get(acks),
      calls: Ref.get(calls),
      callsOf: (m) => Effect.map(Ref.get(calls), (all) => all.filter((c) => c.method === m)),
      uploads: Ref.get(uploads),
      connections: Effect.all({
        open: Effect.map(Ref.get(connections), (c) => c.length),
        opened: Ref.get(opened),
      }),
      dropConnections: Effect.flatMap(Ref.get(connections), (all) =>
        Effect.forEach(all, (c) => c.close),
      ).pipe(Effect.asVoid),
      setRefusing: (r) => Ref.set(refusing, r),
    }
    return shape
  })
