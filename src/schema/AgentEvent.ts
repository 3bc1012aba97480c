import { Option, Schema } from "effect"

/**
 * Claude Code's `--output-format stream-json --verbose` output, one JSON object per stdout line.
 * Field names are the CLI's own (snake_case). Each known kind is decoded into a tagged event that
 * keeps every field of the line, the ones named here typed and the rest as they came (the CLI
 * adds fields between releases; the dashboard shows them). A JSON object of a kind we do not
 * know is `Unknown`; a line that is not a JSON object is `Raw`.
 *
 * Kinds and fields as Claude Code 2.1.330 emitted them against the fake API are recorded in
 * test/fixtures/claude/*.jsonl.
 */

const optional = <A, I>(schema: Schema.Schema<A, I>) => Schema.optionalWith(schema, { exact: true })

// --- content blocks of assistant and user messages ---

export const TextBlock = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })
export type TextBlock = typeof TextBlock.Type

export const ToolUseBlock = Schema.Struct({
  type: Schema.Literal("tool_use"),
  id: Schema.String,
  name: Schema.String,
  input: Schema.Unknown,
})
export type ToolUseBlock = typeof ToolUseBlock.Type

export const ToolResultBlock = Schema.Struct({
  type: Schema.Literal("tool_result"),
  tool_use_id: Schema.String,
  content: optional(Schema.Union(Schema.String, Schema.Array(Schema.Unknown))),
  is_error: optional(Schema.Boolean),
})
export type ToolResultBlock = typeof ToolResultBlock.Type

/** Any other block (thinking, images, server tools): kept, not interpreted. */
export const OtherBlock = Schema.Struct({ type: Schema.String })
export type OtherBlock = typeof OtherBlock.Type

export const ContentBlock = Schema.Union(TextBlock, ToolUseBlock, ToolResultBlock, OtherBlock)
export type ContentBlock = typeof ContentBlock.Type

/** Token counts; the CLI adds more keys (server_tool_use, service_tier, ...), kept as they are. */
export const Usage = Schema.Struct({
  input_tokens: Schema.Number,
  output_tokens: Schema.Number,
  cache_creation_input_tokens: optional(Schema.Number),
  cache_read_input_tokens: optional(Schema.Number),
})
export type Usage = typeof Usage.Type

const Message = Schema.Struct({
  id: optional(Schema.String),
  model: optional(Schema.String),
  role: optional(Schema.String),
  /** A plain string in some user messages (the prompt echoed back); blocks otherwise. */
  content: Schema.Union(Schema.String, Schema.Array(ContentBlock)),
  usage: optional(Schema.Unknown),
})

// --- the fields of each kind, as on the wire ---

const common = {
  session_id: optional(Schema.String),
  uuid: optional(Schema.String),
}

const systemInitFields = {
  type: Schema.Literal("system"),
  subtype: Schema.Literal("init"),
  session_id: Schema.String,
  uuid: optional(Schema.String),
  model: optional(Schema.String),
  cwd: optional(Schema.String),
  tools: optional(Schema.Array(Schema.String)),
  claude_code_version: optional(Schema.String),
  permissionMode: optional(Schema.String),
  apiKeySource: optional(Schema.String),
}

/** The CLI retries a failed API call; one line per retry, before the next attempt. */
const systemApiRetryFields = {
  type: Schema.Literal("system"),
  subtype: Schema.Literal("api_retry"),
  ...common,
  attempt: Schema.Number,
  max_retries: optional(Schema.Number),
  retry_delay_ms: optional(Schema.Number),
  error_status: optional(Schema.NullOr(Schema.Number)),
  error: optional(Schema.String),
}

/** Other system lines: task_notification, compact_boundary, hook_started, status, ... */
const systemFields = {
  type: Schema.Literal("system"),
  subtype: Schema.String,
  ...common,
}

const assistantFields = {
  type: Schema.Literal("assistant"),
  ...common,
  message: Message,
  /** Set on the events of a subagent (the Task tool call that started it). */
  parent_tool_use_id: optional(Schema.NullOr(Schema.String)),
  /**
   * On the synthetic message the CLI writes when an API call failed: the error kind, the HTTP
   * status and the API's error type.
   */
  error: optional(Schema.String),
  is_api_error_message: optional(Schema.Boolean),
  api_error_status: optional(Schema.NullOr(Schema.Number)),
  api_error_type: optional(Schema.NullOr(Schema.String)),
}

const userFields = {
  type: Schema.Literal("user"),
  ...common,
  message: Message,
  parent_tool_use_id: optional(Schema.NullOr(Schema.String)),
}

/** A result's text: a string, or (older CLIs) a message with text blocks. */
export const ResultText = Schema.Union(Schema.String, Schema.Struct({ content: Schema.Array(ContentBlock) }))

const resultFields = {
  type: Schema.Literal("result"),
  /** `success` also when `is_error` is set (an API error ends the turn "successfully"). */
  subtype: Schema.String,
  is_error: Schema.Boolean,
  session_id: Schema.String,
  uuid: optional(Schema.String),
  result: optional(ResultText),
  duration_ms: optional(Schema.Number),
  duration_api_ms: optional(Schema.Number),
  num_turns: optional(Schema.Number),
  total_cost_usd: optional(Schema.Number),
  usage: optional(Usage),
  /** Why the run ended: completed, prompt_too_long, api_error, max_turns, ... */
  terminal_reason: optional(Schema.String),
  stop_reason: optional(Schema.NullOr(Schema.String)),
  /** The HTTP status and error type of the API call that ended the run, when one did. */
  api_error_status: optional(Schema.NullOr(Schema.Number)),
  api_error_type: optional(Schema.NullOr(Schema.String)),
  errors: optional(Schema.Array(Schema.String)),
}

// --- the events ---

export const SystemInit = Schema.TaggedStruct("SystemInit", systemInitFields)
export type SystemInit = typeof SystemInit.Type
export const SystemApiRetry = Schema.TaggedStruct("SystemApiRetry", systemApiRetryFields)
export type SystemApiRetry = typeof SystemApiRetry.Type
export const SystemEvent = Schema.TaggedStruct("SystemEvent", systemFields)
export type SystemEvent = typeof SystemEvent.Type
export const AssistantEvent = Schema.TaggedStruct("AssistantEvent", assistantFields)
export type AssistantEvent = typeof AssistantEvent.Type
export const UserEvent = Schema.TaggedStruct("UserEvent", userFields)
export type UserEvent = typeof UserEvent.Type
export const ResultEvent = Schema.TaggedStruct("ResultEvent", resultFields)
export type ResultEvent = typeof ResultEvent.Type
/** A JSON object of a kind (or shape) not described above. */
export const UnknownEvent = Schema.TaggedStruct("UnknownEvent", {
  type: Schema.String,
  json: Schema.Unknown,
})
export type UnknownEvent = typeof UnknownEvent.Type
/** A line that is not a JSON object (a crash message, a warning printed to stdout). */
export const RawLine = Schema.TaggedStruct("RawLine", { line: Schema.String })
export type RawLine = typeof RawLine.Type

export const AgentEvent = Schema.Union(
  SystemInit,
  SystemApiRetry,
  SystemEvent,
  AssistantEvent,
  UserEvent,
  ResultEvent,
  UnknownEvent,
  RawLine,
)
export type AgentEvent = typeof AgentEvent.Type

// --- parsing ---

const JsonObject = Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
const decodeObject = Schema.decodeUnknownOption(JsonObject)

// `preserve` keeps the fields we do not name: the event stays a full copy of its line.
const preserve = { onExcessProperty: "preserve" } as const
const wireSystemInit = Schema.decodeUnknownOption(Schema.Struct(systemInitFields), preserve)
const wireSystemApiRetry = Schema.decodeUnknownOption(Schema.Struct(systemApiRetryFields), preserve)
const wireSystem = Schema.decodeUnknownOption(Schema.Struct(systemFields), preserve)
const wireAssistant = Schema.decodeUnknownOption(Schema.Struct(assistantFields), preserve)
const wireUser = Schema.decodeUnknownOption(Schema.Struct(userFields), preserve)
const wireResult = Schema.decodeUnknownOption(Schema.Struct(resultFields), preserve)

const tagged =
  <T extends string>(_tag: T) =>
  <A extends object>(a: A): A & { readonly _tag: T } => ({ ...a, _tag })

/** Decodes one stdout line. Never fails: what is not a known event is Unknown or Raw. */
export const parseAgentLine = (line: string): AgentEvent => {
  const object = decodeObject(line)
  if (Option.isNone(object)) return RawLine.make({ line })
  const json = object.value
  const type = json.type
  if (typeof type !== "string") return UnknownEvent.make({ type: "", json })
  const unknown = (): AgentEvent => UnknownEvent.make({ type, json })
  switch (type) {
    case "system":
      return json.subtype === "init"
        ? Option.match(wireSystemInit(json), { onNone: unknown, onSome: tagged("SystemInit") })
        : json.subtype === "api_retry"
          ? Option.match(wireSystemApiRetry(json), { onNone: unknown, onSome: tagged("SystemApiRetry") })
          : Option.match(wireSystem(json), { onNone: unknown, onSome: tagged("SystemEvent") })
    case "assistant":
      return Option.match(wireAssistant(json), { onNone: unknown, onSome: tagged("AssistantEvent") })
    case "user":
      return Option.match(wireUser(json), { onNone: unknown, onSome: tagged("UserEvent") })
    case "result":
      return Option.match(wireResult(json), { onNone: unknown, onSome: tagged("ResultEvent") })
    default:
      return unknown()
  }
}

/** The text blocks of a message, in order. */
export const textOf = (content: AssistantEvent["message"]["content"]): ReadonlyArray<string> =>
  typeof content === "string"
    ? [content]
    : content.flatMap((block) => (block.type === "text" && "text" in block ? [block.text] : []))

/** A result's text, whichever form it came in. */
export const resultTextOf = (result: ResultEvent): Option.Option<string> =>
  Option.fromNullable(result.result).pipe(
    Option.map((r) =>
      typeof r === "string"
        ? r
        : r.content.flatMap((b) => (b.type === "text" && "text" in b ? [b.text] : [])).join("\n"),
    ),
  )
