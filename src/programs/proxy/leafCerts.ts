// @peculiar/x509 resolves its ASN.1 codecs through tsyringe, which needs the Reflect metadata
// polyfill loaded before it.
import "reflect-metadata"
import { webcrypto } from "node:crypto"
import { createSecureContext, type SecureContext } from "node:tls"
import * as x509 from "@peculiar/x509"
import { Cache, Clock, Data, Duration, Effect, Exit, Redacted } from "effect"

/**
 * Leaf certificates for TLS interception: one per host the agent connects to, signed by the
 * installation CA and cached (a bounded cache: the agent chooses the names, and must not be able
 * to make us hold unbounded state). All leaves share one ECDSA P-256 key pair made at start:
 * signing a certificate is then the only per-host cost.
 */

const ecdsa = { name: "ECDSA", namedCurve: "P-256" } as const
const signing = { name: "ECDSA", hash: "SHA-256" } as const
const leafValidityMs = 30 * 86_400_000
const cacheCapacity = 4096

export class CaUnusable extends Data.TaggedError("CaUnusable")<{ readonly detail: string }> {}
export class LeafFailed extends Data.TaggedError("LeafFailed")<{
  readonly host: string
  readonly detail: string
}> {}

export interface LeafCerts {
  /** The TLS context for a normalized host name. */
  readonly contextFor: (host: string) => Effect.Effect<SecureContext, LeafFailed>
  /**
   * The context when it is already made, synchronously: the handshake's hot path, which would
   * otherwise start a fiber per connection only to read the cache.
   */
  readonly ready: (host: string) => SecureContext | undefined
}

const randomSerial = () => {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16))
  // A positive INTEGER: the top bit clear.
  bytes[0] = (bytes[0] ?? 0) & 0x7f
  return Buffer.from(bytes).toString("hex")
}

export const makeLeafCerts = (ca: {
  readonly certPem: string
  readonly keyPem: Redacted.Redacted<string>
}): Effect.Effect<LeafCerts, CaUnusable> =>
  Effect.gen(function* () {
    const material = yield* Effect.tryPromise({
      try: async () => {
        const caCert = new x509.X509Certificate(ca.certPem)
        const caKey = await webcrypto.subtle.importKey(
          "pkcs8",
          x509.PemConverter.decodeFirst(Redacted.value(ca.keyPem)),
          ecdsa,
          false,
          ["sign"],
        )
        const leafKeys = await webcrypto.subtle.generateKey(ecdsa, true, ["sign", "verify"])
        const leafKeyPem = x509.PemConverter.encode(
          await webcrypto.subtle.exportKey("pkcs8", leafKeys.privateKey),
          "PRIVATE KEY",
        )
        const authorityKeyId = await x509.AuthorityKeyIdentifierExtension.create(
          caCert.publicKey,
          false,
          webcrypto,
        )
        return { caCert, caKey, leafKeys, leafKeyPem, authorityKeyId }
      },
      catch: (cause) =>
        new CaUnusable({
          detail: `the CA certificate or key cannot be used (an ECDSA P-256 PKCS#8 key is expected): ${String(cause)}`,
        }),
    })

    const issue = (host: string) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        return yield* Effect.tryPromise({
          try: async () => {
            const cert = await x509.X509CertificateGenerator.create(
              {
                serialNumber: randomSerial(),
                subject: `CN=${host}`,
                issuer: material.caCert.subject,
                notBefore: new Date(now - 3_600_000),
                notAfter: new Date(now + leafValidityMs),
                signingAlgorithm: signing,
                publicKey: material.leafKeys.publicKey,
                signingKey: material.caKey,
                extensions: [
                  new x509.BasicConstraintsExtension(false, undefined, true),
                  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
                  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
                  new x509.SubjectAlternativeNameExtension([{ type: "dns", value: host }], false),
                  material.authorityKeyId,
                ],
              },
              webcrypto,
            )
            return createSecureContext({ key: material.leafKeyPem, cert: cert.toString("pem") })
          },
          catch: (cause) => new LeafFailed({ host, detail: String(cause) }),
        })
      })

    const cache = yield* Cache.makeWith({
      capacity: cacheCapacity,
      lookup: issue,
      // Failures are not remembered (the next handshake tries again); leaves are renewed well before
      // they expire.
      timeToLive: (exit) => (Exit.isSuccess(exit) ? Duration.days(7) : Duration.zero),
    })
    // Bounded like the cache, oldest first out (a Map iterates in insertion order).
    const made = new Map<string, SecureContext>()
    const remember = (host: string, context: SecureContext) => {
      if (made.size >= cacheCapacity) {
        const oldest = made.keys().next()
        if (oldest.done !== true) made.delete(oldest.value)
      }
      made.set(host, context)
    }
    return {
      contextFor: (host: string) =>
        Effect.tap(cache.get(host), (context) => Effect.sync(() => remember(host, context))),
      ready: (host: string) => made.get(host),
    }
  })
