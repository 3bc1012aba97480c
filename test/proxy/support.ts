// @peculiar/x509 needs the Reflect metadata polyfill loaded first.
import "reflect-metadata"
import { execFile } from "node:child_process"
import { createHash, createHmac, webcrypto } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import type { IncomingHttpHeaders } from "node:http"
import * as http from "node:http"
import * as https from "node:https"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tls from "node:tls"
import * as x509 from "@peculiar/x509"
import { Effect } from "effect"

/**
 * Test upstreams: an HTTPS server on loopback with its own test CA (the proxy trusts it through
 * `upstreamCaPem`), serving every test host name, recording each request it receives.
 */

const ecdsa = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const

export interface TestPki {
  readonly caPem: string
  readonly caFile: string
  readonly certPem: string
  readonly keyPem: string
}

/** A CA and a server certificate for `names` (ECDSA P-256, like the proxy's). */
export const makeTestPki = (names: ReadonlyArray<string>): Effect.Effect<TestPki> =>
  Effect.promise(async () => {
    const caKeys = await webcrypto.subtle.generateKey(ecdsa, true, ["sign", "verify"])
    const now = Date.UTC(2026, 0, 1)
    const ca = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: "01",
        name: "CN=airut test upstream CA",
        notBefore: new Date(now - 86_400_000 * 365),
        notAfter: new Date(now + 86_400_000 * 3650),
        signingAlgorithm: ecdsa,
        keys: caKeys,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
          await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, webcrypto),
        ],
      },
      webcrypto,
    )
    const keys = await webcrypto.subtle.generateKey(ecdsa, true, ["sign", "verify"])
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: "02",
        subject: "CN=airut test upstream",
        issuer: ca.subject,
        notBefore: new Date(now - 86_400_000 * 365),
        notAfter: new Date(now + 86_400_000 * 3650),
        signingAlgorithm: ecdsa,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        extensions: [
          new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: "dns" as const, value }))),
          await x509.AuthorityKeyIdentifierExtension.create(ca.publicKey, false, webcrypto),
        ],
      },
      webcrypto,
    )
    const keyPem = x509.PemConverter.encode(
      await webcrypto.subtle.exportKey("pkcs8", keys.privateKey),
      "PRIVATE KEY",
    )
    const caPem = ca.toString("pem")
    const dir = mkdtempSync(join(tmpdir(), "airut-upstream-ca-"))
    const caFile = join(dir, "ca.crt")
    writeFileSync(caFile, caPem)
    return { caPem, caFile, certPem: cert.toString("pem"), keyPem }
  })

export interface Received {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly rawHeaders: ReadonlyArray<string>
  readonly body: string
  readonly sni: string
}

export interface TestUpstream {
  readonly port: number
  readonly received: Array<Received>
}

/**
 * An HTTPS server answering 200 with a JSON echo of what it received. `respond` may answer
 * instead (return true when it did).
 */
export const startUpstream = (
  pki: TestPki,
  respond?: (r: Received, res: import("node:http").ServerResponse) => boolean,
) =>
  Effect.acquireRelease(
    Effect.async<{ server: https.Server; upstream: TestUpstream }>((resume) => {
      const received: Array<Received> = []
      const server = https.createServer({ key: pki.keyPem, cert: pki.certPem }, (req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          const socket: unknown = req.socket
          const sni =
            typeof socket === "object" &&
            socket !== null &&
            "servername" in socket &&
            typeof socket.servername === "string"
              ? socket.servername
              : ""
          const r: Received = {
            method: req.method ?? "",
            url: req.url ?? "",
            headers: req.headers,
            rawHeaders: req.rawHeaders,
            body: Buffer.concat(chunks).toString("utf8"),
            sni,
          }
          received.push(r)
          if (respond?.(r, res) === true) return
          const text = JSON.stringify({ method: r.method, url: r.url, headers: r.headers, body: r.body })
          res.writeHead(200, {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(text),
          })
          res.end(text)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, upstream: { port, received } }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      }),
  ).pipe(Effect.map(({ upstream }) => upstream))

export interface RawResponse {
  readonly status: number
  readonly headers: string
  readonly body: string
}

const parseRaw = (text: string): RawResponse => {
  const split = text.indexOf("\r\n\r\n")
  const head = split < 0 ? text : text.slice(0, split)
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? "0")
  return { status, headers: head, body: split < 0 ? "" : text.slice(split + 4) }
}

/**
 * Sends `request` bytes as they are over TLS to the proxy (SNI `servername`), reading until the
 * server closes: for request forms no HTTP client would send.
 */
export const rawTls = (port: number, servername: string, request: string, caPem: string) =>
  Effect.async<RawResponse, Error>((resume) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername, ca: caPem }, () => {
      socket.write(request)
    })
    const chunks: Array<Buffer> = []
    socket.on("data", (c: Buffer) => {
      chunks.push(c)
      const text = Buffer.concat(chunks).toString("utf8")
      const parsed = parseRaw(text)
      const length = /content-length: (\d+)/i.exec(parsed.headers)?.[1]
      if (length !== undefined && Buffer.byteLength(parsed.body) >= Number(length)) socket.end()
    })
    socket.on("error", (e) => resume(Effect.fail(e)))
    socket.on("close", () => resume(Effect.succeed(parseRaw(Buffer.concat(chunks).toString("utf8")))))
    return Effect.sync(() => socket.destroy())
  })

export interface CurlResult {
  readonly status: number
  readonly body: string
  readonly stderr: string
}

/** Runs the real curl; the last line of its output is the status (`-w`). */
export const curl = (args: ReadonlyArray<string>) =>
  Effect.async<CurlResult, Error>((resume) => {
    const child = execFile(
      "curl",
      ["-sS", "--max-time", "20", "-w", "\n%{http_code}", ...args],
      { encoding: "utf8" },
      (error, stdout, stderr) => {
        const cut = stdout.lastIndexOf("\n")
        const status = Number(stdout.slice(cut + 1))
        if (error !== null && !Number.isFinite(status)) {
          resume(Effect.fail(error))
          return
        }
        resume(Effect.succeed({ status, body: stdout.slice(0, cut), stderr }))
      },
    )
    return Effect.sync(() => child.kill())
  })

/** Sends `request` bytes as they are over plain TCP, reading until the server closes. */
export const rawTcp = (port: number, request: string) =>
  Effect.async<RawResponse, Error>((resume) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.write(request))
    const chunks: Array<Buffer> = []
    socket.on("data", (c: Buffer) => chunks.push(c))
    socket.on("error", (e) => resume(Effect.fail(e)))
    socket.on("close", () => resume(Effect.succeed(parseRaw(Buffer.concat(chunks).toString("utf8")))))
    return Effect.sync(() => socket.destroy())
  })

const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data, "utf8").digest()
const sha256Hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex")
const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

const rawHeader = (r: Received, name: string) => {
  const values: Array<string> = []
  for (let i = 0; i + 1 < r.rawHeaders.length; i += 2) {
    if (r.rawHeaders[i]?.toLowerCase() === name)
      values.push((r.rawHeaders[i + 1] ?? "").trim().replace(/\s+/g, " "))
  }
  return values.join(",")
}

/**
 * Checks a received request's SigV4 signature the way an AWS service would, written from the
 * specification independently of the proxy's signer (simple paths only: no normalization).
 * Header or presigned form; `expectedKeyId` must be the key named in the credential.
 */
export const verifySigV4 = (r: Received, expectedKeyId: string, secret: string): boolean => {
  const q = r.url.indexOf("?")
  const path = q < 0 ? r.url : r.url.slice(0, q)
  const params = (q < 0 ? "" : r.url.slice(q + 1))
    .split("&")
    .filter((p) => p !== "")
    .map((p) => {
      const eq = p.indexOf("=")
      const name = decodeURIComponent(eq < 0 ? p : p.slice(0, eq))
      const value = eq < 0 ? "" : decodeURIComponent(p.slice(eq + 1))
      return { name, value }
    })
  const auth =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(
      rawHeader(r, "authorization"),
    )
  const presigned = params.find((p) => p.name === "X-Amz-Credential")
  let keyId: string
  let date: string
  let region: string
  let service: string
  let signedHeaders: Array<string>
  let signature: string
  let amzDate: string
  if (auth !== null) {
    ;[, keyId = "", date = "", region = "", service = "", , signature = ""] = auth
    signedHeaders = (auth[5] ?? "").split(";")
    amzDate = rawHeader(r, "x-amz-date")
  } else if (presigned !== undefined) {
    ;[keyId = "", date = "", region = "", service = ""] = presigned.value.split("/")
    signedHeaders = (params.find((p) => p.name === "X-Amz-SignedHeaders")?.value ?? "").split(";")
    signature = params.find((p) => p.name === "X-Amz-Signature")?.value ?? ""
    amzDate = params.find((p) => p.name === "X-Amz-Date")?.value ?? ""
  } else {
    return false
  }
  if (keyId !== expectedKeyId) return false
  const canonicalQuery = params
    .filter((p) => p.name !== "X-Amz-Signature")
    .map((p) => `${rfc3986(p.name)}=${rfc3986(p.value)}`)
    .sort()
    .join("&")
  const payload =
    auth === null && service === "s3"
      ? "UNSIGNED-PAYLOAD"
      : rawHeader(r, "x-amz-content-sha256") || sha256Hex(Buffer.from(r.body, "utf8"))
  const canonical = [
    r.method,
    path,
    canonicalQuery,
    signedHeaders.map((h) => `${h}:${rawHeader(r, h)}\n`).join(""),
    signedHeaders.join(";"),
    payload,
  ].join("\n")
  const scope = `${date}/${region}/${service}/aws4_request`
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonical)].join("\n")
  let key = hmac(`AWS4${secret}`, date)
  for (const part of [region, service, "aws4_request"]) key = hmac(key, part)
  return hmac(key, stringToSign).toString("hex") === signature
}

/** A plain HTTP upstream answering `plain <method> <url>`; its port. */
export const startPlainUpstream = Effect.acquireRelease(
  Effect.async<http.Server>((resume) => {
    const server = http.createServer((req, res) => {
      req.resume()
      req.on("end", () => res.end(`plain ${req.method} ${req.url}`))
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
      server.closeAllConnections()
    }),
).pipe(
  Effect.map((server) => {
    const address = server.address()
    return typeof address === "object" && address !== null ? address.port : 0
  }),
)
