/**
 * One IMAP connection as Effects (imapflow underneath), and the loop that keeps one open:
 * connect with capped exponential backoff, watch the inbox with IDLE (or polling), renew the
 * connection every `idle_reconnect_interval`, and report health on the way.
 */
import {
  Data,
  Deferred,
  Duration,
  Effect,
  FiberSet,
  Option,
  Queue,
  Redacted,
  Ref,
  Schedule,
  type Scope,
  SubscriptionRef,
} from "effect"
import { ImapFlow } from "imapflow"
import type { ChannelHealth } from "../../schema/ChannelHealth.js"
import type { EmailConfig } from "../../schema/ServerConfig.js"

/** The connection failed or was lost; the loop reconnects. */
export class ImapFailure extends Data.TaggedError("ImapFailure")<{
  readonly operation: string
  readonly cause: unknown
}> {
  override get message(): string {
    const detail = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `IMAP ${this.operation} failed: ${detail}`
  }
}

export interface ImapSettings {
  readonly config: EmailConfig
  readonly trustedCa: string | undefined
  /** First reconnect delay; each next one is 3 times longer, up to `reconnectCap`. */
  readonly reconnectBase: Duration.DurationInput
  readonly reconnectCap: Duration.DurationInput
}

export interface FetchedMeta {
  readonly uid: number
  readonly size: number
  readonly flags: ReadonlySet<string>
  readonly internalDate: Option.Option<Date>
}

/** An open, selected INBOX. Every method fails with ImapFailure when the connection is gone. */
export interface ImapConnection {
  readonly uidValidity: string
  readonly supportsIdle: boolean
  /** UIDs of the messages not marked deleted and without `withoutKeyword`, ascending. */
  readonly searchUids: (withoutKeyword: string) => Effect.Effect<ReadonlyArray<number>, ImapFailure>
  readonly fetchMeta: (uid: number) => Effect.Effect<Option.Option<FetchedMeta>, ImapFailure>
  /** The whole message, or only its header section. */
  readonly fetchRaw: (
    uid: number,
    part: "source" | "headers",
  ) => Effect.Effect<Option.Option<Uint8Array>, ImapFailure>
  readonly addFlag: (uid: number, flag: string) => Effect.Effect<void, ImapFailure>
  /** Deletes the messages, or moves them to `folder`. */
  readonly settle: (
    uids: ReadonlyArray<number>,
    folder: Option.Option<string>,
  ) => Effect.Effect<void, ImapFailure>
  /**
   * Waits until the mailbox may have changed, `wake` is signalled, or `until` passes
   * (`"renew"`). With IDLE (used unless `forcePoll` is given or the server lacks it) new mail
   * ends the wait at once; without, the wait ends after the poll interval.
   */
  readonly waitForChange: (
    wake: Queue.Dequeue<void>,
    forcePoll: Option.Option<Duration.Duration>,
    fallbackPoll: Duration.Duration,
    until: Duration.Duration,
  ) => Effect.Effect<"changed" | "renew", ImapFailure>
  /** Fails when the server closes the connection or it errors. */
  readonly lost: Effect.Effect<never, ImapFailure>
}

const attempt = <A>(operation: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (cause) => new ImapFailure({ operation, cause }) })

/** Opens a connection and selects INBOX; closed (logout, then socket) when the scope closes. */
export const openImap = (
  settings: ImapSettings,
  wake: Queue.Enqueue<void>,
): Effect.Effect<ImapConnection, ImapFailure, Scope.Scope> =>
  Effect.gen(function* () {
    const { config } = settings
    const run = yield* FiberSet.makeRuntime<never>()
    const lost = yield* Deferred.make<never, ImapFailure>()
    const password = config.account.password
    const client = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new ImapFlow({
            host: config.imap.server,
            port: config.imap.port,
            secure: true,
            auth: {
              user: config.account.username,
              pass: password === undefined ? "" : Redacted.value(password),
            },
            logger: false,
            disableAutoIdle: true,
            clientInfo: { name: "airut" },
            connectionTimeout: 30_000,
            greetingTimeout: 16_000,
            tls: {
              minVersion: "TLSv1.2",
              ...(settings.trustedCa === undefined ? {} : { ca: [settings.trustedCa] }),
            },
          }),
      ),
      (c) =>
        Effect.tryPromise(() => c.logout()).pipe(
          Effect.timeout("5 seconds"),
          Effect.catchAllCause((cause) => Effect.logDebug("IMAP logout did not complete", cause)),
          Effect.ensuring(Effect.sync(() => c.close())),
        ),
    )
    // imapflow reports a dead connection by events; an unheard "error" event would crash Node.
    client.on("error", (cause: unknown) =>
      run(Deferred.fail(lost, new ImapFailure({ operation: "connection", cause }))),
    )
    client.on("close", () =>
      run(Deferred.fail(lost, new ImapFailure({ operation: "connection", cause: "closed by the server" }))),
    )
    client.on("exists", () => run(Queue.offer(wake, undefined)))

    yield* attempt("connect", () => client.connect())
    const mailbox = yield* attempt("select INBOX", () => client.mailboxOpen("INBOX"))
    const processed = config.processed_folder
    if (processed !== undefined) {
      const folders = yield* attempt("list folders", () => client.list())
      if (!folders.some((f) => f.path === processed)) {
        yield* attempt(`create folder ${processed}`, () => client.mailboxCreate(processed))
      }
    }
    const failed = Deferred.await(lost)

    const connection: ImapConnection = {
      uidValidity: mailbox.uidValidity.toString(),
      supportsIdle: client.capabilities.has("IDLE"),
      searchUids: (withoutKeyword) =>
        attempt("search", () =>
          client.search({ deleted: false, unKeyword: withoutKeyword }, { uid: true }),
        ).pipe(
          Effect.filterOrFail(
            (uids): uids is Array<number> => Array.isArray(uids),
            () => new ImapFailure({ operation: "search", cause: "the server refused" }),
          ),
          Effect.map((uids) => [...uids].sort((a, b) => a - b)),
        ),
      fetchMeta: (uid) =>
        attempt("fetch", () =>
          client.fetchOne(
            String(uid),
            { uid: true, size: true, flags: true, internalDate: true },
            { uid: true },
          ),
        ).pipe(
          Effect.map((m) =>
            m === false
              ? Option.none()
              : Option.some({
                  uid: m.uid,
                  size: m.size ?? 0,
                  flags: m.flags ?? new Set<string>(),
                  internalDate: Option.fromNullable(m.internalDate).pipe(
                    Option.map((d) => (d instanceof Date ? d : new Date(d))),
                    Option.filter((d) => !Number.isNaN(d.getTime())),
                  ),
                }),
          ),
        ),
      fetchRaw: (uid, part) =>
        attempt("fetch", () =>
          client.fetchOne(String(uid), part === "source" ? { source: true } : { headers: true }, {
            uid: true,
          }),
        ).pipe(
          Effect.map((m) => {
            const bytes = m === false ? undefined : part === "source" ? m.source : m.headers
            return bytes === undefined
              ? Option.none()
              : Option.some(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
          }),
        ),
      addFlag: (uid, flag) =>
        attempt("store flags", () => client.messageFlagsAdd(String(uid), [flag], { uid: true })).pipe(
          Effect.asVoid,
        ),
      settle: (uids, folder) =>
        uids.length === 0
          ? Effect.void
          : Option.match(folder, {
              onNone: () =>
                attempt("delete", () => client.messageDelete(uids.join(","), { uid: true })).pipe(
                  Effect.filterOrFail(
                    (ok) => ok,
                    () => new ImapFailure({ operation: "delete", cause: "the server refused" }),
                  ),
                  Effect.asVoid,
                ),
              onSome: (f) =>
                attempt(`move to ${f}`, () => client.messageMove(uids.join(","), f, { uid: true })).pipe(
                  Effect.filterOrFail(
                    (moved) => moved !== false,
                    () => new ImapFailure({ operation: `move to ${f}`, cause: "the server refused" }),
                  ),
                  Effect.asVoid,
                ),
            }),
      waitForChange: (wakeQueue, forcePoll, fallbackPoll, until) => {
        const renew = Effect.sleep(until).pipe(Effect.as("renew" as const))
        const woken = Queue.take(wakeQueue).pipe(Effect.as("changed" as const))
        const poll = Option.isSome(forcePoll)
          ? Option.some(forcePoll.value)
          : client.capabilities.has("IDLE")
            ? Option.none()
            : Option.some(fallbackPoll)
        if (Option.isSome(poll)) {
          return Effect.raceAll([woken, renew, Effect.sleep(poll.value).pipe(Effect.as("changed" as const))])
        }
        // IDLE ends when the next command is sent (imapflow breaks it first), so leaving the
        // race is enough; if the server ends it by itself we look at the mailbox again.
        const idle = attempt("IDLE", () => client.idle()).pipe(Effect.as("changed" as const))
        return Effect.raceAll([woken, renew, idle])
      },
      lost: failed,
    }
    return connection
  })

export interface ImapLoopInput {
  readonly settings: ImapSettings
  readonly health: SubscriptionRef.SubscriptionRef<ChannelHealth>
  readonly wake: Queue.Queue<void>
  /** Runs on each connection until it returns (renewal) or fails (lost connection). */
  readonly session: (connection: ImapConnection) => Effect.Effect<void, ImapFailure>
}

/**
 * Keeps a connection open forever. Connecting is retried with `Schedule`: delays of
 * base, 3×base, 9×base, ... capped; after `connect_retries` failed attempts in a row the health
 * says Failed (it keeps trying: a mail server back from maintenance is picked up again). A
 * lost connection is reconnected at once, then with the same backoff.
 */
export const runImapLoop = (input: ImapLoopInput): Effect.Effect<never> =>
  Effect.gen(function* () {
    const { settings, health } = input
    const failures = yield* Ref.make(0)
    const backoff = Schedule.exponential(settings.reconnectBase, 3).pipe(
      Schedule.union(Schedule.spaced(settings.reconnectCap)),
    )
    const onConnectFailure = (e: ImapFailure) =>
      Effect.gen(function* () {
        const n = yield* Ref.updateAndGet(failures, (k) => k + 1)
        const reason = `${e.message} (attempt ${n})`
        yield* SubscriptionRef.set(
          health,
          n > settings.config.imap.connect_retries
            ? { _tag: "Failed", reason }
            : { _tag: "Degraded", reason },
        )
        yield* Effect.logWarning(`email channel: ${reason}; retrying`)
      })
    const oneConnection = Effect.scoped(
      Effect.gen(function* () {
        const connection = yield* openImap(settings, input.wake).pipe(
          Effect.tapError(onConnectFailure),
          Effect.retry(backoff),
        )
        yield* Ref.set(failures, 0)
        yield* SubscriptionRef.set(health, { _tag: "Connected" })
        yield* Effect.raceFirst(input.session(connection), connection.lost)
      }),
    )
    return yield* oneConnection.pipe(
      Effect.catchTag("ImapFailure", (e) =>
        Effect.gen(function* () {
          yield* SubscriptionRef.set(health, { _tag: "Degraded", reason: `${e.message}; reconnecting` })
          yield* Effect.logWarning(`email channel: ${e.message}; reconnecting`)
        }),
      ),
      Effect.forever,
    )
  })

/** Remaining time until the connection should be renewed. */
export const renewalAfter = (config: EmailConfig): Duration.Duration =>
  Duration.seconds(config.imap.idle_reconnect_interval)
