/**
 * AWS Signature Version 4 re-signing. The agent holds a surrogate key pair and signs with it;
 * a request whose credential names the surrogate key id, sent to a host in the credential's
 * scopes, is signed again with the real key before it leaves: the `Authorization` header, or the
 * `X-Amz-*` parameters of a presigned URL. The surrogate session token is replaced by the real
 * one before signing (the original signed over the surrogate token and swapped afterwards).
 * Signing is @smithy/signature-v4 (the AWS SDK's signer); canonicalization follows the SDK: S3
 * paths are used as sent, other services' paths normalized and encoded once more.
 */
import { Sha256 } from "@aws-crypto/sha256-js"
import { SignatureV4 } from "@smithy/signature-v4"
import { Data, Effect, Option, Redacted } from "effect"
import type { ProxySigningCredential } from "../../schema/ProxyConfig.js"
import { type Glob, hostGlob } from "./glob.js"
import { percentDecode } from "./requestTarget.js"

export interface SigningEntry {
  readonly name: string
  readonly surrogateKeyId: string
  readonly keyId: Redacted.Redacted<string>
  readonly secret: Redacted.Redacted<string>
  readonly sessionToken: Option.Option<{
    readonly surrogate: string
    readonly value: Redacted.Redacted<string>
  }>
  readonly scopes: ReadonlyArray<Glob>
}

export const compileSigning = (
  credentials: ReadonlyArray<ProxySigningCredential>,
): ReadonlyArray<SigningEntry> =>
  credentials.map((c) => ({
    name: c.name,
    surrogateKeyId: c.accessKeyId.surrogate,
    keyId: c.accessKeyId.value,
    secret: c.secretAccessKey,
    sessionToken: Option.fromNullable(c.sessionToken),
    scopes: c.scopes.map(hostGlob),
  }))

/** The request could not be re-signed; it is refused rather than sent with the surrogate. */
export class SigningFailed extends Data.TaggedError("SigningFailed")<{ readonly detail: string }> {}

export interface CredentialScope {
  readonly date: string
  readonly region: string
  readonly service: string
}

export interface SigV4Match {
  readonly entry: SigningEntry
  readonly mode: "header" | "query"
  readonly algorithm: string
  readonly scope: CredentialScope
  /** Lower-case names the agent signed. */
  readonly signedHeaders: ReadonlyArray<string>
}

const headerAuthRe =
  /^(AWS4-HMAC-SHA256|AWS4-ECDSA-P256-SHA256)\s+Credential=([^/\s,]+)\/([^,\s]+?),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)\s*$/

const parseScope = (rest: string): Option.Option<CredentialScope> => {
  const parts = rest.split("/")
  // SigV4: date/region/service/aws4_request; SigV4A: date/service/aws4_request (region set elsewhere).
  if (parts.length === 4 && parts[3] === "aws4_request") {
    return Option.some({ date: parts[0] ?? "", region: parts[1] ?? "", service: parts[2] ?? "" })
  }
  if (parts.length === 3 && parts[2] === "aws4_request") {
    return Option.some({ date: parts[0] ?? "", region: "", service: parts[1] ?? "" })
  }
  return Option.none()
}

export interface QueryParam {
  readonly raw: string
  readonly name: string
  readonly value: string
}

/** Splits a raw query string; names and values percent-decoded (`a` alone is `a=`). */
export const parseQuery = (rawQuery: string | undefined): ReadonlyArray<QueryParam> =>
  rawQuery === undefined || rawQuery === ""
    ? []
    : rawQuery
        .split("&")
        .filter((p) => p !== "")
        .map((raw) => {
          const eq = raw.indexOf("=")
          return eq < 0
            ? { raw, name: percentDecode(raw), value: "" }
            : { raw, name: percentDecode(raw.slice(0, eq)), value: percentDecode(raw.slice(eq + 1)) }
        })

const headerValues = (rawHeaders: ReadonlyArray<string>, lowerName: string): Array<string> => {
  const values: Array<string> = []
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] ?? "").toLowerCase() === lowerName) values.push(rawHeaders[i + 1] ?? "")
  }
  return values
}

/** Finds a signature made with one of our surrogate key ids, in the headers or the query. */
export const detectSigV4 = (
  entries: ReadonlyArray<SigningEntry>,
  rawHeaders: ReadonlyArray<string>,
  rawQuery: string | undefined,
): Option.Option<SigV4Match> => {
  if (entries.length === 0) return Option.none()
  for (const auth of headerValues(rawHeaders, "authorization")) {
    const m = headerAuthRe.exec(auth)
    if (m === null) continue
    const entry = entries.find((e) => e.surrogateKeyId === m[2])
    const scope = parseScope(m[3] ?? "")
    if (entry === undefined || Option.isNone(scope)) continue
    return Option.some({
      entry,
      mode: "header",
      algorithm: m[1] ?? "",
      scope: scope.value,
      signedHeaders: (m[4] ?? "").toLowerCase().split(";"),
    })
  }
  if (rawQuery === undefined || !rawQuery.includes("X-Amz-Credential")) return Option.none()
  const params = parseQuery(rawQuery)
  const credential = params.find((p) => p.name === "X-Amz-Credential")?.value ?? ""
  const slash = credential.indexOf("/")
  const entry = entries.find((e) => e.surrogateKeyId === credential.slice(0, slash))
  const scope = parseScope(credential.slice(slash + 1))
  if (slash < 0 || entry === undefined || Option.isNone(scope)) return Option.none()
  return Option.some({
    entry,
    mode: "query",
    algorithm: params.find((p) => p.name === "X-Amz-Algorithm")?.value ?? "",
    scope: scope.value,
    signedHeaders: (params.find((p) => p.name === "X-Amz-SignedHeaders")?.value ?? "host")
      .toLowerCase()
      .split(";"),
  })
}

const contentSha = (match: SigV4Match, rawHeaders: ReadonlyArray<string>) =>
  match.signedHeaders.includes("x-amz-content-sha256")
    ? headerValues(rawHeaders, "x-amz-content-sha256")[0]
    : undefined

/** Whether re-signing needs the request body (to hash it). */
export const needsBody = (match: SigV4Match, rawHeaders: ReadonlyArray<string>): boolean =>
  match.mode === "header" ? contentSha(match, rawHeaders) === undefined : match.scope.service !== "s3"

export interface SignableRequest {
  readonly method: string
  /** Host header value as sent (what the agent signed). */
  readonly host: string
  readonly rawPath: string
  readonly rawQuery: string | undefined
  readonly rawHeaders: ReadonlyArray<string>
  readonly body: Uint8Array | undefined
}

export interface Resigned {
  readonly rawHeaders: ReadonlyArray<string>
  readonly rawQuery: string | undefined
}

const signingParams = new Set([
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-SignedHeaders",
  "X-Amz-Signature",
  "X-Amz-Security-Token",
])

/** `20150830T123600Z` → Date. */
const parseAmzDate = (s: string | undefined): Option.Option<Date> => {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s ?? "")
  if (m === null) return Option.none()
  return Option.some(new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`))
}

/** RFC 3986 escaping, as SigV4 canonicalization (and smithy's escapeUri) uses it. */
const escapeUri = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

type SmithyRequest = Parameters<SignatureV4["presign"]>[0]

const queryBag = (params: ReadonlyArray<QueryParam>) => {
  const bag: Record<string, string | Array<string>> = {}
  for (const p of params) {
    const existing = bag[p.name]
    bag[p.name] =
      existing === undefined
        ? p.value
        : Array.isArray(existing)
          ? [...existing, p.value]
          : [existing, p.value]
  }
  return bag
}

const replaceHeader = (rawHeaders: ReadonlyArray<string>, lowerName: string, value: string | undefined) => {
  const out: Array<string> = []
  let placed = false
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? ""
    if (name.toLowerCase() === lowerName) {
      if (!placed && value !== undefined) out.push(name, value)
      placed = true
    } else {
      out.push(name, rawHeaders[i + 1] ?? "")
    }
  }
  if (!placed && value !== undefined) out.push(lowerName, value)
  return out
}

/** Signs the request again with the real key. Fails for what we cannot re-sign faithfully. */
export const resign = (match: SigV4Match, request: SignableRequest): Effect.Effect<Resigned, SigningFailed> =>
  Effect.gen(function* () {
    const fail = (detail: string) => Effect.fail(new SigningFailed({ detail }))
    if (match.algorithm !== "AWS4-HMAC-SHA256") {
      return yield* fail(
        `${match.algorithm || "this"} signatures (SigV4A) cannot be re-signed by the sandbox proxy`,
      )
    }
    const sha = contentSha(match, request.rawHeaders)
    if (sha?.startsWith("STREAMING-AWS4-") === true) {
      return yield* fail(
        "signed aws-chunked uploads cannot be re-signed; use unsigned payloads (UNSIGNED-PAYLOAD)",
      )
    }
    const { entry, scope } = match
    const token = Option.getOrUndefined(entry.sessionToken)
    const params = parseQuery(request.rawQuery)
    const signed = new Set(match.signedHeaders)
    const headers: Record<string, string> = {}
    for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
      const name = (request.rawHeaders[i] ?? "").toLowerCase()
      if (!signed.has(name)) continue
      let value = request.rawHeaders[i + 1] ?? ""
      if (name === "x-amz-security-token" && token !== undefined && value === token.surrogate) {
        value = Redacted.value(token.value)
      }
      headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`
    }
    if (signed.has("host") && headers.host === undefined) headers.host = request.host
    const surrogateTokenSent =
      token !== undefined &&
      (match.mode === "query"
        ? params.some((p) => p.name === "X-Amz-Security-Token" && p.value === token.surrogate)
        : headerValues(request.rawHeaders, "x-amz-security-token").includes(token.surrogate))
    const signsToken = surrogateTokenSent && (match.mode === "query" || signed.has("x-amz-security-token"))
    const signer = new SignatureV4({
      service: scope.service,
      region: scope.region,
      credentials: {
        accessKeyId: Redacted.value(entry.keyId),
        secretAccessKey: Redacted.value(entry.secret),
        ...(signsToken && token !== undefined ? { sessionToken: Redacted.value(token.value) } : {}),
      },
      sha256: Sha256,
      uriEscapePath: scope.service !== "s3",
      applyChecksum: false,
    })
    const attempt = <A>(f: () => Promise<A>) =>
      Effect.tryPromise({
        try: f,
        catch: (cause) => new SigningFailed({ detail: `signing failed: ${String(cause)}` }),
      })

    if (match.mode === "header") {
      const date = parseAmzDate(headerValues(request.rawHeaders, "x-amz-date")[0])
      if (Option.isNone(date)) return yield* fail("the request has no X-Amz-Date header to re-sign with")
      const toSign: SmithyRequest = {
        method: request.method,
        protocol: "https:",
        hostname: request.host,
        path: request.rawPath,
        query: queryBag(params),
        headers,
        ...(request.body === undefined ? {} : { body: request.body }),
      }
      const result = yield* attempt(() =>
        signer.sign(toSign, {
          signingDate: date.value,
          signingRegion: scope.region,
          signingService: scope.service,
          signableHeaders: signed,
        }),
      )
      let out = replaceHeader(request.rawHeaders, "authorization", result.headers.authorization)
      out = replaceHeader(out, "x-amz-date", result.headers["x-amz-date"])
      if (surrogateTokenSent && token !== undefined) {
        out = replaceHeader(out, "x-amz-security-token", Redacted.value(token.value))
      }
      return { rawHeaders: out, rawQuery: request.rawQuery }
    }

    const date = parseAmzDate(params.find((p) => p.name === "X-Amz-Date")?.value)
    if (Option.isNone(date)) return yield* fail("the presigned URL has no X-Amz-Date to re-sign with")
    const expires = Number(params.find((p) => p.name === "X-Amz-Expires")?.value ?? "3600")
    const kept = params.filter((p) => !signingParams.has(p.name))
    // S3 presigned URLs sign UNSIGNED-PAYLOAD; other services sign the body's hash. The marker
    // header is used for the payload hash only: neither signed nor sent.
    const payloadHeaders: Record<string, string> =
      scope.service === "s3" && headers["x-amz-content-sha256"] === undefined
        ? { "x-amz-content-sha256": "UNSIGNED-PAYLOAD" }
        : {}
    const toPresign: SmithyRequest = {
      method: request.method,
      protocol: "https:",
      hostname: request.host,
      path: request.rawPath,
      query: queryBag(kept),
      headers: { ...headers, ...payloadHeaders },
      ...(request.body === undefined ? {} : { body: request.body }),
    }
    const result = yield* attempt(() =>
      signer.presign(toPresign, {
        signingDate: date.value,
        expiresIn: Number.isFinite(expires) ? expires : 3600,
        signingRegion: scope.region,
        signingService: scope.service,
        unhoistableHeaders: new Set([...Object.keys(headers), "x-amz-content-sha256"]),
        unsignableHeaders: new Set(Object.keys(payloadHeaders)),
        signableHeaders: signed,
      }),
    )
    const added: Array<string> = []
    const resultQuery = result.query ?? {}
    for (const name of signingParams) {
      const value = resultQuery[name]
      if (typeof value === "string") added.push(`${escapeUri(name)}=${escapeUri(value)}`)
    }
    const rawQuery = [...kept.map((p) => p.raw), ...added].join("&")
    return { rawHeaders: request.rawHeaders, rawQuery }
  })
