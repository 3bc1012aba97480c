/**
 * Building blocks shared by every configuration schema (server config and the repo files).
 *
 * Each leaf schema carries an "expected" phrase. The issue formatter (ConfigIssue.ts) uses it to
 * write one readable sentence per problem instead of Effect's structural dump, and the reference
 * generator (ConfigDocs.ts) uses it as the type column, so the two never disagree.
 */
import { Option, Schema, SchemaAST } from "effect"

/** Annotation: the phrase completing "expected ..." for a value of this schema. */
export const ExpectedId: unique symbol = Symbol.for("airut/config/Expected")
/** Annotation: the value is a secret; messages never echo it and displays hide it. */
export const SecretId: unique symbol = Symbol.for("airut/config/Secret")
/** Annotation on a record's key schema: how the reference names the key (`repos.<id>`). */
export const KeyLabelId: unique symbol = Symbol.for("airut/config/KeyLabel")

export const getExpected = (ast: SchemaAST.Annotated): Option.Option<string> =>
  SchemaAST.getAnnotation<string>(ast, ExpectedId).pipe(Option.filter((s) => typeof s === "string"))

export const isSecret = (ast: SchemaAST.Annotated): boolean =>
  Option.isSome(SchemaAST.getAnnotation<boolean>(ast, SecretId))

export const getKeyLabel = (ast: SchemaAST.Annotated): Option.Option<string> =>
  SchemaAST.getAnnotation<string>(ast, KeyLabelId).pipe(Option.filter((s) => typeof s === "string"))

// --- field helpers: every field gets a description (the reference is generated from it) ---

/** A required field. */
export const required = <A, I>(schema: Schema.Schema<A, I>, description: string) =>
  schema.annotations({ description })

/** An optional field with no default: absent stays absent. */
export const optional = <A, I>(schema: Schema.Schema<A, I>, description: string) =>
  Schema.optionalWith(schema.annotations({ description }), { exact: true })

/**
 * An optional field that decodes to `value` when absent. The value is also stored as the
 * `default` annotation so the reference can print it.
 */
export const withDefault = <A, I>(schema: Schema.Schema<A, I>, value: NoInfer<A>, description: string) =>
  Schema.optionalWith(schema.annotations({ description, default: value }), {
    default: () => value,
    exact: true,
  })

// --- scalars ---

export const NonEmptyString = Schema.String.pipe(
  Schema.filter((s) => s.trim().length > 0),
  Schema.annotations({ [ExpectedId]: "a non-empty string" }),
)

/** A string that may be empty (e.g. `trusted_authserv_id: ""`). */
export const AnyString = Schema.String.annotations({ [ExpectedId]: "a string" })

/**
 * A secret string. Decodes to `Redacted` so it never prints by accident (logs, inspection,
 * JSON), and carries SecretId so validation messages never echo it.
 */
export const Secret = Schema.Redacted(NonEmptyString).annotations({
  [ExpectedId]: "a non-empty string",
  [SecretId]: true,
})

// Numbers also accept numeric strings: `!env` always yields a string, and `port: !env IMAP_PORT`
// should work the way it reads.
const NumberLike = Schema.Union(Schema.Number, Schema.NumberFromString)

export const integer = (min: number, max?: number) =>
  NumberLike.pipe(
    Schema.filter((n) => Number.isInteger(n) && n >= min && (max === undefined || n <= max)),
    Schema.annotations({
      [ExpectedId]: max === undefined ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`,
    }),
  )

export const decimal = (min: number) =>
  NumberLike.pipe(
    Schema.filter((n) => Number.isFinite(n) && n >= min),
    Schema.annotations({ [ExpectedId]: `a number of at least ${min}` }),
  )

export const Port = integer(1, 65535)

/**
 * Only `true` and `false` (also as the strings "true"/"false", for `!env`). YAML 1.2 already reads
 * `yes`/`no`/`on`/`off` as strings; we reject them instead of guessing, because several of these
 * switches (sandbox, foreign credentials) are security settings where a misread is costly.
 */
export const Flag = Schema.Union(Schema.Boolean, Schema.BooleanFromString).annotations({
  [ExpectedId]: "true or false",
})

export const oneOf = <const L extends ReadonlyArray<string>>(...values: L) =>
  Schema.Literal(...values).annotations({
    [ExpectedId]: `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`,
  })

const matching = (pattern: RegExp, expected: string) =>
  Schema.String.pipe(
    Schema.filter((s) => pattern.test(s)),
    Schema.annotations({ [ExpectedId]: expected }),
  )

export const EnvName = matching(
  /^[A-Za-z_][A-Za-z0-9_]*$/,
  "an environment variable name (letters, digits and _, not starting with a digit)",
)

/** A host name, or a pattern where `*` matches any run of characters and `?` one character. */
export const HostPattern = matching(
  /^[A-Za-z0-9*?._-]+$/,
  "a host name or pattern (letters, digits, '.', '-', '_', '*' and '?')",
)

export const EmailAddress = matching(/^[^@\s]+@[^@\s]+$/, "an email address")

/** An authorized sender: an exact address, or `*@domain` for everyone at that domain. */
export const SenderPattern = matching(
  /^(\*|[^@\s*]+)@[^@\s*]+$/,
  "an email address or *@domain (for any address at that domain)",
)

export const HttpsUrl = matching(/^https:\/\/[^\s/]+(\/\S*)?$/, "an https:// URL")

export const HttpUrl = matching(/^https?:\/\/[^\s/]+(\/\S*)?$/, "an http:// or https:// URL")

/** A non-empty list; `itemName` names the element in messages and in the reference. */
export const nonEmptyList = <A, I>(item: Schema.Schema<A, I>, itemName: string) =>
  Schema.Array(item).pipe(
    Schema.filter((items) => items.length > 0),
    Schema.annotations({ [ExpectedId]: `a non-empty list of ${itemName}` }),
  )

export const list = <A, I>(item: Schema.Schema<A, I>, itemName: string) =>
  Schema.Array(item).annotations({ [ExpectedId]: `a list of ${itemName}` })

/** A mapping from keys (validated by `key`, shown as `<label>` in the reference) to values. */
export const mapping = <K extends string, KI extends string, A, I>(
  key: Schema.Schema<K, KI>,
  label: string,
  value: Schema.Schema<A, I>,
) => Schema.Record({ key: key.annotations({ [KeyLabelId]: label }), value })
