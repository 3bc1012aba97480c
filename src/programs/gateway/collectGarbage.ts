import { FileSystem, Path } from "@effect/platform"
import { DateTime, Effect, Option, Schema } from "effect"
import { ConversationId } from "../../schema/ConversationId.js"
import { ConversationStore } from "../../services/ConversationStore.js"

export interface CollectGarbageOptions {
  /** Holds one directory per conversation, named by its id. */
  readonly conversationsDir: string
  /** `execution.conversation_max_age_days`: older conversations go. */
  readonly maxAgeDays: number
  /**
   * Whether the supervisor holds a task (running, queued or pending) for the conversation. The
   * store already leaves out conversations with unfinished tasks; this covers a message accepted
   * but not yet recorded as a task.
   */
  readonly isActive: (id: ConversationId) => Effect.Effect<boolean>
}

export interface GarbageCollected {
  /** Conversations deleted from the store (their directories removed too, or counted below). */
  readonly conversations: number
  /** Old conversations left because a task of theirs is active. */
  readonly active: number
  /** Directories without a conversation in the store (a removal that failed earlier, a crash). */
  readonly orphanDirectories: number
  /** Conversations or directories that could not be removed; each is logged with its reason. */
  readonly failed: number
}

const isConversationId = Schema.is(ConversationId)

/**
 * Deletes conversations whose last activity is older than `maxAgeDays` from the store, then
 * their directories (workspace, inbox, outbox, storage, Claude state). The store goes first: a
 * directory that cannot be removed (files the agent made unremovable) is only disk space, and
 * the next pass finds it as an orphan; a conversation row without its directory would be resumed
 * into nothing. One failure does not stop the pass. Logs one line with the counts.
 */
export const collectGarbage = (options: CollectGarbageOptions) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const cutoff = DateTime.subtract(yield* DateTime.now, { days: options.maxAgeDays })
    let conversations = 0
    let active = 0
    let orphanDirectories = 0
    let failed = 0

    const removeDirectory = (id: string) =>
      fs.remove(path.join(options.conversationsDir, id), { recursive: true, force: true }).pipe(
        Effect.as(true),
        Effect.catchAll((e) =>
          Effect.logWarning(`garbage collection: could not remove the directory of ${id}: ${e.message}`).pipe(
            Effect.as(false),
          ),
        ),
      )

    for (const conversation of yield* store.listConversationsOlderThan(cutoff)) {
      if (yield* options.isActive(conversation.id)) {
        active++
        continue
      }
      const deleted = yield* store.deleteConversation(conversation.id).pipe(
        Effect.as(true),
        // Deleted meanwhile by someone else: gone either way.
        Effect.catchTag("ConversationNotFound", () => Effect.succeed(true)),
        Effect.catchTag("StoreError", (e) =>
          Effect.logWarning(`garbage collection: could not delete ${conversation.id}: ${e.message}`).pipe(
            Effect.as(false),
          ),
        ),
      )
      if (!deleted) {
        failed++
        continue
      }
      conversations++
      if (!(yield* removeDirectory(conversation.id))) failed++
    }

    // Directories the store no longer knows, untouched for as long: never a conversation that is
    // being created (its row exists before its directory).
    const entries = (yield* fs.exists(options.conversationsDir))
      ? yield* fs.readDirectory(options.conversationsDir)
      : []
    for (const name of entries) {
      if (!isConversationId(name)) continue
      const known = yield* store.getConversation(name).pipe(
        Effect.as(true),
        Effect.catchTag("ConversationNotFound", () => Effect.succeed(false)),
      )
      if (known) continue
      const info = yield* fs.stat(path.join(options.conversationsDir, name)).pipe(
        Effect.map(Option.some),
        Effect.catchAll((e) =>
          Effect.logWarning(`garbage collection: cannot look at ${name}: ${e.message}`).pipe(
            Effect.as(Option.none()),
          ),
        ),
      )
      if (Option.isNone(info) || info.value.type !== "Directory") continue
      const changed = Option.map(info.value.mtime, DateTime.unsafeFromDate)
      if (Option.exists(changed, (at) => DateTime.greaterThanOrEqualTo(at, cutoff))) continue
      if (yield* removeDirectory(name)) orphanDirectories++
      else failed++
    }

    const result: GarbageCollected = { conversations, active, orphanDirectories, failed }
    yield* Effect.logInfo(
      `garbage collection: removed ${conversations} conversation(s) older than ${options.maxAgeDays} day(s) and ${orphanDirectories} orphaned director${orphanDirectories === 1 ? "y" : "ies"}; ${active} kept (task active), ${failed} failed`,
    )
    return result
  }).pipe(Effect.withSpan("collectGarbage"))
