import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * The first schema. Shipped migrations are never edited: change the schema in a new file.
 *
 * Times are epoch milliseconds. Log tables (`agent_events`, `network_log`, `rejections`) use
 * AUTOINCREMENT so a `seq` is never reused after deletes: readers page by it. Everything a
 * conversation owns goes with it (ON DELETE CASCADE; the store turns foreign keys on), except
 * the inbound ledger, which keeps message ids so a late redelivery is still recognised.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  yield* sql`CREATE TABLE conversations (
    id TEXT PRIMARY KEY NOT NULL,
    repo_id TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'slack')),
    model TEXT NOT NULL,
    effort TEXT,
    session_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  )`
  yield* sql`CREATE INDEX conversations_updated_at ON conversations (updated_at)`

  yield* sql`CREATE TABLE thread_keys (
    seq INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    repo_id TEXT NOT NULL,
    thread_key TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    UNIQUE (channel, repo_id, thread_key)
  )`
  yield* sql`CREATE INDEX thread_keys_conversation ON thread_keys (conversation_id, seq)`

  yield* sql`CREATE TABLE inbound_messages (
    channel TEXT NOT NULL,
    channel_message_id TEXT NOT NULL,
    repo_id TEXT NOT NULL,
    conversation_id TEXT REFERENCES conversations (id) ON DELETE SET NULL,
    sender TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (channel, channel_message_id)
  )`
  yield* sql`CREATE INDEX inbound_messages_conversation ON inbound_messages (conversation_id)`

  yield* sql`CREATE TABLE tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    state TEXT NOT NULL
      CHECK (state IN ('queued', 'authenticating', 'pending', 'executing', 'completed')),
    completion_reason TEXT,
    completion_detail TEXT,
    sender TEXT NOT NULL,
    title TEXT NOT NULL,
    queued_at INTEGER NOT NULL,
    started_at INTEGER,
    completed_at INTEGER,
    CHECK ((state = 'completed') = (completion_reason IS NOT NULL))
  )`
  yield* sql`CREATE INDEX tasks_conversation ON tasks (conversation_id, seq)`
  yield* sql`CREATE INDEX tasks_state ON tasks (state, seq)`

  yield* sql`CREATE TABLE replies (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    reply_index INTEGER NOT NULL,
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    session_id TEXT,
    at INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    cost_usd REAL,
    turns INTEGER NOT NULL,
    usage TEXT NOT NULL,
    request_text TEXT NOT NULL,
    response_text TEXT NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (conversation_id, reply_index)
  )`
  yield* sql`CREATE INDEX replies_task ON replies (task_id)`

  yield* sql`CREATE TABLE agent_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    line TEXT NOT NULL
  )`
  yield* sql`CREATE INDEX agent_events_task ON agent_events (task_id, seq)`
  yield* sql`CREATE INDEX agent_events_conversation ON agent_events (conversation_id, seq)`

  yield* sql`CREATE TABLE network_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('allowed', 'blocked')),
    method TEXT NOT NULL,
    host TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER,
    bytes INTEGER,
    duration_ms REAL,
    swapped_secrets INTEGER NOT NULL
  )`
  yield* sql`CREATE INDEX network_log_task ON network_log (task_id, seq)`
  yield* sql`CREATE INDEX network_log_conversation ON network_log (conversation_id, seq)`

  yield* sql`CREATE TABLE rejections (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'slack')),
    repo_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('unauthenticated', 'unauthorized')),
    detail TEXT NOT NULL,
    channel_message_id TEXT,
    at INTEGER NOT NULL
  )`
  yield* sql`CREATE INDEX rejections_repo ON rejections (repo_id, seq)`

  // One row that `healthCheck` overwrites and reads back.
  yield* sql`CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token TEXT NOT NULL,
    at INTEGER NOT NULL
  )`
})
