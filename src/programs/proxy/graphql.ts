/**
 * The GraphQL operation allowlist: for an endpoint whose allowlist entry carries `graphql`, the
 * request must execute exactly one operation whose top-level fields are all listed for its
 * kind (`queries`, `mutations`, `subscriptions`; `*` patterns allowed, case-sensitive). Anything
 * we cannot read with certainty (not JSON, a batch, several operations and no name, a parse
 * error, a body over 1 MiB) is refused rather than guessed at.
 */

import { Either } from "effect"
import type { DocumentNode, OperationDefinitionNode, SelectionSetNode } from "graphql/language/ast.js"
// The language modules only: the package index would bundle the whole execution engine.
import { Kind } from "graphql/language/kinds.js"
import { parse } from "graphql/language/parser.js"
import { globMatch } from "./glob.js"

export interface GraphqlOperations {
  readonly queries?: ReadonlyArray<string>
  readonly mutations?: ReadonlyArray<string>
  readonly subscriptions?: ReadonlyArray<string>
}

export const graphqlBodyLimit = 1024 * 1024

export interface GraphqlRequest {
  readonly query: string
  readonly operationName: string | undefined
}

export interface GraphqlVerdict {
  /** `mutation/createIssue,addLabels`, for the log. */
  readonly operation: string
  readonly kind: "query" | "mutation" | "subscription"
  readonly fields: ReadonlyArray<string>
}

export interface GraphqlRefusal {
  /** What the log and the 403 say. */
  readonly detail: string
  /** Set when the operation was read but not allowed. */
  readonly verdict?: GraphqlVerdict
}

const refuse = (detail: string): Either.Either<never, GraphqlRefusal> => Either.left({ detail })

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** The query and operation name from a JSON body (POST) or the URL's query string (GET). */
export const readGraphqlRequest = (
  body: Uint8Array | undefined,
  rawQuery: string | undefined,
): Either.Either<GraphqlRequest, GraphqlRefusal> => {
  if (body !== undefined && body.length > 0) {
    if (body.length > graphqlBodyLimit) return refuse("body larger than 1 MiB")
    const parsed = Either.try((): unknown => JSON.parse(Buffer.from(body).toString("utf8")))
    if (Either.isLeft(parsed)) return refuse("body is not JSON")
    const value = parsed.right
    if (Array.isArray(value)) return refuse("batched operations are not allowed")
    if (!isRecord(value) || typeof value.query !== "string") return refuse("body has no query")
    const name = value.operationName
    if (name !== undefined && name !== null && typeof name !== "string")
      return refuse("operationName is not a string")
    return Either.right({ query: value.query, operationName: typeof name === "string" ? name : undefined })
  }
  const params = new URLSearchParams(rawQuery ?? "")
  const query = params.getAll("query")
  if (query.length !== 1 || query[0] === undefined) return refuse("request has no query")
  const names = params.getAll("operationName")
  if (names.length > 1) return refuse("operationName given twice")
  return Either.right({ query: query[0], operationName: names[0] === "" ? undefined : names[0] })
}

const topLevelFields = (
  document: DocumentNode,
  selectionSet: SelectionSetNode,
  seen: Set<string>,
): Either.Either<ReadonlyArray<string>, GraphqlRefusal> => {
  const fields: Array<string> = []
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      // The field's real name, never its alias.
      fields.push(selection.name.value)
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const inner = topLevelFields(document, selection.selectionSet, seen)
      if (Either.isLeft(inner)) return inner
      fields.push(...inner.right)
    } else {
      const name = selection.name.value
      if (seen.has(name)) return refuse(`fragment ${name} spreads itself`)
      const fragment = document.definitions.find(
        (d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === name,
      )
      if (fragment === undefined || fragment.kind !== Kind.FRAGMENT_DEFINITION) {
        return refuse(`fragment ${name} is not defined`)
      }
      const inner = topLevelFields(document, fragment.selectionSet, new Set([...seen, name]))
      if (Either.isLeft(inner)) return inner
      fields.push(...inner.right)
    }
  }
  return Either.right(fields)
}

/** Which operation the request executes, and its top-level fields. */
export const readOperation = (request: GraphqlRequest): Either.Either<GraphqlVerdict, GraphqlRefusal> => {
  const document = Either.try(() => parse(request.query, { noLocation: true, maxTokens: 50_000 }))
  if (Either.isLeft(document)) return refuse("query does not parse")
  const operations = document.right.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  )
  const chosen =
    request.operationName === undefined
      ? operations.length === 1
        ? operations[0]
        : undefined
      : operations.find((o) => o.name?.value === request.operationName)
  if (chosen === undefined) {
    return refuse(
      request.operationName === undefined
        ? `${operations.length} operations and no operationName`
        : `no operation named ${request.operationName}`,
    )
  }
  const fields = topLevelFields(document.right, chosen.selectionSet, new Set())
  if (Either.isLeft(fields)) return Either.left(fields.left)
  const unique = [...new Set(fields.right)]
  return Either.right({
    kind: chosen.operation,
    fields: unique,
    operation: `${chosen.operation}/${unique.join(",")}`.slice(0, 300),
  })
}

const listFor = (rule: GraphqlOperations, kind: GraphqlVerdict["kind"]) =>
  kind === "query" ? rule.queries : kind === "mutation" ? rule.mutations : rule.subscriptions

/** Fields a rule does not allow. `__typename` is always allowed: it reads nothing. */
export const disallowedFields = (rule: GraphqlOperations, verdict: GraphqlVerdict): ReadonlyArray<string> => {
  const patterns = listFor(rule, verdict.kind) ?? []
  return verdict.fields.filter((f) => f !== "__typename" && !patterns.some((p) => globMatch(p, f)))
}

/** Checks the request against the rules of every matching entry; one entry allowing it is enough. */
export const checkGraphql = (
  rules: ReadonlyArray<GraphqlOperations>,
  body: Uint8Array | undefined,
  rawQuery: string | undefined,
): Either.Either<GraphqlVerdict, GraphqlRefusal> => {
  const request = readGraphqlRequest(body, rawQuery)
  if (Either.isLeft(request)) return Either.left(request.left)
  const verdict = readOperation(request.right)
  if (Either.isLeft(verdict)) return verdict
  const missing = rules.map((rule) => disallowedFields(rule, verdict.right))
  if (missing.some((m) => m.length === 0)) return verdict
  const fewest = missing.reduce((a, b) => (b.length < a.length ? b : a))
  return Either.left({
    detail: `${verdict.right.kind} ${fewest.join(", ")} not allowed`,
    verdict: { ...verdict.right, fields: fewest },
  })
}
