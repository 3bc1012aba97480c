import { Chunk, Data, DateTime, Effect, HashMap, HashSet, Layer, Option, Ref } from "effect"
import type { AgentEventRow } from "../schema/AgentEventRow.js"
import type { ChannelKind } from "../schema/ChannelKind.js"
import type { Conversation } from "../schema/Conversation.js"
import { type ConversationId, randomConversationId } from "../schema/ConversationId.js"
import type { LogScope } from "../schema/LogScope.js"
import type { NetworkLogEntry } from "../schema/NetworkLogEntry.js"
import type { Rejection } from "../schema/Rejection.js"
import type { Reply } from "../schema/Reply.js"
import type { Task } from "../schema/Task.js"
import { randomTaskId, type TaskId } from "../schema/TaskId.js"
import {
  ConversationNotFound,
  ConversationStore,
  type ConversationStoreShape,
  StoreError,
  TaskAlreadyCompleted,
  TaskNotFound,
} from "../services/ConversationStore.js"

/** Insertion order, which timestamps cannot give (under TestClock they are all equal). */
interface Entry<A> {
  readonly seq: number
  readonly value: A
}

type ThreadKey = readonly [ChannelKind, string, string]
type InboundKey = readonly [ChannelKind, string]

interface State {
  readonly nextSeq: number
  readonly conversations: HashMap.HashMap<ConversationId, Entry<Conversation>>
  readonly owners: HashMap.HashMap<ThreadKey, ConversationId>
  readonly inbound: HashSet.HashSet<InboundKey>
  readonly tasks: HashMap.HashMap<TaskId, Entry<Task>>
  readonly replies: Chunk.Chunk<Reply>
  readonly events: Chunk.Chunk<AgentEventRow>
  readonly network: Chunk.Chunk<NetworkLogEntry>
  readonly rejections: Chunk.Chunk<Rejection>
}

const emptyState: State = {
  nextSeq: 1,
  conversations: HashMap.empty(),
  owners: HashMap.empty(),
  inbound: HashSet.empty(),
  tasks: HashMap.empty(),
  replies: Chunk.empty(),
  events: Chunk.empty(),
  network: Chunk.empty(),
  rejections: Chunk.empty(),
}

/** What a state change yields: the caller's result (or typed failure) and the next state. */
type Step<A, E> = readonly [Effect.Effect<A, E>, State]
const step = <A, E>(result: Effect.Effect<A, E>, next: State): Step<A, E> => [result, next]

const DEFAULT_LIMIT = 100
// Ids are short; a collision is rare but possible. Give up loudly rather than loop forever.
const ID_ATTEMPTS = 8

const threadKey = (channel: ChannelKind, repoId: string, key: string): ThreadKey =>
  Data.tuple(channel, repoId, key)

const inScope = (
  scope: LogScope,
  row: { readonly taskId: TaskId; readonly conversationId: ConversationId },
) => ("taskId" in scope ? row.taskId === scope.taskId : row.conversationId === scope.conversationId)

const bySeq = <A>(entries: Iterable<Entry<A>>): Array<A> =>
  Array.from(entries)
    .sort((a, b) => a.seq - b.seq)
    .map((e) => e.value)

/** Gives unowned `keys` to the conversation `id`; returns its updated key list and the owners. */
const claimKeys = (
  state: State,
  conversation: Conversation,
  keys: ReadonlyArray<string>,
): { readonly threadKeys: ReadonlyArray<string>; readonly owners: State["owners"] } => {
  let owners = state.owners
  const threadKeys = [...conversation.threadKeys]
  for (const key of keys) {
    const k = threadKey(conversation.channel, conversation.repoId, key)
    if (!HashMap.has(owners, k)) {
      owners = HashMap.set(owners, k, conversation.id)
      threadKeys.push(key)
    }
  }
  return { threadKeys, owners }
}

const page = <
  A extends { readonly offset: number; readonly taskId: TaskId; readonly conversationId: ConversationId },
>(
  rows: Chunk.Chunk<A>,
  scope: LogScope,
  fromOffset: number,
  limit: number,
): { readonly rows: ReadonlyArray<A>; readonly nextOffset: number } => {
  const found = Chunk.toReadonlyArray(rows)
    .filter((row) => row.offset >= fromOffset && inScope(scope, row))
    .slice(0, Math.max(0, limit))
  const last = found[found.length - 1]
  return { rows: found, nextOffset: last === undefined ? fromOffset : last.offset + 1 }
}

/**
 * The store kept in a `Ref`: same semantics as the SQLite store, nothing durable. Each build
 * starts empty. For tests and for embedders that need no history.
 */
export const makeConversationStoreMemory = Effect.gen(function* () {
  const ref = yield* Ref.make(emptyState)

  /** Runs `f` atomically on the state; its effect (success or typed failure) runs after. */
  const modify = <A, E>(f: (s: State) => Step<A, E>) => Effect.flatten(Ref.modify(ref, f))

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

  const conversationOf = (s: State, id: ConversationId) =>
    Option.map(HashMap.get(s.conversations, id), (e) => e.value)

  const taskOf = (s: State, id: TaskId) => Option.map(HashMap.get(s.tasks, id), (e) => e.value)

  const setConversation = (s: State, conversation: Conversation): State => {
    const seq = Option.match(HashMap.get(s.conversations, conversation.id), {
      onNone: () => s.nextSeq,
      onSome: (e) => e.seq,
    })
    return {
      ...s,
      nextSeq: Math.max(s.nextSeq, seq + 1),
      conversations: HashMap.set(s.conversations, conversation.id, { seq, value: conversation }),
    }
  }

  const setTask = (s: State, task: Task): State => {
    const seq = Option.match(HashMap.get(s.tasks, task.id), { onNone: () => s.nextSeq, onSome: (e) => e.seq })
    return {
      ...s,
      nextSeq: Math.max(s.nextSeq, seq + 1),
      tasks: HashMap.set(s.tasks, task.id, { seq, value: task }),
    }
  }

  /** Applies `f` to an existing conversation, or fails with ConversationNotFound. */
  const updateConversation = <A>(id: ConversationId, f: (s: State, c: Conversation) => readonly [A, State]) =>
    modify((s) =>
      Option.match(conversationOf(s, id), {
        onNone: () => step(Effect.fail(new ConversationNotFound({ id })), s),
        onSome: (c) => {
          const [a, next] = f(s, c)
          return step(Effect.succeed(a), next)
        },
      }),
    )

  const createConversation: ConversationStoreShape["createConversation"] = Effect.fn(
    "ConversationStore.createConversation",
  )(function* (input) {
    const now = yield* DateTime.now
    return yield* freshId("createConversation", randomConversationId, (id) =>
      modify((s) => {
        if (HashMap.has(s.conversations, id)) return step(Effect.succeedNone, s)
        const base: Conversation = {
          id,
          repoId: input.repoId,
          channel: input.channel,
          threadKeys: [],
          model: input.model,
          effort: Option.fromNullable(input.effort),
          sessionId: Option.none(),
          createdAt: now,
          updatedAt: now,
        }
        const { threadKeys, owners } = claimKeys(s, base, input.threadKeys)
        const conversation = { ...base, threadKeys }
        return step(Effect.succeedSome(conversation), setConversation({ ...s, owners }, conversation))
      }),
    )
  })

  const getConversation: ConversationStoreShape["getConversation"] = (id) =>
    Effect.flatMap(Ref.get(ref), (s) =>
      Option.match(conversationOf(s, id), {
        onNone: () => Effect.fail(new ConversationNotFound({ id })),
        onSome: Effect.succeed,
      }),
    ).pipe(Effect.withSpan("ConversationStore.getConversation"))

  const findByThreadKey: ConversationStoreShape["findByThreadKey"] = (query) =>
    Effect.map(Ref.get(ref), (s) =>
      Option.firstSomeOf(
        query.keys.map((key) =>
          Option.flatMap(HashMap.get(s.owners, threadKey(query.channel, query.repoId, key)), (id) =>
            conversationOf(s, id),
          ),
        ),
      ),
    ).pipe(Effect.withSpan("ConversationStore.findByThreadKey"))

  const addThreadKeys: ConversationStoreShape["addThreadKeys"] = (id, keys) =>
    updateConversation(id, (s, c) => {
      const { threadKeys, owners } = claimKeys(s, c, keys)
      return [undefined, setConversation({ ...s, owners }, { ...c, threadKeys })]
    }).pipe(Effect.withSpan("ConversationStore.addThreadKeys"))

  const setSession: ConversationStoreShape["setSession"] = Effect.fn("ConversationStore.setSession")(
    function* (id, sessionId) {
      const now = yield* DateTime.now
      yield* updateConversation(id, (s, c) => [
        undefined,
        setConversation(s, { ...c, sessionId: Option.some(sessionId), updatedAt: now }),
      ])
    },
  )

  const recordInbound: ConversationStoreShape["recordInbound"] = Effect.fn("ConversationStore.recordInbound")(
    function* (input) {
      const now = yield* DateTime.now
      const key: InboundKey = Data.tuple(input.channel, input.channelMessageId)
      return yield* updateConversation(input.conversationId, (s, c) => {
        if (HashSet.has(s.inbound, key)) return [false, s]
        const { threadKeys, owners } = claimKeys(s, c, input.threadKeys)
        const next = setConversation(
          { ...s, owners, inbound: HashSet.add(s.inbound, key) },
          { ...c, threadKeys, updatedAt: now },
        )
        return [true, next]
      })
    },
  )

  const createTask: ConversationStoreShape["createTask"] = Effect.fn("ConversationStore.createTask")(
    function* (input) {
      const now = yield* DateTime.now
      return yield* freshId("createTask", randomTaskId, (id) =>
        modify(
          (s): Step<Option.Option<Task>, ConversationNotFound> =>
            Option.match(conversationOf(s, input.conversationId), {
              onNone: () => step(Effect.fail(new ConversationNotFound({ id: input.conversationId })), s),
              onSome: (c) => {
                if (HashMap.has(s.tasks, id)) return step(Effect.succeedNone, s)
                const task: Task = {
                  id,
                  conversationId: c.id,
                  state: "queued",
                  completionReason: Option.none(),
                  completionDetail: Option.none(),
                  sender: input.sender,
                  title: input.title,
                  queuedAt: now,
                  startedAt: Option.none(),
                  completedAt: Option.none(),
                }
                const next = setConversation(setTask(s, task), { ...c, updatedAt: now })
                return step(Effect.succeedSome(task), next)
              },
            }),
        ),
      )
    },
  )

  const getTask: ConversationStoreShape["getTask"] = (id) =>
    Effect.flatMap(Ref.get(ref), (s) =>
      Option.match(taskOf(s, id), {
        onNone: () => Effect.fail(new TaskNotFound({ id })),
        onSome: Effect.succeed,
      }),
    ).pipe(Effect.withSpan("ConversationStore.getTask"))

  const updateTaskState: ConversationStoreShape["updateTaskState"] = Effect.fn(
    "ConversationStore.updateTaskState",
  )(function* (id, transition) {
    const now = yield* DateTime.now
    return yield* modify((s): Step<Task, TaskNotFound | TaskAlreadyCompleted> => {
      const found = taskOf(s, id)
      if (Option.isNone(found)) return step(Effect.fail(new TaskNotFound({ id })), s)
      const task = found.value
      if (task.state === "completed") {
        return step(Effect.fail(new TaskAlreadyCompleted({ id, reason: task.completionReason })), s)
      }
      const next: Task =
        transition.state === "completed"
          ? {
              ...task,
              state: "completed",
              completionReason: Option.some(transition.reason),
              completionDetail: Option.fromNullable(transition.detail),
              completedAt: Option.some(now),
            }
          : {
              ...task,
              state: transition.state,
              startedAt:
                transition.state === "executing" && Option.isNone(task.startedAt)
                  ? Option.some(now)
                  : task.startedAt,
            }
      return step(Effect.succeed(next), setTask(s, next))
    })
  })

  const listTasks: ConversationStoreShape["listTasks"] = (query = {}) =>
    Effect.map(Ref.get(ref), (s) =>
      bySeq(HashMap.values(s.tasks))
        .reverse()
        .filter(
          (t) =>
            (query.state === undefined || t.state === query.state) &&
            (query.conversationId === undefined || t.conversationId === query.conversationId),
        )
        .slice(0, query.limit ?? DEFAULT_LIMIT),
    ).pipe(Effect.withSpan("ConversationStore.listTasks"))

  const markRunningTasksInterrupted: ConversationStoreShape["markRunningTasksInterrupted"] = Effect.gen(
    function* () {
      const now = yield* DateTime.now
      return yield* modify((s) => {
        const cut = Array.from(HashMap.values(s.tasks))
          .filter((e) => e.value.state !== "completed")
          .sort((a, b) => a.seq - b.seq)
          .map(
            (e): Task => ({
              ...e.value,
              state: "completed",
              completionReason: Option.some("interrupted"),
              completionDetail: Option.none(),
              completedAt: Option.some(now),
            }),
          )
        return step(Effect.succeed(cut), cut.reduce(setTask, s))
      })
    },
  ).pipe(Effect.withSpan("ConversationStore.markRunningTasksInterrupted"))

  const recordReply: ConversationStoreShape["recordReply"] = Effect.fn("ConversationStore.recordReply")(
    function* (input) {
      const now = yield* DateTime.now
      return yield* modify((s): Step<Reply, ConversationNotFound | TaskNotFound> => {
        const conversation = conversationOf(s, input.conversationId)
        if (Option.isNone(conversation)) {
          return step(Effect.fail(new ConversationNotFound({ id: input.conversationId })), s)
        }
        const task = taskOf(s, input.taskId)
        if (Option.isNone(task) || task.value.conversationId !== input.conversationId) {
          return step(Effect.fail(new TaskNotFound({ id: input.taskId })), s)
        }
        const reply: Reply = {
          conversationId: input.conversationId,
          taskId: input.taskId,
          index: Chunk.size(Chunk.filter(s.replies, (r) => r.conversationId === input.conversationId)),
          sessionId: Option.fromNullable(input.sessionId),
          at: now,
          durationMs: input.durationMs,
          costUsd: Option.fromNullable(input.costUsd),
          turns: input.turns,
          usage: input.usage,
          requestText: input.requestText,
          responseText: input.responseText,
          outcome: input.outcome,
        }
        const c = conversation.value
        const next = setConversation(
          { ...s, replies: Chunk.append(s.replies, reply) },
          { ...c, sessionId: Option.orElse(reply.sessionId, () => c.sessionId), updatedAt: now },
        )
        return step(Effect.succeed(reply), next)
      })
    },
  )

  const listReplies: ConversationStoreShape["listReplies"] = (id) =>
    Effect.map(Ref.get(ref), (s) =>
      Chunk.toReadonlyArray(Chunk.filter(s.replies, (r) => r.conversationId === id)),
    ).pipe(Effect.withSpan("ConversationStore.listReplies"))

  /** Appends rows made from the task's ids and a fresh offset each, in order. */
  const appendLog = (taskId: TaskId, count: number, add: (s: State, task: Task) => State) =>
    modify((s) =>
      Option.match(taskOf(s, taskId), {
        onNone: () => step(Effect.fail(new TaskNotFound({ id: taskId })), s),
        onSome: (task) => step(Effect.void, { ...add(s, task), nextSeq: s.nextSeq + count }),
      }),
    )

  const appendEvents: ConversationStoreShape["appendEvents"] = Effect.fn("ConversationStore.appendEvents")(
    function* (taskId, lines) {
      const at = yield* DateTime.now
      yield* appendLog(taskId, lines.length, (s, task) => ({
        ...s,
        events: Chunk.appendAll(
          s.events,
          Chunk.fromIterable(
            lines.map(
              (line, i): AgentEventRow => ({
                offset: s.nextSeq + i,
                taskId,
                conversationId: task.conversationId,
                at,
                line,
              }),
            ),
          ),
        ),
      }))
    },
  )

  const readEvents: ConversationStoreShape["readEvents"] = (scope, fromOffset, limit) =>
    Effect.map(Ref.get(ref), (s) => {
      const { rows, nextOffset } = page(s.events, scope, fromOffset, limit)
      return { events: rows, nextOffset }
    }).pipe(Effect.withSpan("ConversationStore.readEvents"))

  const appendNetwork: ConversationStoreShape["appendNetwork"] = (taskId, entries) =>
    appendLog(taskId, entries.length, (s, task) => ({
      ...s,
      network: Chunk.appendAll(
        s.network,
        Chunk.fromIterable(
          entries.map(
            (e, i): NetworkLogEntry => ({
              offset: s.nextSeq + i,
              taskId,
              conversationId: task.conversationId,
              at: e.at,
              verdict: e.verdict,
              method: e.method,
              host: e.host,
              path: e.path,
              status: Option.fromNullable(e.status),
              bytes: Option.fromNullable(e.bytes),
              durationMs: Option.fromNullable(e.durationMs),
              swappedSecrets: e.swappedSecrets,
            }),
          ),
        ),
      ),
    })).pipe(Effect.withSpan("ConversationStore.appendNetwork"))

  const readNetwork: ConversationStoreShape["readNetwork"] = (scope, fromOffset, limit) =>
    Effect.map(Ref.get(ref), (s) => {
      const { rows, nextOffset } = page(s.network, scope, fromOffset, limit)
      return { entries: rows, nextOffset }
    }).pipe(Effect.withSpan("ConversationStore.readNetwork"))

  const recordRejection: ConversationStoreShape["recordRejection"] = Effect.fn(
    "ConversationStore.recordRejection",
  )(function* (input) {
    const at = yield* DateTime.now
    return yield* modify((s) => {
      const rejection: Rejection = {
        id: s.nextSeq,
        channel: input.channel,
        repoId: input.repoId,
        sender: input.sender,
        reason: input.reason,
        detail: input.detail,
        channelMessageId: Option.fromNullable(input.channelMessageId),
        at,
      }
      return step(Effect.succeed(rejection), {
        ...s,
        nextSeq: s.nextSeq + 1,
        rejections: Chunk.append(s.rejections, rejection),
      })
    })
  })

  const listRejections: ConversationStoreShape["listRejections"] = (query = {}) =>
    Effect.map(Ref.get(ref), (s) =>
      Chunk.toReadonlyArray(Chunk.reverse(s.rejections))
        .filter((r) => query.repoId === undefined || r.repoId === query.repoId)
        .slice(0, query.limit ?? DEFAULT_LIMIT),
    ).pipe(Effect.withSpan("ConversationStore.listRejections"))

  const listConversationsOlderThan: ConversationStoreShape["listConversationsOlderThan"] = (cutoff) =>
    Effect.map(Ref.get(ref), (s) => {
      const busy = new Set(
        Array.from(HashMap.values(s.tasks))
          .filter((e) => e.value.state !== "completed")
          .map((e) => e.value.conversationId),
      )
      return Array.from(HashMap.values(s.conversations))
        .filter((e) => DateTime.lessThan(e.value.updatedAt, cutoff) && !busy.has(e.value.id))
        .sort(
          (a, b) =>
            DateTime.toEpochMillis(a.value.updatedAt) - DateTime.toEpochMillis(b.value.updatedAt) ||
            a.seq - b.seq,
        )
        .map((e) => e.value)
    }).pipe(Effect.withSpan("ConversationStore.listConversationsOlderThan"))

  const deleteConversation: ConversationStoreShape["deleteConversation"] = (id) =>
    modify((s) => {
      if (!HashMap.has(s.conversations, id)) return step(Effect.fail(new ConversationNotFound({ id })), s)
      const next: State = {
        ...s,
        conversations: HashMap.remove(s.conversations, id),
        owners: HashMap.filter(s.owners, (owner) => owner !== id),
        tasks: HashMap.filter(s.tasks, (e) => e.value.conversationId !== id),
        replies: Chunk.filter(s.replies, (r) => r.conversationId !== id),
        events: Chunk.filter(s.events, (e) => e.conversationId !== id),
        network: Chunk.filter(s.network, (e) => e.conversationId !== id),
      }
      return step(Effect.void, next)
    }).pipe(Effect.withSpan("ConversationStore.deleteConversation"))

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
    healthCheck: Effect.void,
  })
})

/** In-memory `ConversationStore`; every build starts empty. */
export const ConversationStoreMemory: Layer.Layer<ConversationStore> = Layer.effect(
  ConversationStore,
  makeConversationStoreMemory,
)
