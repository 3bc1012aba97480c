/**
 * The configuration reference (docs/config.md), generated from the schemas' annotations: the
 * key names and nesting from the AST, the type column from the "expected" phrase the
 * validation messages use, defaults and descriptions from the `default`/`description`
 * annotations. `scripts/gen-config-docs.ts` writes it; a test keeps the committed file current.
 */
import { Option, SchemaAST } from "effect"
import { expectedText } from "./ConfigIssue.js"
import { getExpected, getKeyLabel, isSecret } from "./ConfigPrimitives.js"
import { NetworkAllowlist, networkAllowlistPath } from "./NetworkAllowlist.js"
import { SandboxFile, sandboxFilePath } from "./SandboxFile.js"
import { ServerConfig } from "./ServerConfig.js"

interface Row {
  readonly key: string
  readonly type: string
  readonly default: string
  readonly description: string
}

interface Section {
  readonly path: string
  readonly rows: ReadonlyArray<Row>
}

/** The property signatures of a struct, seen through defaults (Transformation) and checks (Refinement). */
const structOf = (ast: SchemaAST.AST): SchemaAST.TypeLiteral | undefined => {
  switch (ast._tag) {
    case "TypeLiteral":
      return ast.propertySignatures.length > 0 ? ast : undefined
    case "Transformation":
    case "Refinement":
      return structOf(ast.from)
    default:
      return undefined
  }
}

const recordOf = (ast: SchemaAST.AST): SchemaAST.IndexSignature | undefined =>
  SchemaAST.isTypeLiteral(ast) && ast.propertySignatures.length === 0 ? ast.indexSignatures[0] : undefined

const listElementOf = (ast: SchemaAST.AST): SchemaAST.AST | undefined => {
  if (SchemaAST.isRefinement(ast)) return listElementOf(ast.from)
  return SchemaAST.isTupleType(ast) && ast.elements.length === 0 ? ast.rest[0]?.type : undefined
}

const keyLabel = (signature: SchemaAST.IndexSignature) =>
  `<${Option.getOrElse(getKeyLabel(signature.parameter), () => "key")}>`

/** A struct with its own "expected" phrase is documented as one value (e.g. `!env NAME`). */
const isLeaf = (ast: SchemaAST.AST) => Option.isSome(getExpected(ast))

const join = (path: string, key: string) => (path === "" ? key : `${path}.${key}`)

/** Where a field's own fields are documented, if it has any. */
const nestedOf = (
  path: string,
  ast: SchemaAST.AST,
): { readonly path: string; readonly ast: SchemaAST.AST } | undefined => {
  const documented = (node: SchemaAST.AST) => structOf(node) !== undefined && !isLeaf(node)
  if (documented(ast)) return { path, ast }
  const record = recordOf(ast)
  if (record !== undefined && documented(record.type))
    return { path: `${path}.${keyLabel(record)}`, ast: record.type }
  const element = listElementOf(ast)
  if (element !== undefined && documented(element)) return { path: `${path}[]`, ast: element }
  return undefined
}

const typeOf = (ast: SchemaAST.AST): string => {
  if (structOf(ast) !== undefined && !isLeaf(ast)) return "mapping (fields below)"
  const record = recordOf(ast)
  if (record !== undefined) {
    const values = structOf(record.type) !== undefined ? "settings (below)" : typeOf(record.type)
    return `mapping of \`${keyLabel(record)}\` to ${values}`
  }
  const element = listElementOf(ast)
  if (element !== undefined && structOf(element) !== undefined) {
    return `${Option.getOrElse(getExpected(ast), () => "a list")} (fields below)`
  }
  return `${expectedText(ast)}${isSecret(ast) ? " (secret)" : ""}`
}

const builtinDescriptions = new Set(["a string", "a number", "a boolean", "an integer"])

const descriptionOf = (ast: SchemaAST.AST): Option.Option<string> =>
  SchemaAST.getDescriptionAnnotation(ast).pipe(Option.filter((d) => !builtinDescriptions.has(d)))

const showDefault = (value: unknown): string => {
  if (Array.isArray(value)) return value.length === 0 ? "`[]`" : `\`${JSON.stringify(value)}\``
  if (typeof value === "object" && value !== null) return Object.keys(value).length === 0 ? "`{}`" : "(below)"
  return `\`${String(value)}\``
}

const cell = (s: string) => s.replace(/\|/g, "\\|")

interface Collected {
  readonly sections: ReadonlyArray<Section>
  readonly undocumented: ReadonlyArray<string>
}

const collect = (root: SchemaAST.AST): Collected => {
  const sections: Array<Section> = []
  const undocumented: Array<string> = []
  const visit = (path: string, ast: SchemaAST.AST) => {
    const struct = structOf(ast)
    if (struct === undefined) return
    const rows: Array<Row> = []
    const children: Array<{ readonly path: string; readonly ast: SchemaAST.AST }> = []
    for (const property of struct.propertySignatures) {
      const name = String(property.name)
      const description = descriptionOf(property.type)
      if (Option.isNone(description)) undocumented.push(join(path, name))
      const defaultValue = SchemaAST.getDefaultAnnotation(property.type)
      rows.push({
        key: name,
        type: typeOf(property.type),
        default: Option.isSome(defaultValue)
          ? showDefault(defaultValue.value)
          : property.isOptional
            ? "(none)"
            : "**required**",
        description: Option.getOrElse(description, () => ""),
      })
      const nested = nestedOf(join(path, name), property.type)
      if (nested !== undefined) children.push(nested)
    }
    sections.push({ path, rows })
    for (const child of children) visit(child.path, child.ast)
  }
  visit("", root)
  return { sections, undocumented }
}

/** Fields of the documented schemas that lack a description (kept empty by a test). */
export const undocumentedFields = (): ReadonlyArray<string> =>
  [ServerConfig, NetworkAllowlist, SandboxFile].flatMap((s) => collect(s.ast).undocumented)

const renderSections = (title: string, sections: ReadonlyArray<Section>, level: string) =>
  sections.flatMap((section) => [
    `${level} ${section.path === "" ? title : `\`${section.path}\``}`,
    "",
    "| Key | Type | Default | Description |",
    "| --- | --- | --- | --- |",
    ...section.rows.map(
      (r) => `| \`${r.key}\` | ${cell(r.type)} | ${cell(r.default)} | ${cell(r.description)} |`,
    ),
    "",
  ])

export const renderConfigDocs = (): string =>
  [
    "# Configuration reference",
    "",
    "<!-- Generated from src/schema by `npm run docs:config`. Do not edit by hand. -->",
    "",
    "## Server configuration: `~/.config/airut/airut.yaml`",
    "",
    "`airut init` writes a commented starter file; `airut config show` prints the values in effect.",
    "Without a file airut runs with the defaults below: the dashboard only, no repositories.",
    "",
    "- `!env NAME` takes a value from the environment, or else from a `.env` file next to the",
    "  config. An unset variable is an error that names it.",
    "- `!var name` takes a value from the top-level `vars:` mapping (single values only; a var may be",
    "  `!env NAME` but not another `!var`).",
    "- Unknown keys are errors (a misspelt security setting must not be silently ignored). Every",
    "  problem is reported at once, each with its path, e.g.",
    '  `repos.app.email.imap.port: expected an integer from 1 to 65535, got "abc"`.',
    "- Switches take `true` or `false` only; `yes`, `no`, `on` and `off` are rejected rather than",
    "  guessed. Numbers and switches may also be given as strings (`!env` values always are).",
    "- Secrets (marked *secret* below) are never printed: not in logs, validation messages, or",
    "  `airut config show`.",
    "",
    ...renderSections("Top level", collect(ServerConfig.ast).sections, "###"),
    "## Repository files",
    "",
    "These live in each repository and are read from its default branch, so changes take effect",
    "once merged. Unknown keys are errors here too.",
    "",
    `### \`${networkAllowlistPath}\``,
    "",
    "Where the agent's container may connect. Everything else is blocked. `!env` and `!var` are not",
    "available in this file.",
    "",
    ...renderSections("Top level", collect(NetworkAllowlist.ast).sections, "####"),
    `### \`${sandboxFilePath}\``,
    "",
    "Settings of `airut-sandbox run`. `!env NAME` reads the environment of airut-sandbox; secret",
    "values must use it.",
    "",
    ...renderSections("Top level", collect(SandboxFile.ast).sections, "####"),
  ].join("\n")
