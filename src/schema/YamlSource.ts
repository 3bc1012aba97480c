/**
 * Reading a YAML configuration text into a Schema-decoded value, with every problem collected.
 *
 * Stages: parse (syntax errors with line and column) -> resolve the custom tags
 *   `!env NAME`  the value of an environment variable (the process environment first, then the
 *                `dotenv` entries given by the caller, usually a `.env` file beside the config),
 *   `!var NAME`  a scalar from the top-level `vars:` mapping (when the caller enables vars),
 * -> decode with the schema (unknown keys rejected). Tag problems and schema problems are
 * reported together in one ConfigInvalid.
 */
import { Config, Effect, Either, Option, Schema } from "effect"
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type ScalarTag } from "yaml"
import {
  ConfigInvalid,
  type ConfigIssue,
  formatPath,
  issuesFromParseIssue,
  isUnderPath,
  showActual,
} from "./ConfigIssue.js"

/** Placeholder left in the parsed tree by `!env NAME`. */
class EnvRef {
  constructor(readonly name: string) {}
}

/** Placeholder left in the parsed tree by `!var NAME`. */
class VarRef {
  constructor(readonly name: string) {}
}

const customTags: ReadonlyArray<ScalarTag> = [
  { tag: "!env", resolve: (value) => new EnvRef(value.trim()), identify: (v) => v instanceof EnvRef },
  { tag: "!var", resolve: (value) => new VarRef(value.trim()), identify: (v) => v instanceof VarRef },
]

type Path = ReadonlyArray<PropertyKey>

const isMapping = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !(u instanceof EnvRef) && !(u instanceof VarRef)

// --- stage 1: parse ---

export interface ParsedYaml {
  readonly tree: unknown
  readonly issues: ReadonlyArray<ConfigIssue>
  /** Offset in the text of each key and list item, by formatted path (to list issues in file order). */
  readonly positions: ReadonlyMap<string, number>
}

const positionsOf = (root: unknown): ReadonlyMap<string, number> => {
  const positions = new Map<string, number>()
  const visit = (node: unknown, path: ReadonlyArray<PropertyKey>) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isScalar(pair.key)) continue
        const childPath = [...path, String(pair.key.value)]
        positions.set(formatPath(childPath), pair.key.range?.[0] ?? 0)
        visit(pair.value, childPath)
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const childPath = [...path, i]
        const range: Node["range"] | undefined =
          isMap(item) || isSeq(item) || isScalar(item) ? item.range : undefined
        positions.set(formatPath(childPath), range?.[0] ?? 0)
        visit(item, childPath)
      })
    }
  }
  visit(root, [])
  return positions
}

const lastSegment = /(\.[A-Za-z0-9_-]+|\[\d+\]|\["(?:[^"\\]|\\.)*"\])$/

/** Issues in the order their keys appear in the file; a missing key sorts with its parent. */
const inFileOrder = (issues: ReadonlyArray<ConfigIssue>, positions: ReadonlyMap<string, number>) => {
  const positionOf = (path: string): number => {
    let current = path
    while (current !== "") {
      const found = positions.get(current)
      if (found !== undefined) return found
      const parent = current.replace(lastSegment, "")
      if (parent === current) return -1
      current = parent
    }
    return -1
  }
  return issues
    .map((issue, index) => ({ issue, index, at: positionOf(issue.path) }))
    .sort((a, b) => a.at - b.at || a.index - b.index)
    .map(({ issue }) => issue)
}

const explainYamlProblem = (code: string, message: string): string =>
  code === "TAG_RESOLVE_FAILED"
    ? `${message} (supported tags: !env NAME and !var NAME, on single values only)`
    : message

/**
 * Parses YAML 1.2 (so `yes`/`no` stay strings). Messages carry line and column but never the
 * source line itself: that line may hold a secret.
 */
export const parseYaml = (text: string): ParsedYaml => {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {
    customTags: [...customTags],
    lineCounter,
    prettyErrors: false,
    version: "1.2",
    uniqueKeys: true,
  })
  const problems = [...doc.errors, ...doc.warnings].map((e) => {
    const { line, col } = lineCounter.linePos(e.pos[0])
    return {
      path: "",
      message: `YAML syntax: line ${line}, column ${col}: ${explainYamlProblem(e.code, e.message)}`,
    }
  })
  if (problems.length > 0) return { tree: undefined, issues: problems, positions: new Map() }
  return Either.try({
    try: (): ParsedYaml => ({
      tree: doc.toJS({ maxAliasCount: 100 }),
      issues: [],
      positions: positionsOf(doc.contents),
    }),
    catch: (cause): ParsedYaml => ({
      tree: undefined,
      issues: [
        { path: "", message: `YAML structure: ${cause instanceof Error ? cause.message : String(cause)}` },
      ],
      positions: new Map(),
    }),
  }).pipe(Either.merge)
}

// --- stage 2: resolve tags ---

/** The names of every `!env` in the tree, so the caller can read them (through Effect Config). */
export const envNames = (tree: unknown): ReadonlyArray<string> => {
  const names = new Set<string>()
  const visit = (u: unknown): void => {
    if (u instanceof EnvRef) names.add(u.name)
    else if (Array.isArray(u)) u.forEach(visit)
    else if (isMapping(u)) Object.values(u).forEach(visit)
  }
  visit(tree)
  return [...names]
}

export interface ResolveOptions {
  /** The environment as seen by the config (process environment over `.env`). */
  readonly env: (name: string) => string | undefined
  /** Whether the document may define `vars:` and use `!var`. */
  readonly vars: boolean
  /** Whether `!env` may be used (false for files that come from a repository). */
  readonly envAllowed?: boolean
  /** Paths where `!env NAME` becomes `{ name: NAME, value }` instead of the bare value. */
  readonly keepEnvName?: (path: Path) => boolean
}

export interface ResolvedYaml {
  /** The tree with tags replaced; `vars` removed (its values have been applied). */
  readonly tree: unknown
  readonly issues: ReadonlyArray<ConfigIssue>
  /** Formatted paths whose value came from `!env`. */
  readonly envPaths: ReadonlySet<string>
  /** Every value read through `!env`: kept out of validation messages. */
  readonly envValues: ReadonlyArray<string>
}

const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/

// A var can be missing (unknown name) or broken (its definition had a problem reported already).
type VarValue = { readonly ok: true; readonly value: unknown } | { readonly ok: false }

export const resolveTags = (tree: unknown, options: ResolveOptions): ResolvedYaml => {
  const issues: Array<ConfigIssue> = []
  const envPaths = new Set<string>()
  const envValues: Array<string> = []

  const readEnv = (ref: EnvRef, path: Path): Option.Option<string> => {
    if (options.envAllowed === false) {
      issues.push({ path: formatPath(path), message: "!env is not available in this file" })
      return Option.none()
    }
    if (ref.name === "") {
      issues.push({ path: formatPath(path), message: "!env needs a variable name, e.g. !env IMAP_PASSWORD" })
      return Option.none()
    }
    if (!envNamePattern.test(ref.name)) {
      issues.push({
        path: formatPath(path),
        message: `!env ${ref.name}: not a valid environment variable name`,
      })
      return Option.none()
    }
    const value = options.env(ref.name)
    if (value === undefined) {
      issues.push({
        path: formatPath(path),
        message: `environment variable ${ref.name} is not set (used with !env; set it or add it to the .env file)`,
      })
      return Option.none()
    }
    envPaths.add(formatPath(path))
    envValues.push(value)
    return Option.some(value)
  }

  const vars = new Map<string, VarValue>()
  const rawVars = isMapping(tree) && options.vars ? tree.vars : undefined
  if (rawVars !== undefined && rawVars !== null) {
    if (!isMapping(rawVars)) {
      issues.push({
        path: "vars",
        message: `expected a mapping of names to values, got ${showActual(rawVars, true)}`,
      })
    } else {
      for (const [name, raw] of Object.entries(rawVars)) {
        const path = ["vars", name]
        if (raw instanceof EnvRef) {
          const value = readEnv(raw, path)
          vars.set(name, Option.isSome(value) ? { ok: true, value: value.value } : { ok: false })
        } else if (raw instanceof VarRef) {
          issues.push({
            path: formatPath(path),
            message: "a variable cannot refer to another variable (!var)",
          })
          vars.set(name, { ok: false })
        } else if (typeof raw === "string" || typeof raw === "number" || typeof raw === "boolean") {
          vars.set(name, { ok: true, value: raw })
        } else {
          issues.push({
            path: formatPath(path),
            message: `variables hold single values (a string, number or boolean), got ${showActual(raw, true)}`,
          })
          vars.set(name, { ok: false })
        }
      }
    }
  }

  // Returns none when the value is dropped (its problem is already recorded at this path).
  const resolve = (u: unknown, path: Path): Option.Option<unknown> => {
    if (u instanceof EnvRef) {
      const value = readEnv(u, path)
      return options.keepEnvName?.(path) === true
        ? Option.map(value, (v) => ({ name: u.name, value: v }))
        : value
    }
    if (u instanceof VarRef) {
      if (!options.vars) {
        issues.push({ path: formatPath(path), message: "!var is not available in this file" })
        return Option.none()
      }
      const found = vars.get(u.name)
      if (found === undefined) {
        issues.push({
          path: formatPath(path),
          message:
            u.name === ""
              ? "!var needs a variable name"
              : `unknown variable "${u.name}" (define it under vars:)`,
        })
        return Option.none()
      }
      if (!found.ok) {
        issues.push({
          path: formatPath(path),
          message: `variable "${u.name}" has a problem (see vars.${u.name})`,
        })
        return Option.none()
      }
      return Option.some(found.value)
    }
    if (Array.isArray(u)) {
      return Option.some(u.flatMap((item, i) => Option.toArray(resolve(item, [...path, i]))))
    }
    if (isMapping(u)) {
      const out: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(u)) {
        if (path.length === 0 && key === "vars" && options.vars) continue
        const resolved = resolve(value, [...path, key])
        if (Option.isSome(resolved)) out[key] = resolved.value
      }
      return Option.some(out)
    }
    return Option.some(u)
  }

  // An empty document is an empty mapping: every key takes its default.
  const root = tree === null || tree === undefined ? {} : tree
  return { tree: Option.getOrUndefined(resolve(root, [])), issues, envPaths, envValues }
}

// --- stage 3: decode ---

export interface YamlSourceOptions<A, I> {
  readonly file: string
  readonly text: string
  readonly schema: Schema.Schema<A, I>
  /** Fallback values for `!env` (a parsed `.env` file); the process environment wins. */
  readonly dotenv?: Readonly<Record<string, string>>
  readonly vars?: boolean
  /** Defaults to true. */
  readonly envAllowed?: boolean
  readonly keepEnvName?: (path: Path) => boolean
  /** Extra checks on the resolved tree (e.g. "this must come from !env"). */
  readonly check?: (resolved: ResolvedYaml) => ReadonlyArray<ConfigIssue>
}

export interface DecodedYaml<A> {
  readonly value: A
  readonly envPaths: ReadonlySet<string>
}

const readEnvironment = (names: ReadonlyArray<string>) =>
  Effect.forEach(
    names.filter((n) => envNamePattern.test(n)),
    (name) =>
      Config.option(Config.string(name)).pipe(
        Effect.either,
        Effect.map((result) => ({ name, result })),
      ),
  )

/** Hides every `!env` value wherever a message shows it. */
const hideEnvValues = (issues: ReadonlyArray<ConfigIssue>, values: ReadonlyArray<string>) => {
  const shown = values.filter((v) => v !== "").map((v) => showActual(v, false))
  return issues.map((issue) => ({
    path: issue.path,
    message: shown.reduce((message, s) => message.split(s).join("<redacted>"), issue.message),
  }))
}

export const decodeYaml = <A, I>(
  options: YamlSourceOptions<A, I>,
): Effect.Effect<DecodedYaml<A>, ConfigInvalid> =>
  Effect.gen(function* () {
    const fail = (issues: ReadonlyArray<ConfigIssue>) => new ConfigInvalid({ file: options.file, issues })
    const parsed = parseYaml(options.text)
    if (parsed.issues.length > 0) return yield* fail(parsed.issues)

    const envAllowed = options.envAllowed ?? true
    const environment = envAllowed ? yield* readEnvironment(envNames(parsed.tree)) : []
    const envIssues: Array<ConfigIssue> = []
    const fromEnv = new Map<string, string>()
    for (const { name, result } of environment) {
      if (Either.isLeft(result)) {
        envIssues.push({
          path: "",
          message: `cannot read environment variable ${name}: ${result.left.message}`,
        })
      } else if (Option.isSome(result.right)) {
        fromEnv.set(name, result.right.value)
      }
    }
    const resolved = resolveTags(parsed.tree, {
      env: (name) => fromEnv.get(name) ?? options.dotenv?.[name],
      vars: options.vars ?? false,
      envAllowed,
      ...(options.keepEnvName === undefined ? {} : { keepEnvName: options.keepEnvName }),
    })
    const sourceIssues = [...envIssues, ...resolved.issues, ...(options.check?.(resolved) ?? [])]

    const decoded = Schema.decodeUnknownEither(options.schema, { errors: "all", onExcessProperty: "error" })(
      resolved.tree,
    )
    // A value dropped because of a tag problem would also show up as missing or mistyped: keep
    // only the first explanation.
    const schemaIssues = Either.isLeft(decoded)
      ? issuesFromParseIssue(decoded.left.issue).filter(
          (issue) => !sourceIssues.some((s) => s.path !== "" && isUnderPath(issue.path, s.path)),
        )
      : []
    const issues = [...sourceIssues, ...schemaIssues]
    if (issues.length > 0 || Either.isLeft(decoded)) {
      return yield* fail(hideEnvValues(inFileOrder(issues, parsed.positions), resolved.envValues))
    }
    return { value: decoded.right, envPaths: resolved.envPaths }
  })
