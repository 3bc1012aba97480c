import { createPrivateKey, X509Certificate } from "node:crypto"
import { chmodSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ProxyCaLive } from "../../src/layers/ProxyCaLive.js"
import { AirutPaths } from "../../src/services/AirutPaths.js"
import { ProxyCa } from "../../src/services/ProxyCa.js"

const caIn = (stateDir: string) =>
  ProxyCaLive.pipe(
    Layer.provide(Layer.succeed(AirutPaths, { configFile: join(stateDir, "airut.yaml"), stateDir })),
    Layer.provide(NodeContext.layer),
  )

describe("ProxyCa", () => {
  it.live("generates a CA certificate that signs, with its key readable by the owner only", () => {
    const stateDir = mkdtempSync(join(tmpdir(), "airut-ca-"))
    return Effect.gen(function* () {
      const ca = yield* ProxyCa
      const made = yield* ca.ensure
      assert.isTrue(made.created)
      const cert = new X509Certificate(readFileSync(made.certPath))
      assert.isTrue(cert.ca)
      assert.include(cert.subject, "Airut sandbox proxy CA")
      // Self-signed by the key on disk: the key and certificate belong together.
      assert.isTrue(cert.verify(cert.publicKey))
      const key = createPrivateKey(readFileSync(made.keyPath))
      assert.strictEqual(key.asymmetricKeyType, "ec")
      assert.isTrue(cert.checkPrivateKey(key))
      assert.strictEqual(made.fingerprint, cert.fingerprint256)

      const again = yield* ca.ensure
      assert.isFalse(again.created)
      assert.strictEqual(again.fingerprint, made.fingerprint)
    }).pipe(Effect.provide(caIn(stateDir)))
  })

  it.live("refuses a key other users can read, naming the file and the fix", () => {
    const stateDir = mkdtempSync(join(tmpdir(), "airut-ca-"))
    return Effect.gen(function* () {
      const ca = yield* ProxyCa
      const made = yield* ca.ensure
      chmodSync(made.keyPath, 0o644)
      const error = yield* Effect.flip(ca.inspect)
      assert.strictEqual(error.path, made.keyPath)
      assert.include(error.reason, "chmod 600")
    }).pipe(Effect.provide(caIn(stateDir)))
  })

  it.live("reports a missing CA with the command that makes one", () => {
    const stateDir = mkdtempSync(join(tmpdir(), "airut-ca-"))
    return Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.flatMap(ProxyCa, (ca) => ca.inspect))
      assert.include(error.reason, "airut init")
    }).pipe(Effect.provide(caIn(stateDir)))
  })
})
