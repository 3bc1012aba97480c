/**
 * Configuration problems: the error types and the conversion of Schema parse issues into one
 * readable line per problem (`repos.app.email.imap.port: expected an integer from 1 to 65535,
 * got "abc"`).
 *
 * We walk the ParseIssue tree ourselves instead of using ArrayFormatter because its messages
 * print whole encoded values (which may hold secrets), report each failed union member and the
 * `undefined` arm of optional keys separately, and cannot suggest the key a typo meant.
 */
import { Option, type ParseResult, Schema, SchemaAST } from "effect"
import { getExpected, isSecret } from "./ConfigPrimitives.js"

export const ConfigIssue = Schema.Struct({
  path: Schema.String,
  message: Schema.String,
})
export type ConfigIssue = typeof ConfigIssue.Type

/** The file parsed but its content is wrong: every problem found, each with its path. */
export class ConfigInvalid extends Schema.TaggedError<ConfigInvalid>()("ConfigInvalid", {
  file: Schema.String,
  issues: Schema.Array(ConfigIssue),
}) {
  override get message(): string {
    return formatConfigInvalid(this)
  }
}

/** The file exists but could not be read (permissions, I/O). */
export class ConfigUnreadable extends Schema.TaggedError<ConfigUnreadable>()("ConfigUnreadable", {
  file: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `${this.file}: cannot read: ${this.reason}`
  }
}

/** The file name on top, then one line per issue. */
export const formatConfigInvalid = (e: {
  readonly file: string
  readonly issues: ReadonlyArray<ConfigIssue>
}) =>
  [
    `${e.file}: ${e.issues.length} problem${e.issues.length === 1 ? "" : "s"}`,
    ...e.issues.map((i) => `  ${i.path === "" ? "(top level)" : i.path}: ${i.message}`),
  ].join("\n")

// --- paths ---

const plainKey = /^[A-Za-z0-9_-]+$/

/** `repos.app.slack.authorized[0]`; keys with dots or spaces are quoted: `overrides["a.b"]`. */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, key) => {
    if (typeof key === "number") return `${acc}[${key}]`
    const name = String(key)
    if (plainKey.test(name)) return acc === "" ? name : `${acc}.${name}`
    return `${acc}[${JSON.stringify(name)}]`
  }, "")

/** True when `path` is `prefix` or lies under it. */
export const isUnderPath = (path: string, prefix: string): boolean =>
  prefix === "" || path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`)

// --- showing values ---

const kindOf = (u: unknown): string => {
  if (u === undefined) return "nothing"
  if (u === null) return "an empty value"
  if (Array.isArray(u)) return u.length === 0 ? "an empty list" : "a list"
  if (typeof u === "object") {
    const keys = Object.keys(u)
    if (keys.length === 0) return "an empty mapping"
    const shown = keys.slice(0, 5).join(", ")
    return `a mapping with key${keys.length === 1 ? "" : "s"} ${shown}${keys.length > 5 ? ", ..." : ""}`
  }
  if (typeof u === "string") return u === "" ? "an empty string" : "a string"
  if (typeof u === "number") return "a number"
  if (typeof u === "boolean") return "a boolean"
  return `a ${typeof u}`
}

const maxShown = 60

/** The value as the message shows it; secrets and structures only by kind. */
export const showActual = (u: unknown, hidden: boolean): string => {
  if (hidden) return kindOf(u)
  if (typeof u === "string") {
    return u.length > maxShown ? `${JSON.stringify(u.slice(0, maxShown))}...` : JSON.stringify(u)
  }
  if (typeof u === "number" || typeof u === "boolean") return String(u)
  return kindOf(u)
}

// --- issue walking ---

/** The "expected ..." phrase for a schema: its own annotation, else one derived from its shape. */
export const expectedText = (ast: SchemaAST.AST): string => {
  const own = getExpected(ast)
  if (Option.isSome(own)) return own.value
  switch (ast._tag) {
    case "StringKeyword":
      return "a string"
    case "NumberKeyword":
      return "a number"
    case "BooleanKeyword":
      return "true or false"
    case "Literal":
      return JSON.stringify(ast.literal)
    case "TypeLiteral":
      return "a mapping"
    case "TupleType":
      return "a list"
    case "Union":
      return ast.types.every(SchemaAST.isLiteral)
        ? `one of ${ast.types.map((t) => (SchemaAST.isLiteral(t) ? JSON.stringify(t.literal) : "")).join(", ")}`
        : "a value of another form"
    case "Refinement":
    case "Transformation":
      return expectedText(ast.from)
    default:
      return "a different value"
  }
}

/** Levenshtein distance, for "did you mean" on unknown keys. */
const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

const unknownKeyMessage = (key: PropertyKey | undefined, known: ReadonlyArray<string>): string => {
  const name = String(key ?? "")
  const close = known
    .map((k) => ({ k, d: distance(name.toLowerCase(), k.toLowerCase()) }))
    .filter(({ d }) => d <= Math.max(2, Math.floor(name.length / 4)))
    .sort((x, y) => x.d - y.d)[0]
  if (close !== undefined) return `unknown key (did you mean "${close.k}"?)`
  return known.length === 0 ? "unknown key" : `unknown key; allowed keys: ${known.join(", ")}`
}

interface Context {
  readonly path: ReadonlyArray<PropertyKey>
  readonly hidden: boolean
  /** Property names of the enclosing struct, for "did you mean". */
  readonly keys: ReadonlyArray<string>
  /** Key schema of the enclosing record, for invalid record keys. */
  readonly recordKey: SchemaAST.AST | undefined
}

const issueAt = (ctx: Context, message: string): ConfigIssue => ({ path: formatPath(ctx.path), message })

const unwrap = (issue: ParseResult.ParseIssue): ParseResult.ParseIssue =>
  issue._tag === "Refinement" || issue._tag === "Transformation" ? unwrap(issue.issue) : issue

/** Failures inside a struct or list (they carry their own paths) are reported per element. */
const isNested = (issue: ParseResult.ParseIssue): boolean => {
  const inner = unwrap(issue)
  return inner._tag === "Composite" && !SchemaAST.isUnion(inner.ast)
}

const structKeys = (ast: SchemaAST.AST): ReadonlyArray<string> => {
  switch (ast._tag) {
    case "TypeLiteral":
      return ast.propertySignatures.map((p) => String(p.name))
    case "Transformation":
      return structKeys(ast.from)
    case "Refinement":
      return structKeys(ast.from)
    default:
      return []
  }
}

const recordKeyOf = (ast: SchemaAST.AST): SchemaAST.AST | undefined =>
  SchemaAST.isTypeLiteral(ast) ? ast.indexSignatures[0]?.parameter : undefined

/**
 * Whether the schema expects a mapping or a list. A plain value found there is shown by kind
 * only: a secret put one level too high (`GH_TOKEN: ghp_...` instead of `GH_TOKEN: {value: ...}`)
 * must not be echoed.
 */
const expectsStructure = (ast: SchemaAST.AST): boolean => {
  switch (ast._tag) {
    case "TypeLiteral":
    case "TupleType":
      return true
    case "Refinement":
    case "Transformation":
      return expectsStructure(ast.from)
    case "Union":
      return ast.types.some(expectsStructure)
    default:
      return false
  }
}

const walk = (issue: ParseResult.ParseIssue, ctx: Context): ReadonlyArray<ConfigIssue> => {
  switch (issue._tag) {
    case "Pointer": {
      const segments = Array.isArray(issue.path) ? issue.path : [issue.path]
      return walk(issue.issue, { ...ctx, path: [...ctx.path, ...segments] })
    }
    case "Missing":
      return [issueAt(ctx, "required, but missing")]
    case "Unexpected": {
      if (ctx.recordKey !== undefined) {
        return [issueAt(ctx, `invalid key: expected ${expectedText(ctx.recordKey)}`)]
      }
      return [issueAt(ctx, unknownKeyMessage(ctx.path[ctx.path.length - 1], ctx.keys))]
    }
    case "Forbidden":
      return [issueAt(ctx, "could not be checked")]
    case "Type": {
      const hidden = ctx.hidden || isSecret(issue.ast) || expectsStructure(issue.ast)
      // A struct-level check (Schema.filter) that explains itself.
      if (
        issue.message !== undefined &&
        SchemaAST.isRefinement(issue.ast) &&
        Option.isNone(getExpected(issue.ast))
      ) {
        return [issueAt(ctx, issue.message)]
      }
      return [issueAt(ctx, `expected ${expectedText(issue.ast)}, got ${showActual(issue.actual, hidden)}`)]
    }
    case "Refinement":
    case "Transformation":
    case "Composite": {
      const hidden = ctx.hidden || isSecret(issue.ast)
      const expected = getExpected(issue.ast)
      if (Option.isSome(expected) && !isNested(issue)) {
        return [issueAt(ctx, `expected ${expected.value}, got ${showActual(issue.actual, hidden)}`)]
      }
      if (issue._tag !== "Composite") return walk(issue.issue, { ...ctx, hidden })
      if (SchemaAST.isUnion(issue.ast)) {
        return [issueAt(ctx, `expected ${expectedText(issue.ast)}, got ${showActual(issue.actual, hidden)}`)]
      }
      const inner: Context = {
        ...ctx,
        hidden,
        keys: structKeys(issue.ast),
        recordKey: recordKeyOf(issue.ast),
      }
      const children: ReadonlyArray<ParseResult.ParseIssue> =
        "_tag" in issue.issues ? [issue.issues] : issue.issues
      return children.flatMap((child) => walk(child, inner))
    }
  }
}

/** One issue per problem, each with its dotted path. */
export const issuesFromParseIssue = (issue: ParseResult.ParseIssue): ReadonlyArray<ConfigIssue> =>
  walk(issue, { path: [], hidden: false, keys: [], recordKey: undefined })
