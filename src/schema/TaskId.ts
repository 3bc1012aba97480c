import { Effect, Random, Schema } from "effect"

/** A task's id: 12 lowercase hex characters (the original's `uuid4().hex[:12]`). */
export const TaskId = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{12}$/),
  Schema.brand("TaskId"),
  Schema.annotations({ identifier: "TaskId" }),
)
export type TaskId = typeof TaskId.Type

/** A fresh random id from Effect's `Random` (53-bit precision covers the 48 bits), so tests can seed it. */
export const randomTaskId: Effect.Effect<TaskId> = Effect.map(Random.nextIntBetween(0, 2 ** 48), (n) =>
  TaskId.make(n.toString(16).padStart(12, "0")),
)
