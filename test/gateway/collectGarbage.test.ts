import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { ConversationStoreMemory } from "../../src/layers/ConversationStoreMemory.js"
import { collectGarbage } from "../../src/programs/gateway/collectGarbage.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"

const day = 86_400_000
const start = Date.UTC(2030, 0, 1)

const conversationDir = (root: string, id: string) => {
  const dir = join(root, id)
  mkdirSync(join(dir, "workspace"), { recursive: true })
  writeFileSync(join(dir, "workspace", "file.txt"), "x")
  return dir
}

const TestLayer = Layer.mergeAll(ConversationStoreMemory, NodeContext.layer)

describe("collectGarbage", () => {
  it.effect(
    "removes conversations idle longer than the limit with their directories, never an active one",
    () =>
      Effect.gen(function* () {
        const store = yield* ConversationStore
        const root = mkdtempSync(join(tmpdir(), "airut-gc-"))
        yield* TestClock.setTime(start)
        const make = () =>
          store.createConversation({ repoId: "app", channel: "email", threadKeys: [], model: "opus" })
        const old = yield* make()
        const oldButActive = yield* make()
        const oldWithTask = yield* make()
        yield* store.createTask({ conversationId: oldWithTask.id, sender: "a@example.com", title: "t" })
        yield* TestClock.setTime(start + 8 * day)
        const recent = yield* make()
        for (const c of [old, oldButActive, oldWithTask, recent]) conversationDir(root, c.id)
        // Seven days after `recent` began: only the conversations of day 0 are past the limit.
        yield* TestClock.setTime(start + 10 * day)

        const result = yield* collectGarbage({
          conversationsDir: root,
          maxAgeDays: 7,
          isActive: (id) => Effect.succeed(id === oldButActive.id),
        })

        assert.deepStrictEqual(result, { conversations: 1, active: 1, orphanDirectories: 0, failed: 0 })
        assert.isFalse(existsSync(join(root, old.id)))
        const gone = yield* store.getConversation(old.id).pipe(Effect.flip)
        assert.strictEqual(gone._tag, "ConversationNotFound")
        for (const kept of [oldButActive, oldWithTask, recent]) {
          assert.isTrue(existsSync(join(root, kept.id, "workspace", "file.txt")))
          assert.strictEqual((yield* store.getConversation(kept.id)).id, kept.id)
        }
      }).pipe(Effect.provide(TestLayer)),
  )

  it.effect("removes old directories the store does not know, and leaves recent and foreign ones", () =>
    Effect.gen(function* () {
      const store = yield* ConversationStore
      const root = mkdtempSync(join(tmpdir(), "airut-gc-"))
      yield* TestClock.setTime(start + 30 * day)
      const known = yield* store.createConversation({
        repoId: "app",
        channel: "email",
        threadKeys: [],
        model: "opus",
      })
      const touch = (name: string, at: number) => {
        const dir = conversationDir(root, name)
        utimesSync(dir, new Date(at), new Date(at))
      }
      touch("deadbeef", start) // orphan, a month old
      touch("0badf00d", start + 29 * day) // orphan, yesterday: maybe a conversation being made
      touch("not-an-id", start) // not ours to judge
      touch(known.id, start)

      const result = yield* collectGarbage({
        conversationsDir: root,
        maxAgeDays: 7,
        isActive: () => Effect.succeed(false),
      })

      assert.deepStrictEqual(result, { conversations: 0, active: 0, orphanDirectories: 1, failed: 0 })
      assert.isFalse(existsSync(join(root, "deadbeef")))
      assert.isTrue(existsSync(join(root, "0badf00d")))
      assert.isTrue(existsSync(join(root, "not-an-id")))
      assert.isTrue(existsSync(join(root, known.id)))
    }).pipe(Effect.provide(TestLayer)),
  )

  it.effect("a missing conversations directory is nothing to collect", () =>
    Effect.gen(function* () {
      const store = yield* ConversationStore
      yield* TestClock.setTime(start)
      const c = yield* store.createConversation({
        repoId: "app",
        channel: "email",
        threadKeys: [],
        model: "opus",
      })
      yield* TestClock.setTime(start + 8 * day)
      const result = yield* collectGarbage({
        conversationsDir: join(tmpdir(), "airut-gc-does-not-exist"),
        maxAgeDays: 7,
        isActive: () => Effect.succeed(false),
      })
      assert.deepStrictEqual(result, { conversations: 1, active: 0, orphanDirectories: 0, failed: 0 })
      assert.strictEqual((yield* store.getConversation(c.id).pipe(Effect.flip))._tag, "ConversationNotFound")
    }).pipe(Effect.provide(TestLayer)),
  )
})
