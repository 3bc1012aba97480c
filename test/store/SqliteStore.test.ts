import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it } from "@effect/vitest"
import { Array as Arr, Context, DateTime, type Duration, Effect, Layer, Option, Schema } from "effect"
import { SqliteStoreLive } from "../../src/layers/SqliteStoreLive.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import { storeSuite } from "./storeSuite.js"

/** A store on a fresh file in a temporary directory that goes away with the layer. */
const TempSqliteStore = Layer.unwrapScoped(
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "airut-store-" })
    return SqliteStoreLive({ filename: path.join(dir, "airut.db") })
  }),
).pipe(Layer.provide(NodeContext.layer))

storeSuite("SqliteStoreLive", TempSqliteStore)

/** A database file path in a temporary directory removed when the test's scope closes. */
const tempDatabase = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "airut-store-" })
  return path.join(dir, "airut.db")
}).pipe(Effect.provide(NodeContext.layer))

/** Builds a store on `filename` in the current scope: its own connection, closed with the scope. */
const openStore = (filename: string, busyTimeout?: Duration.DurationInput) =>
  Effect.map(
    Layer.build(SqliteStoreLive(busyTimeout === undefined ? { filename } : { filename, busyTimeout })),
    (context) => Context.get(context, ConversationStore),
  )

/** Runs raw SQL on its own connection to the file (to inspect it or to inject a fault). */
const withRawConnection = <A, E>(filename: string, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  Effect.flatMap(SqlClient.SqlClient, f).pipe(Effect.provide(SqliteClient.layer({ filename })))

const JournalMode = Schema.Array(Schema.Struct({ journal_mode: Schema.String }))

describe("SqliteStoreLive on a file", () => {
  it.scoped("keeps its data across close and reopen", () =>
    Effect.gen(function* () {
      const filename = yield* tempDatabase
      const written = yield* Effect.scoped(
        Effect.gen(function* () {
          const store = yield* openStore(filename)
          const conversation = yield* store.createConversation({
            repoId: "website",
            channel: "slack",
            threadKeys: ["1700000000.000100"],
            model: "sonnet",
          })
          const task = yield* store.createTask({ conversationId: conversation.id, sender: "U1", title: "t" })
          yield* store.appendEvents(task.id, ['{"type":"system"}'])
          const reply = yield* store.recordReply({
            conversationId: conversation.id,
            taskId: task.id,
            sessionId: "s1",
            durationMs: 10,
            turns: 1,
            usage: {},
            requestText: "hi",
            responseText: "hello",
            outcome: "Success",
          })
          return { conversation: yield* store.getConversation(conversation.id), task, reply }
        }),
      )

      const store = yield* openStore(filename)
      expect(yield* store.getConversation(written.conversation.id)).toEqual(written.conversation)
      expect(yield* store.getTask(written.task.id)).toEqual(written.task)
      expect(yield* store.listReplies(written.conversation.id)).toEqual([written.reply])
      const events = yield* store.readEvents({ taskId: written.task.id }, 0, 10)
      expect(events.events.map((e) => e.line)).toEqual(['{"type":"system"}'])
      const found = yield* store.findByThreadKey({
        channel: "slack",
        repoId: "website",
        keys: ["1700000000.000100"],
      })
      expect(Option.map(found, (c) => c.id)).toEqual(Option.some(written.conversation.id))
    }),
  )

  it.scoped("runs in WAL journal mode", () =>
    Effect.gen(function* () {
      const filename = yield* tempDatabase
      yield* openStore(filename)
      const rows = yield* withRawConnection(filename, (sql) => sql`PRAGMA journal_mode`)
      expect(yield* Schema.decodeUnknown(JournalMode)(rows)).toEqual([{ journal_mode: "wal" }])
    }),
  )

  it.effect("fails to open with a StoreError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.provide(ConversationStore, SqliteStoreLive({ filename: "/nonexistent/airut/store.db" })),
      )
      expect(error).toMatchObject({ _tag: "StoreError", operation: "open" })
    }),
  )

  it.scoped("a transaction that fails midway leaves nothing behind", () =>
    Effect.gen(function* () {
      const filename = yield* tempDatabase
      const store = yield* openStore(filename)
      // Fault injection from another connection: the second statement of each operation fails.
      yield* withRawConnection(filename, (sql) =>
        Effect.all([
          sql`CREATE TRIGGER fail_key BEFORE INSERT ON thread_keys WHEN NEW.thread_key = 'boom'
            BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
          sql`CREATE TRIGGER fail_reply BEFORE INSERT ON replies WHEN NEW.request_text = 'boom'
            BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
        ]),
      )

      const failed = yield* Effect.flip(
        store.createConversation({
          repoId: "r",
          channel: "email",
          threadKeys: ["<ok@x>", "boom"],
          model: "opus",
        }),
      )
      expect(failed).toMatchObject({ _tag: "StoreError", operation: "createConversation" })
      const farFuture = DateTime.unsafeMake("2100-01-01T00:00:00Z")
      expect(yield* store.listConversationsOlderThan(farFuture)).toEqual([])
      expect(yield* store.findByThreadKey({ channel: "email", repoId: "r", keys: ["<ok@x>"] })).toEqual(
        Option.none(),
      )

      // recordReply updates the conversation first, then inserts the reply: the update must roll back.
      const conversation = yield* store.createConversation({
        repoId: "r",
        channel: "email",
        threadKeys: [],
        model: "opus",
      })
      const task = yield* store.createTask({ conversationId: conversation.id, sender: "a", title: "t" })
      const before = yield* store.getConversation(conversation.id)
      const replyFailed = yield* Effect.flip(
        store.recordReply({
          conversationId: conversation.id,
          taskId: task.id,
          sessionId: "must-not-stick",
          durationMs: 1,
          turns: 1,
          usage: {},
          requestText: "boom",
          responseText: "",
          outcome: "Success",
        }),
      )
      expect(replyFailed).toMatchObject({ _tag: "StoreError", operation: "recordReply" })
      expect(yield* store.getConversation(conversation.id)).toEqual(before)
      expect(yield* store.listReplies(conversation.id)).toEqual([])
    }),
  )

  it.scopedLive(
    "two connections writing at once lose nothing and do not fail busy",
    () =>
      Effect.gen(function* () {
        const filename = yield* tempDatabase
        // A short busy timeout: in one process a statement waiting for a lock blocks the event
        // loop, so the holder can only finish once the wait gives up and the store retries.
        const a = yield* openStore(filename, "20 millis")
        const b = yield* openStore(filename, "20 millis")
        const conversation = yield* a.createConversation({
          repoId: "r",
          channel: "email",
          threadKeys: [],
          model: "opus",
        })
        const [t1, t2] = yield* Effect.all([
          a.createTask({ conversationId: conversation.id, sender: "a", title: "1" }),
          b.createTask({ conversationId: conversation.id, sender: "b", title: "2" }),
        ])

        // A third connection keeps taking the write lock and holding it across async pauses.
        const lockHolder = withRawConnection(filename, (sql) =>
          sql
            .withTransaction(
              Effect.zipRight(
                sql`INSERT INTO health_probe (id, token, at) VALUES (1, 'held', 0)
                  ON CONFLICT (id) DO UPDATE SET at = at + 1`,
                Effect.sleep("15 millis"),
              ),
            )
            .pipe(Effect.zipRight(Effect.sleep("5 millis")), Effect.repeatN(1)),
        )

        const writers = 100
        const stores = [a, b]
        const writing = Effect.forEach(
          Arr.range(0, writers - 1),
          (i) => {
            const store = stores[i % 2] ?? a
            const task = i % 3 === 0 ? t2 : t1
            return Effect.all([
              store.appendEvents(task.id, [`{"i":${i},"part":0}`, `{"i":${i},"part":1}`]),
              // Multi-statement transactions interleave with the appends.
              i % 10 === 0
                ? store.recordReply({
                    conversationId: conversation.id,
                    taskId: task.id,
                    sessionId: `s${i}`,
                    durationMs: i,
                    turns: 1,
                    usage: {},
                    requestText: `${i}`,
                    responseText: "",
                    outcome: "Success",
                  })
                : Effect.void,
            ])
          },
          { concurrency: "unbounded", discard: true },
        )
        yield* Effect.all([lockHolder, writing], { concurrency: "unbounded", discard: true })

        const page = yield* b.readEvents({ conversationId: conversation.id }, 0, 10_000)
        expect(page.events).toHaveLength(writers * 2)
        const offsets = page.events.map((e) => e.offset)
        expect(offsets.every((o, i) => i === 0 || o > (offsets[i - 1] ?? Number.POSITIVE_INFINITY))).toBe(
          true,
        )
        expect(new Set(page.events.map((e) => e.line)).size).toBe(writers * 2)
        // Each batch stays in order.
        for (let i = 0; i < writers; i++) {
          const parts = page.events.filter((e) => e.line.startsWith(`{"i":${i},`)).map((e) => e.line)
          expect(parts).toEqual([`{"i":${i},"part":0}`, `{"i":${i},"part":1}`])
        }
        const replies = yield* a.listReplies(conversation.id)
        expect(replies.map((r) => r.index)).toEqual(Arr.range(0, writers / 10 - 1))
      }),
    30_000,
  )
})
