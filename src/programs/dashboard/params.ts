import { HttpRouter, HttpServerRequest } from "@effect/platform"
import { Effect, ParseResult, Schema } from "effect"
import { ConversationId } from "../../schema/ConversationId.js"
import { TaskId } from "../../schema/TaskId.js"
import { BadRequest } from "./errors.js"

const toBadRequest = (error: ParseResult.ParseError) =>
  new BadRequest({
    message: ParseResult.ArrayFormatter.formatErrorSync(error)
      .map((issue) => `${issue.path.join(".") || "request"}: ${issue.message}`)
      .join("; "),
  })

const ConversationPath = Schema.Struct({ id: ConversationId })
const TaskPath = Schema.Struct({ taskId: TaskId })

/** The `:id` of a conversation route; 400 when it is not a conversation id. */
export const conversationIdParam = HttpRouter.schemaPathParams(ConversationPath).pipe(
  Effect.map((p) => p.id),
  Effect.mapError(toBadRequest),
)

/** The `:taskId` of a task route; 400 when it is not a task id. */
export const taskIdParam = HttpRouter.schemaPathParams(TaskPath).pipe(
  Effect.map((p) => p.taskId),
  Effect.mapError(toBadRequest),
)

const Offset = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())
const Limit = Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000))
const Flag = Schema.Literal("true", "false", "1", "0").pipe(
  Schema.transform(Schema.Boolean, {
    strict: true,
    decode: (s) => s === "true" || s === "1",
    encode: (b) => (b ? "true" : "false"),
  }),
)

const LogQuery = Schema.Struct({
  offset: Schema.optionalWith(Offset, { default: () => 0 }),
  limit: Schema.optionalWith(Limit, { default: () => 500 }),
  blocked: Schema.optionalWith(Flag, { default: () => false }),
})

/** `?offset=N&limit=M&blocked=true` of the log routes; 400 on anything else in them. */
export const logQuery = HttpServerRequest.schemaSearchParams(LogQuery).pipe(Effect.mapError(toBadRequest))
