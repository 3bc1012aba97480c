import { NodeContext } from "@effect/platform-node"
import { SqlClient, SqlError, SqlSchema } from "@effect/sql"
import { SqliteClient, SqliteMigrator } from "@effect/sql-sqlite-node"
import {
  Cause,
  DateTime,
  Duration,
  Effect,
  Layer,
  Option,
  ParseResult,
  Random,
  Schedule,
  Schema,
  String as Str,
} from "effect"
import { AgentEventRow } from "../schema/AgentEventRow.js"
import { Conversation, ThreadKeyQuery } from "../schema/Conversation.js"
import { ConversationId, randomConversationId } from "../schema/ConversationId.js"
import type { LogScope } from "../schema/LogScope.js"
import { NetworkLogEntry, NewNetworkLogEntry } from "../schema/NetworkLogEntry.js"
import { Rejection } from "../schema/Rejection.js"
import { Reply, ReplyUsage } from "../schema/Reply.js"
import { Task } from "../schema/Task.js"
import { randomTaskId, TaskId } from "../schema/TaskId.js"
import {
  ConversationNotFound,
  ConversationStore,
  type ConversationStoreShape,
  StoreError,
  TaskAlreadyCompleted,
  TaskNotFound,
} from "../services/ConversationStore.js"
import m0001 from "./migrations/0001_initial.js"

export interface SqliteStoreOptions {
  /** The database file; created with the schema on first open. */
  readonly filename: string
  /**
   * How long one statement waits for another connection's write lock before failing busy; the
   * store then retries with backoff (up to ~20 s in all). better-sqlite3 waits synchronously,
   * blocking the event loop, so keep it short: longer waits belong to the async retry.
   * Default 100 ms.
   */
  readonly busyTimeout?: Duration.DurationInput
}

const loader = SqliteMigrator.fromRecord({ "0001_initial": m0001 })

const DEFAULT_BUSY_TIMEOUT = Duration.millis(100)
const DEFAULT_LIMIT = 100
// Ids are short; a collision is rare but possible. Give up loudly rather than loop forever.
const ID_ATTEMPTS = 8

/**
 * better-sqlite3 waits for a lock synchronously, so inside one process a connection waiting on
 * another one's open transaction blocks the very event loop that would finish it; and a
 * deferred transaction that read first fails at once (SQLITE_BUSY_SNAPSHOT) when another
 * connection wrote meanwhile. Both end in SQLITE_BUSY with nothing written, so the whole
 * operation is retried after an asynchronous pause.
 */
const BusyCause = Schema.Struct({ code: Schema.String.pipe(Schema.startsWith("SQLITE_BUSY")) })
const isBusyCause = Schema.is(BusyCause)
const isBusy = (error: unknown): boolean => error instanceof SqlError.SqlError && isBusyCause(error.cause)
type DbError = SqlError.SqlError | ParseResult.ParseError
const isDbError = <E>(error: E): error is Extract<E, DbError> =>
  error instanceof SqlError.SqlError || error instanceof ParseResult.ParseError
const busyRetry = Schedule.exponential("10 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(10)),
)

// Rows carry their lists and JSON as text; decoded they are the domain shapes.
const ConversationRow = Schema.Struct({
  ...Conversation.fields,
  threadKeys: Schema.parseJson(Schema.Array(Schema.String)),
})
const ReplyRow = Schema.Struct({ ...Reply.fields, usage: Schema.parseJson(ReplyUsage) })

const decodeTasks = Schema.decodeUnknown(Schema.Array(Task))
const decodeReply = Schema.decodeUnknown(ReplyRow)
const decodeRejection = Schema.decodeUnknown(Rejection)
const decodeEvents = Schema.decodeUnknown(Schema.Array(AgentEventRow))
const decodeNetwork = Schema.decodeUnknown(Schema.Array(NetworkLogEntry))
const encodeUsage = Schema.encode(Schema.parseJson(ReplyUsage))
const encodeNetwork = Schema.encode(Schema.parseJson(Schema.Array(NewNetworkLogEntry)))
const JournalMode = Schema.Struct({ journalMode: Schema.String })

const CONVERSATION_COLUMNS = `c.id, c.repo_id, c.channel, c.model, c.effort, c.session_id, c.created_at,
  c.updated_at, (SELECT json_group_array(k.thread_key ORDER BY k.seq) FROM thread_keys k
  WHERE k.conversation_id = c.id) AS thread_keys`
const TASK_COLUMNS = `id, conversation_id, state, completion_reason, completion_detail, sender, title,
  queued_at, started_at, completed_at`
const REPLY_COLUMNS = `conversation_id, reply_index AS "index", task_id, session_id, at, duration_ms,
  cost_usd, turns, usage, request_text, response_text, outcome`
const EVENT_COLUMNS = `seq AS "offset", task_id, conversation_id, at, line`
const NETWORK_COLUMNS = `seq AS "offset", task_id, conversation_id, at, verdict, method, host, path, status,
  bytes, duration_ms, swapped_secrets`
const REJECTION_COLUMNS = `seq AS id, channel, repo_id, sender, reason, detail, channel_message_id, at`

const nowMillis = Effect.map(DateTime.now, DateTime.toEpochMillis)

const first = <A>(rows: ReadonlyArray<A>): Option.Option<A> => Option.fromNullable(rows[0])

/**
 * The store on one SQLite connection (WAL, foreign keys on). Each method is one statement or
 * one transaction, so a failure leaves nothing half-written.
 */
export const makeSqliteStore = (options: Pick<SqliteStoreOptions, "busyTimeout">) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    // Per connection, and only outside a transaction: set before any store operation runs.
    yield* sql`PRAGMA foreign_keys = ON`
    const busyMillis = Math.max(0, Math.round(Duration.toMillis(options.busyTimeout ?? DEFAULT_BUSY_TIMEOUT)))
    yield* sql.unsafe(`PRAGMA busy_timeout = ${busyMillis}`)
    const journal = yield* SqlSchema.single({
      Request: Schema.Void,
      Result: JournalMode,
      execute: () => sql`PRAGMA journal_mode`,
    })(undefined)
    if (journal.journalMode !== "wal") {
      // Still correct, but readers then block the writer (the dashboard would stall tasks).
      yield* Effect.logWarning(`conversation store is not in WAL mode (journal_mode=${journal.journalMode})`)
    }

    const conversationColumns = sql.literal(CONVERSATION_COLUMNS)
    const taskColumns = sql.literal(TASK_COLUMNS)

    /** Retries while busy; SQL and row-decoding failures become StoreError. */
    const run =
      (operation: string) =>
      <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, Exclude<E, Extract<E, DbError>> | StoreError> =>
        effect.pipe(
          Effect.retry({ schedule: busyRetry, while: isBusy }),
          Effect.catchIf(isDbError<E>, (cause) => Effect.fail(new StoreError({ operation, cause }))),
        )

    /** `run` on one transaction: a typed failure inside rolls it back too. */
    const write =
      (operation: string) =>
      <A, E>(effect: Effect.Effect<A, E>) =>
        run(operation)(sql.withTransaction(effect))

    const freshId = <Id, A, E>(
      operation: string,
      fresh: Effect.Effect<Id>,
      insert: (id: Id) => Effect.Effect<Option.Option<A>, E>,
    ): Effect.Effect<A, E | StoreError> =>
      fresh.pipe(
        Effect.flatMap(insert),
        Effect.repeat({ until: Option.isSome, times: ID_ATTEMPTS - 1 }),
        Effect.flatMap(
          Option.match({
            onNone: () => new StoreError({ operation, cause: `no free id after ${ID_ATTEMPTS} attempts` }),
            onSome: Effect.succeed,
          }),
        ),
      )

    const findConversation = SqlSchema.findOne({
      Request: ConversationId,
      Result: ConversationRow,
      execute: (id) => sql`SELECT ${conversationColumns} FROM conversations c WHERE c.id = ${id}`,
    })

    const findTask = SqlSchema.findOne({
      Request: TaskId,
      Result: Task,
      execute: (id) => sql`SELECT ${taskColumns} FROM tasks WHERE id = ${id}`,
    })

    const requireConversation = (id: ConversationId) =>
      Effect.flatMap(
        sql`SELECT 1 AS found FROM conversations WHERE id = ${id}`,
        (rows): Effect.Effect<void, ConversationNotFound> =>
          rows.length > 0 ? Effect.void : Effect.fail(new ConversationNotFound({ id })),
      )

    /** Gives the keys nobody owns yet (on the conversation's channel and repo) to `id`, in order. */
    const claimKeys = (id: ConversationId, keys: ReadonlyArray<string>) =>
      keys.length === 0
        ? Effect.void
        : Effect.asVoid(sql`INSERT INTO thread_keys (channel, repo_id, thread_key, conversation_id)
            SELECT c.channel, c.repo_id, j.value, c.id
            FROM conversations c, json_each(${JSON.stringify(keys)}) j
            WHERE c.id = ${id}
            ORDER BY j.key
            ON CONFLICT (channel, repo_id, thread_key) DO NOTHING`)

    const touch = (id: ConversationId, now: number) =>
      sql`UPDATE conversations SET updated_at = ${now} WHERE id = ${id}`

    const createConversation: ConversationStoreShape["createConversation"] = Effect.fn(
      "ConversationStore.createConversation",
    )(function* (input) {
      const now = yield* nowMillis
      return yield* freshId("createConversation", randomConversationId, (id) =>
        write("createConversation")(
          Effect.gen(function* () {
            const inserted = yield* sql`INSERT INTO conversations
              (id, repo_id, channel, model, effort, session_id, created_at, updated_at)
              VALUES (${id}, ${input.repoId}, ${input.channel}, ${input.model}, ${input.effort ?? null},
                NULL, ${now}, ${now})
              ON CONFLICT (id) DO NOTHING
              RETURNING id`
            if (inserted.length === 0) return Option.none()
            yield* claimKeys(id, input.threadKeys)
            return yield* findConversation(id)
          }),
        ),
      )
    })

    const getConversation: ConversationStoreShape["getConversation"] = (id) =>
      findConversation(id).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.fail(new ConversationNotFound({ id })),
            onSome: Effect.succeed,
          }),
        ),
        run("getConversation"),
        Effect.withSpan("ConversationStore.getConversation"),
      )

    const findByThreadKey: ConversationStoreShape["findByThreadKey"] = (query) =>
      SqlSchema.findOne({
        Request: ThreadKeyQuery,
        Result: ConversationRow,
        execute: (q) => sql`SELECT ${conversationColumns} FROM conversations c WHERE c.id = (
          SELECT k.conversation_id FROM json_each(${JSON.stringify(q.keys)}) j
          JOIN thread_keys k ON k.channel = ${q.channel} AND k.repo_id = ${q.repoId} AND k.thread_key = j.value
          ORDER BY j.key
          LIMIT 1)`,
      })(query).pipe(run("findByThreadKey"), Effect.withSpan("ConversationStore.findByThreadKey"))

    const addThreadKeys: ConversationStoreShape["addThreadKeys"] = (id, keys) =>
      write("addThreadKeys")(Effect.zipRight(claimKeys(id, keys), requireConversation(id))).pipe(
        Effect.withSpan("ConversationStore.addThreadKeys"),
      )

    const setSession: ConversationStoreShape["setSession"] = Effect.fn("ConversationStore.setSession")(
      function* (id, sessionId) {
        const now = yield* nowMillis
        const updated = yield* run("setSession")(
          sql`UPDATE conversations SET session_id = ${sessionId}, updated_at = ${now} WHERE id = ${id} RETURNING id`,
        )
        if (updated.length === 0) return yield* new ConversationNotFound({ id })
      },
    )

    const recordInbound: ConversationStoreShape["recordInbound"] = Effect.fn(
      "ConversationStore.recordInbound",
    )(function* (input) {
      const now = yield* nowMillis
      return yield* write("recordInbound")(
        Effect.gen(function* () {
          // Conflict on (channel, channel_message_id) means seen before: insert nothing.
          const inserted = yield* sql`INSERT INTO inbound_messages
              (channel, channel_message_id, repo_id, conversation_id, sender, received_at)
              SELECT ${input.channel}, ${input.channelMessageId}, ${input.repoId}, c.id, ${input.sender}, ${now}
              FROM conversations c WHERE c.id = ${input.conversationId}
              ON CONFLICT (channel, channel_message_id) DO NOTHING
              RETURNING channel`
          if (inserted.length === 0) {
            yield* requireConversation(input.conversationId)
            return false
          }
          yield* claimKeys(input.conversationId, input.threadKeys)
          yield* touch(input.conversationId, now)
          return true
        }),
      )
    })

    const createTask: ConversationStoreShape["createTask"] = Effect.fn("ConversationStore.createTask")(
      function* (input) {
        const now = yield* nowMillis
        return yield* freshId("createTask", randomTaskId, (id) =>
          write("createTask")(
            Effect.gen(function* () {
              const rows = yield* sql`INSERT INTO tasks (id, conversation_id, state, sender, title, queued_at)
                SELECT ${id}, c.id, 'queued', ${input.sender}, ${input.title}, ${now}
                FROM conversations c WHERE c.id = ${input.conversationId}
                ON CONFLICT (id) DO NOTHING
                RETURNING ${taskColumns}`
              const task = first(yield* decodeTasks(rows))
              if (Option.isNone(task)) {
                // Either the conversation is missing (fail) or the id was taken (try another).
                yield* requireConversation(input.conversationId)
                return task
              }
              yield* touch(input.conversationId, now)
              return task
            }),
          ),
        )
      },
    )

    const getTask: ConversationStoreShape["getTask"] = (id) =>
      findTask(id).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.fail(new TaskNotFound({ id })),
            onSome: Effect.succeed,
          }),
        ),
        run("getTask"),
        Effect.withSpan("ConversationStore.getTask"),
      )

    const updateTaskState: ConversationStoreShape["updateTaskState"] = Effect.fn(
      "ConversationStore.updateTaskState",
    )(function* (id, transition) {
      const now = yield* nowMillis
      return yield* write("updateTaskState")(
        Effect.gen(function* () {
          const rows =
            transition.state === "completed"
              ? yield* sql`UPDATE tasks SET state = 'completed', completion_reason = ${transition.reason},
                  completion_detail = ${transition.detail ?? null}, completed_at = ${now}
                  WHERE id = ${id} AND state <> 'completed'
                  RETURNING ${taskColumns}`
              : yield* sql`UPDATE tasks SET state = ${transition.state},
                  started_at = CASE WHEN ${transition.state} = 'executing' THEN coalesce(started_at, ${now})
                    ELSE started_at END
                  WHERE id = ${id} AND state <> 'completed'
                  RETURNING ${taskColumns}`
          const updated = first(yield* decodeTasks(rows))
          if (Option.isSome(updated)) return updated.value
          const existing = yield* findTask(id)
          if (Option.isNone(existing)) return yield* new TaskNotFound({ id })
          return yield* new TaskAlreadyCompleted({ id, reason: existing.value.completionReason })
        }),
      )
    })

    const listTasks: ConversationStoreShape["listTasks"] = (query = {}) => {
      const filters = [
        ...(query.state === undefined ? [] : [sql`state = ${query.state}`]),
        ...(query.conversationId === undefined ? [] : [sql`conversation_id = ${query.conversationId}`]),
      ]
      const limit = query.limit ?? DEFAULT_LIMIT
      return sql`SELECT ${taskColumns} FROM tasks WHERE ${sql.and(filters)} ORDER BY seq DESC LIMIT ${limit}`.pipe(
        Effect.flatMap(decodeTasks),
        run("listTasks"),
        Effect.withSpan("ConversationStore.listTasks"),
      )
    }

    const markRunningTasksInterrupted: ConversationStoreShape["markRunningTasksInterrupted"] = nowMillis.pipe(
      Effect.flatMap(
        (now) => sql`UPDATE tasks SET state = 'completed', completion_reason = 'interrupted',
          completion_detail = NULL, completed_at = ${now}
          WHERE state <> 'completed'
          RETURNING ${taskColumns}`,
      ),
      Effect.flatMap(decodeTasks),
      run("markRunningTasksInterrupted"),
      Effect.withSpan("ConversationStore.markRunningTasksInterrupted"),
    )

    const recordReply: ConversationStoreShape["recordReply"] = Effect.fn("ConversationStore.recordReply")(
      function* (input) {
        const now = yield* nowMillis
        return yield* write("recordReply")(
          Effect.gen(function* () {
            const usage = yield* encodeUsage(input.usage)
            const touched = yield* sql`UPDATE conversations
              SET session_id = coalesce(${input.sessionId ?? null}, session_id), updated_at = ${now}
              WHERE id = ${input.conversationId}
              RETURNING id`
            if (touched.length === 0) return yield* new ConversationNotFound({ id: input.conversationId })
            const owned = yield* sql`SELECT 1 AS found FROM tasks
              WHERE id = ${input.taskId} AND conversation_id = ${input.conversationId}`
            if (owned.length === 0) return yield* new TaskNotFound({ id: input.taskId })
            const rows =
              yield* sql`INSERT INTO replies (conversation_id, reply_index, task_id, session_id, at,
                duration_ms, cost_usd, turns, usage, request_text, response_text, outcome)
              VALUES (${input.conversationId},
                (SELECT coalesce(max(reply_index) + 1, 0) FROM replies WHERE conversation_id = ${input.conversationId}),
                ${input.taskId}, ${input.sessionId ?? null}, ${now}, ${input.durationMs}, ${input.costUsd ?? null},
                ${input.turns}, ${usage}, ${input.requestText}, ${input.responseText}, ${input.outcome})
              RETURNING ${sql.literal(REPLY_COLUMNS)}`
            return yield* decodeReply(rows[0])
          }),
        )
      },
    )

    const listReplies: ConversationStoreShape["listReplies"] = (id) =>
      SqlSchema.findAll({
        Request: ConversationId,
        Result: ReplyRow,
        execute: (cid) =>
          sql`SELECT ${sql.literal(REPLY_COLUMNS)} FROM replies WHERE conversation_id = ${cid} ORDER BY reply_index`,
      })(id).pipe(run("listReplies"), Effect.withSpan("ConversationStore.listReplies"))

    const requireTask = (id: TaskId) =>
      Effect.flatMap(findTask(id), (task) =>
        Option.isSome(task) ? Effect.void : Effect.fail(new TaskNotFound({ id })),
      )

    /** Rows appended by one statement that found no task (`RETURNING` nothing) mean TaskNotFound. */
    const appended = (id: TaskId) => (rows: ReadonlyArray<unknown>) =>
      rows.length > 0 ? Effect.void : Effect.fail(new TaskNotFound({ id }))

    const scopeFilter = (scope: LogScope) =>
      "taskId" in scope ? sql`task_id = ${scope.taskId}` : sql`conversation_id = ${scope.conversationId}`

    const nextOffset = (rows: ReadonlyArray<{ readonly offset: number }>, fromOffset: number) =>
      Option.match(Option.fromNullable(rows[rows.length - 1]), {
        onNone: () => fromOffset,
        onSome: (last) => last.offset + 1,
      })

    // One INSERT ... SELECT per batch: atomic without a transaction, never reads before it
    // writes, and takes the conversation id from the task row.
    const appendEvents: ConversationStoreShape["appendEvents"] = Effect.fn("ConversationStore.appendEvents")(
      function* (taskId, lines) {
        if (lines.length === 0) return yield* run("appendEvents")(requireTask(taskId))
        const now = yield* nowMillis
        yield* sql`INSERT INTO agent_events (task_id, conversation_id, at, line)
          SELECT t.id, t.conversation_id, ${now}, j.value
          FROM tasks t, json_each(${JSON.stringify(lines)}) j
          WHERE t.id = ${taskId}
          ORDER BY j.key
          RETURNING seq`.pipe(Effect.flatMap(appended(taskId)), run("appendEvents"))
      },
    )

    const readEvents: ConversationStoreShape["readEvents"] = (scope, fromOffset, limit) =>
      sql`SELECT ${sql.literal(EVENT_COLUMNS)} FROM agent_events
        WHERE ${scopeFilter(scope)} AND seq >= ${fromOffset}
        ORDER BY seq LIMIT ${Math.max(0, limit)}`.pipe(
        Effect.flatMap(decodeEvents),
        Effect.map((events) => ({ events, nextOffset: nextOffset(events, fromOffset) })),
        run("readEvents"),
        Effect.withSpan("ConversationStore.readEvents"),
      )

    const appendNetwork: ConversationStoreShape["appendNetwork"] = (taskId, entries) =>
      (entries.length === 0
        ? requireTask(taskId)
        : encodeNetwork(entries).pipe(
            Effect.flatMap(
              (
                json,
              ) => sql`INSERT INTO network_log (task_id, conversation_id, at, verdict, method, host, path,
                  status, bytes, duration_ms, swapped_secrets)
                SELECT t.id, t.conversation_id, json_extract(j.value, '$.at'), json_extract(j.value, '$.verdict'),
                  json_extract(j.value, '$.method'), json_extract(j.value, '$.host'),
                  json_extract(j.value, '$.path'), json_extract(j.value, '$.status'),
                  json_extract(j.value, '$.bytes'), json_extract(j.value, '$.durationMs'),
                  json_extract(j.value, '$.swappedSecrets')
                FROM tasks t, json_each(${json}) j
                WHERE t.id = ${taskId}
                ORDER BY j.key
                RETURNING seq`,
            ),
            Effect.flatMap(appended(taskId)),
          )
      ).pipe(run("appendNetwork"), Effect.withSpan("ConversationStore.appendNetwork"))

    const readNetwork: ConversationStoreShape["readNetwork"] = (scope, fromOffset, limit) =>
      sql`SELECT ${sql.literal(NETWORK_COLUMNS)} FROM network_log
        WHERE ${scopeFilter(scope)} AND seq >= ${fromOffset}
        ORDER BY seq LIMIT ${Math.max(0, limit)}`.pipe(
        Effect.flatMap(decodeNetwork),
        Effect.map((entries) => ({ entries, nextOffset: nextOffset(entries, fromOffset) })),
        run("readNetwork"),
        Effect.withSpan("ConversationStore.readNetwork"),
      )

    const recordRejection: ConversationStoreShape["recordRejection"] = Effect.fn(
      "ConversationStore.recordRejection",
    )(function* (input) {
      const now = yield* nowMillis
      return yield* sql`INSERT INTO rejections (channel, repo_id, sender, reason, detail, channel_message_id, at)
        VALUES (${input.channel}, ${input.repoId}, ${input.sender}, ${input.reason}, ${input.detail},
          ${input.channelMessageId ?? null}, ${now})
        RETURNING ${sql.literal(REJECTION_COLUMNS)}`.pipe(
        Effect.flatMap((rows) => decodeRejection(rows[0])),
        run("recordRejection"),
      )
    })

    const listRejections: ConversationStoreShape["listRejections"] = (query = {}) => {
      const filter = query.repoId === undefined ? sql.literal("1=1") : sql`repo_id = ${query.repoId}`
      return sql`SELECT ${sql.literal(REJECTION_COLUMNS)} FROM rejections WHERE ${filter}
        ORDER BY seq DESC LIMIT ${query.limit ?? DEFAULT_LIMIT}`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(Rejection))),
        run("listRejections"),
        Effect.withSpan("ConversationStore.listRejections"),
      )
    }

    const listConversationsOlderThan: ConversationStoreShape["listConversationsOlderThan"] = (cutoff) =>
      SqlSchema.findAll({
        Request: Schema.DateTimeUtcFromNumber,
        Result: ConversationRow,
        execute: (before) => sql`SELECT ${conversationColumns} FROM conversations c
          WHERE c.updated_at < ${before}
            AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.conversation_id = c.id AND t.state <> 'completed')
          ORDER BY c.updated_at, c.rowid`,
      })(cutoff).pipe(
        run("listConversationsOlderThan"),
        Effect.withSpan("ConversationStore.listConversationsOlderThan"),
      )

    // Foreign keys cascade to thread keys, tasks, replies, events and network rows.
    const deleteConversation: ConversationStoreShape["deleteConversation"] = (id) =>
      sql`DELETE FROM conversations WHERE id = ${id} RETURNING id`.pipe(
        Effect.flatMap((rows) =>
          rows.length > 0 ? Effect.void : Effect.fail(new ConversationNotFound({ id })),
        ),
        run("deleteConversation"),
        Effect.withSpan("ConversationStore.deleteConversation"),
      )

    const healthCheck: ConversationStoreShape["healthCheck"] = Effect.gen(function* () {
      const token = String(yield* Random.nextInt)
      const now = yield* nowMillis
      const read = yield* write("healthCheck")(
        Effect.zipRight(
          sql`INSERT INTO health_probe (id, token, at) VALUES (1, ${token}, ${now})
            ON CONFLICT (id) DO UPDATE SET token = excluded.token, at = excluded.at`,
          SqlSchema.single({
            Request: Schema.Void,
            Result: Schema.Struct({ token: Schema.String }),
            execute: () => sql`SELECT token FROM health_probe WHERE id = 1`,
          })(undefined),
        ),
      )
      if (read.token !== token) {
        return yield* new StoreError({ operation: "healthCheck", cause: "the probe read back another value" })
      }
    }).pipe(
      Effect.catchTag(
        "NoSuchElementException",
        (cause) => new StoreError({ operation: "healthCheck", cause }),
      ),
      Effect.withSpan("ConversationStore.healthCheck"),
    )

    return ConversationStore.of({
      createConversation,
      getConversation,
      findByThreadKey,
      addThreadKeys,
      setSession,
      recordInbound,
      createTask,
      getTask,
      updateTaskState,
      listTasks,
      markRunningTasksInterrupted,
      recordReply,
      listReplies,
      appendEvents,
      readEvents,
      appendNetwork,
      readNetwork,
      recordRejection,
      listRejections,
      listConversationsOlderThan,
      deleteConversation,
      healthCheck,
    })
  })

/**
 * `ConversationStore` on a SQLite file: opens it (WAL, foreign keys, busy timeout), brings the
 * schema up to date, and closes it when the layer's scope closes. Any failure to open,
 * including one the driver throws, is a StoreError with operation "open".
 */
export const SqliteStoreLive = (options: SqliteStoreOptions): Layer.Layer<ConversationStore, StoreError> =>
  Layer.effect(ConversationStore, makeSqliteStore(options)).pipe(
    Layer.provide(SqliteMigrator.layer({ loader })),
    // The migrator's type asks for a file system and a command runner (for schema dumps we
    // never request).
    Layer.provide(NodeContext.layer),
    Layer.provide(
      SqliteClient.layer({
        filename: options.filename,
        transformQueryNames: Str.camelToSnake,
        transformResultNames: Str.snakeToCamel,
      }),
    ),
    Layer.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Layer.failCause(Cause.map(cause, (error) => new StoreError({ operation: "open", cause: error })))
        : Layer.fail(new StoreError({ operation: "open", cause: Cause.squash(cause) })),
    ),
  )
