import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Sha256 } from "@aws-crypto/sha256-js"
import { assert, describe, it } from "@effect/vitest"
import { SignatureV4 } from "@smithy/signature-v4"
import { Effect, Option, Redacted } from "effect"
import { hostGlob } from "../../src/programs/proxy/glob.js"
import {
  detectSigV4,
  needsBody,
  parseQuery,
  resign,
  type SigningEntry,
} from "../../src/programs/proxy/sigv4.js"

const fixtures = join(import.meta.dirname, "..", "fixtures", "sigv4")
const surrogateKeyId = "AKIDSURROGATE0000000"
const surrogateToken = "SURROGATE-SESSION-TOKEN-0123456789"

interface Context {
  readonly credentials: {
    readonly access_key_id: string
    readonly secret_access_key: string
    readonly token?: string
  }
  readonly normalize: boolean
  readonly omit_session_token?: boolean
}

interface ParsedRequest {
  readonly method: string
  readonly target: string
  readonly rawHeaders: Array<string>
  readonly body: Uint8Array | undefined
}

/** The suite's request files: request line, `Name:value` lines, blank line, body. */
const parseRequest = (text: string): ParsedRequest => {
  const [head = "", ...rest] = text.split("\n\n")
  const [line = "", ...headerLines] = head.split("\n")
  const match = /^(\S+) (.*) HTTP\/1\.1$/.exec(line)
  const rawHeaders: Array<string> = []
  for (const h of headerLines) {
    const colon = h.indexOf(":")
    rawHeaders.push(h.slice(0, colon), h.slice(colon + 1))
  }
  const body = rest.join("\n\n")
  return {
    method: match?.[1] ?? "",
    target: match?.[2] ?? "",
    rawHeaders,
    body: body === "" ? undefined : Buffer.from(body, "utf8"),
  }
}

const header = (raw: ReadonlyArray<string>, name: string) => {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === name) return raw[i + 1]
  return undefined
}

const split = (target: string) => {
  const q = target.indexOf("?")
  return q < 0 ? { path: target, query: undefined } : { path: target.slice(0, q), query: target.slice(q + 1) }
}

const entryFor = (context: Context): SigningEntry => ({
  name: "aws",
  surrogateKeyId,
  keyId: Redacted.make(context.credentials.access_key_id),
  secret: Redacted.make(context.credentials.secret_access_key),
  sessionToken:
    context.credentials.token === undefined
      ? Option.none()
      : Option.some({ surrogate: surrogateToken, value: Redacted.make(context.credentials.token) }),
  scopes: [hostGlob("*.amazonaws.com")],
})

const vectors = readdirSync(fixtures).filter((name) => !name.includes("."))

describe("SigV4 re-signing against AWS's test suite", () => {
  it("has the vectors", () => {
    assert.isAtLeast(vectors.length, 15)
  })

  for (const name of vectors) {
    const context: Context = JSON.parse(readFileSync(join(fixtures, name, "context.json"), "utf8"))
    const entry = entryFor(context)
    const token = context.credentials.token

    it.effect(`${name}: header signature made with the surrogate key becomes AWS's`, () =>
      Effect.gen(function* () {
        const expected = parseRequest(readFileSync(join(fixtures, name, "header-signed-request.txt"), "utf8"))
        const expectedAuth = header(expected.rawHeaders, "authorization") ?? ""
        // What the agent sends: the same request signed with the surrogate key (any signature).
        const agentHeaders = expected.rawHeaders.map((value, i) =>
          i % 2 === 0
            ? value
            : expected.rawHeaders[i - 1]?.toLowerCase() === "authorization"
              ? value
                  .replace("AKIDEXAMPLE", surrogateKeyId)
                  .replace(/Signature=[0-9a-f]+/, `Signature=${"0".repeat(64)}`)
              : expected.rawHeaders[i - 1]?.toLowerCase() === "x-amz-security-token" && token !== undefined
                ? surrogateToken
                : value,
        )
        const { path, query } = split(expected.target)
        const match = detectSigV4([entry], agentHeaders, query)
        assert.isTrue(Option.isSome(match))
        if (Option.isNone(match)) return
        assert.strictEqual(match.value.mode, "header")
        const out = yield* resign(match.value, {
          method: expected.method,
          host: "example.amazonaws.com",
          rawPath: path,
          rawQuery: query,
          rawHeaders: agentHeaders,
          body: expected.body,
        })
        assert.strictEqual(header(out.rawHeaders, "authorization"), expectedAuth)
        if (token !== undefined) assert.strictEqual(header(out.rawHeaders, "x-amz-security-token"), token)
        assert.strictEqual(out.rawQuery, query)
      }),
    )

    if (context.omit_session_token === true) continue
    it.effect(`${name}: presigned URL made with the surrogate key becomes AWS's`, () =>
      Effect.gen(function* () {
        const expected = parseRequest(readFileSync(join(fixtures, name, "query-signed-request.txt"), "utf8"))
        const { path, query } = split(expected.target)
        const expectedParams = parseQuery(query)
        const agentQuery = (query ?? "")
          .replace("AKIDEXAMPLE", surrogateKeyId)
          .replace(/X-Amz-Signature=[0-9a-f]+/, `X-Amz-Signature=${"0".repeat(64)}`)
          .replace(/X-Amz-Security-Token=[^&]+/, `X-Amz-Security-Token=${surrogateToken}`)
        const match = detectSigV4([entry], expected.rawHeaders, agentQuery)
        assert.isTrue(Option.isSome(match))
        if (Option.isNone(match)) return
        assert.strictEqual(match.value.mode, "query")
        const out = yield* resign(match.value, {
          method: expected.method,
          host: "example.amazonaws.com",
          rawPath: path,
          rawQuery: agentQuery,
          rawHeaders: expected.rawHeaders,
          body: expected.body,
        })
        const got = parseQuery(out.rawQuery)
        const value = (params: ReturnType<typeof parseQuery>, n: string) =>
          params.find((p) => p.name === n)?.value
        assert.strictEqual(value(got, "X-Amz-Signature"), value(expectedParams, "X-Amz-Signature"))
        assert.strictEqual(value(got, "X-Amz-Credential"), value(expectedParams, "X-Amz-Credential"))
        assert.strictEqual(value(got, "X-Amz-Security-Token"), value(expectedParams, "X-Amz-Security-Token"))
      }),
    )
  }
})

describe("SigV4 re-signing rules", () => {
  const entry: SigningEntry = {
    name: "s3",
    surrogateKeyId: "AKIASURROGATE0000000",
    keyId: Redacted.make("AKIAREALKEY000000000"),
    secret: Redacted.make("real/secret+key0000000000000000000000000"),
    sessionToken: Option.none(),
    scopes: [hostGlob("*.amazonaws.com")],
  }
  const signAs = (
    keyId: string,
    secret: string,
    service: string,
    request: { path: string; headers: Record<string, string> },
  ) =>
    Effect.promise(() =>
      new SignatureV4({
        service,
        region: "eu-north-1",
        credentials: { accessKeyId: keyId, secretAccessKey: secret },
        sha256: Sha256,
        uriEscapePath: service !== "s3",
      }).sign(
        {
          method: "PUT",
          protocol: "https:",
          hostname: "bucket.s3.amazonaws.com",
          path: request.path,
          query: {},
          headers: request.headers,
          body: "hello",
        },
        { signingDate: new Date("2026-11-20T10:00:00Z") },
      ),
    )

  it.effect(
    "an S3 request signed with the surrogate is signed exactly as the SDK signs it with the real key",
    () =>
      Effect.gen(function* () {
        const headers = {
          host: "bucket.s3.amazonaws.com",
          "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
          "content-type": "text/plain",
        }
        const path = "/dir/file%20name.txt"
        const agent = yield* signAs(
          "AKIASURROGATE0000000",
          "surrogate/secret00000000000000000000000000",
          "s3",
          { path, headers },
        )
        const wanted = yield* signAs(
          "AKIAREALKEY000000000",
          "real/secret+key0000000000000000000000000",
          "s3",
          { path, headers },
        )
        const raw = Object.entries(agent.headers).flat()
        const match = detectSigV4([entry], raw, undefined)
        assert.isTrue(Option.isSome(match))
        if (Option.isNone(match)) return
        assert.isFalse(needsBody(match.value, raw))
        const out = yield* resign(match.value, {
          method: "PUT",
          host: "bucket.s3.amazonaws.com",
          rawPath: path,
          rawQuery: undefined,
          rawHeaders: raw,
          body: undefined,
        })
        assert.strictEqual(header(out.rawHeaders, "authorization"), wanted.headers.authorization)
      }),
  )

  it.effect("a key id that is not a surrogate is left alone", () =>
    Effect.sync(() => {
      const raw = [
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAOTHER/20261120/eu-north-1/s3/aws4_request, SignedHeaders=host, Signature=00",
      ]
      assert.isTrue(Option.isNone(detectSigV4([entry], raw, undefined)))
    }),
  )

  it.effect("SigV4A and signed streaming uploads are refused, not sent half re-signed", () =>
    Effect.gen(function* () {
      const v4a = [
        "Authorization",
        "AWS4-ECDSA-P256-SHA256 Credential=AKIASURROGATE0000000/20261120/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
        "x-amz-date",
        "20261120T100000Z",
      ]
      const m1 = detectSigV4([entry], v4a, undefined)
      assert.isTrue(Option.isSome(m1))
      if (Option.isNone(m1)) return
      const e1 = yield* Effect.flip(
        resign(m1.value, {
          method: "GET",
          host: "bucket.s3.amazonaws.com",
          rawPath: "/",
          rawQuery: undefined,
          rawHeaders: v4a,
          body: undefined,
        }),
      )
      assert.include(e1.detail, "SigV4A")
      const chunked = [
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIASURROGATE0000000/20261120/eu-north-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00",
        "x-amz-date",
        "20261120T100000Z",
        "x-amz-content-sha256",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
      ]
      const m2 = detectSigV4([entry], chunked, undefined)
      if (Option.isNone(m2)) return assert.fail("not detected")
      const e2 = yield* Effect.flip(
        resign(m2.value, {
          method: "PUT",
          host: "bucket.s3.amazonaws.com",
          rawPath: "/k",
          rawQuery: undefined,
          rawHeaders: chunked,
          body: undefined,
        }),
      )
      assert.include(e2.detail, "aws-chunked")
    }),
  )
})
