// @peculiar/x509 resolves its ASN.1 codecs through tsyringe, which needs the Reflect metadata
// polyfill loaded before it.
import "reflect-metadata"
import { webcrypto } from "node:crypto"
import { FileSystem, Path } from "@effect/platform"
import * as x509 from "@peculiar/x509"
import { Clock, Effect, Layer } from "effect"
import { AirutPaths } from "../services/AirutPaths.js"
import { CaError, type CaFiles, ProxyCa } from "../services/ProxyCa.js"

// ECDSA P-256: leaf signing happens per intercepted host on the proxy's hot path, and P-256
// signatures are an order of magnitude cheaper than RSA-2048 while every TLS client accepts them.
const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const
const validityDays = 3650
const ownerOnly = 0o600

const fingerprintOf = (cert: x509.X509Certificate) =>
  Effect.promise(() => cert.getThumbprint("SHA-256", webcrypto)).pipe(
    Effect.map((buf) =>
      Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":"),
    ),
  )

export const makeProxyCa = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const { stateDir } = yield* AirutPaths
  const dir = path.join(stateDir, "ca")
  const certPath = path.join(dir, "ca.crt")
  const keyPath = path.join(dir, "ca.key")

  const fail = (file: string) => (reason: string) => new CaError({ path: file, reason })

  const inspect: Effect.Effect<CaFiles, CaError> = Effect.gen(function* () {
    if (!(yield* fs.exists(certPath).pipe(Effect.mapError((e) => fail(certPath)(e.message))))) {
      return yield* fail(certPath)("missing; run `airut init` to generate the proxy CA")
    }
    const pem = yield* fs
      .readFileString(certPath)
      .pipe(Effect.mapError((e) => fail(certPath)(`cannot read the CA certificate: ${e.message}`)))
    const cert = yield* Effect.try({
      try: () => new x509.X509Certificate(pem),
      catch: () => fail(certPath)("is not a PEM certificate"),
    })
    const keyInfo = yield* fs
      .stat(keyPath)
      .pipe(
        Effect.mapError((e) => fail(keyPath)(`cannot read the CA key (${e.message}); run \`airut init\``)),
      )
    if ((keyInfo.mode & 0o077) !== 0) {
      return yield* fail(keyPath)(
        `is readable by other users (mode ${(keyInfo.mode & 0o777).toString(8)}); run \`chmod 600 ${keyPath}\``,
      )
    }
    const now = yield* Clock.currentTimeMillis
    if (cert.notAfter.getTime() <= now) {
      return yield* fail(certPath)(
        `expired on ${cert.notAfter.toISOString()}; delete ${dir} and run \`airut init\``,
      )
    }
    return { certPath, keyPath, fingerprint: yield* fingerprintOf(cert), notAfter: cert.notAfter }
  })

  const generate = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const made = yield* Effect.tryPromise({
      try: async () => {
        const keys = await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])
        const cert = await x509.X509CertificateGenerator.createSelfSigned(
          {
            serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString("hex"),
            name: "CN=Airut sandbox proxy CA, O=airut",
            notBefore: new Date(now - 60_000),
            notAfter: new Date(now + validityDays * 86_400_000),
            signingAlgorithm: algorithm,
            keys,
            extensions: [
              new x509.BasicConstraintsExtension(true, 0, true),
              new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
              await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
            ],
          },
          webcrypto,
        )
        const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)
        return { certPem: cert.toString("pem"), keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") }
      },
      catch: (cause) => fail(certPath)(`could not generate the CA: ${String(cause)}`),
    })
    const writeFailed = (file: string) => (e: { readonly message: string }) => fail(file)(e.message)
    yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(Effect.mapError(writeFailed(dir)))
    // The key is written to a temp file created 0600 and renamed into place, so no reader
    // ever sees a partial key or a moment where it has wider permissions.
    const tmpKey = `${keyPath}.tmp`
    yield* fs
      .writeFileString(tmpKey, made.keyPem, { mode: ownerOnly })
      .pipe(Effect.mapError(writeFailed(tmpKey)))
    yield* fs.chmod(tmpKey, ownerOnly).pipe(Effect.mapError(writeFailed(tmpKey)))
    yield* fs.rename(tmpKey, keyPath).pipe(Effect.mapError(writeFailed(keyPath)))
    const tmpCert = `${certPath}.tmp`
    yield* fs
      .writeFileString(tmpCert, made.certPem, { mode: 0o644 })
      .pipe(Effect.mapError(writeFailed(tmpCert)))
    yield* fs.rename(tmpCert, certPath).pipe(Effect.mapError(writeFailed(certPath)))
    return yield* inspect
  })

  const ensure = Effect.gen(function* () {
    const exists = yield* fs.exists(certPath).pipe(Effect.mapError((e) => fail(certPath)(e.message)))
    if (exists) return { ...(yield* inspect), created: false }
    return { ...(yield* generate), created: true }
  })

  return ProxyCa.of({ ensure, inspect })
})

export const ProxyCaLive = Layer.effect(ProxyCa, makeProxyCa)

/**
 * The CA, made when the layer is built if it does not exist yet: what a program that starts
 * proxies wants, so no task pays for (or fails on) the first generation.
 */
export const ProxyCaEnsuredLive = Layer.effect(
  ProxyCa,
  Effect.tap(makeProxyCa, (ca) => ca.ensure),
)
