import { generateKeyPairSync } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import type { DnsResolver } from "mailauth"
import { dkimSign } from "mailauth/lib/dkim/sign.js"
import { verifyLocally } from "../../src/layers/email/localAuth.js"

// A DKIM key of example.com, published through a fake resolver (no DNS leaves the test).
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 })
const publicDer = publicKey.export({ type: "spki", format: "der" }).toString("base64")
const records: Readonly<Record<string, ReadonlyArray<string>>> = {
  "s1._domainkey.example.com": [`v=DKIM1; k=rsa; p=${publicDer}`],
  "_dmarc.example.com": ["v=DMARC1; p=reject"],
  "example.com": ["v=spf1 -all"],
}
const resolver: DnsResolver = async (name, rrtype) => {
  const txt = rrtype === "TXT" ? records[name.toLowerCase()] : undefined
  if (txt === undefined) throw Object.assign(new Error(`no ${rrtype} for ${name}`), { code: "ENOTFOUND" })
  return txt.map((t) => [t])
}

const message = (body: string) =>
  [
    "Received: from mail.example.com (mail.example.com [192.0.2.10]) by mx.example.com with ESMTPS; Sun, 22 Nov 2026 10:00:00 +0000",
    "From: Alice Example <alice@example.com>",
    "To: airut@example.com",
    "Subject: Signed",
    "Message-ID: <signed-1@example.com>",
    "Date: Sun, 22 Nov 2026 10:00:00 +0000",
    "",
    body,
    "",
  ].join("\r\n")

const signed = (body: string) =>
  Effect.promise(async () => {
    const raw = message(body)
    const result = await dkimSign(raw, {
      signatureData: [
        {
          signingDomain: "example.com",
          selector: "s1",
          privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        },
      ],
    })
    const signatures =
      typeof result === "object" &&
      result !== null &&
      "signatures" in result &&
      typeof result.signatures === "string"
        ? result.signatures
        : ""
    return new Uint8Array(Buffer.from(signatures + raw))
  })

describe("local DKIM/SPF/DMARC verification (auth.verify_locally)", () => {
  it.live("an aligned DKIM signature passes DMARC even when SPF fails", () =>
    Effect.gen(function* () {
      const raw = yield* signed("Please run the tests.")
      assert.deepStrictEqual(yield* verifyLocally(raw, "mx.example.com", resolver), Either.right(undefined))
    }),
  )

  it.live("a body changed after signing fails", () =>
    Effect.gen(function* () {
      const raw = Buffer.from(yield* signed("Please run the tests."))
        .toString()
        .replace("run the tests", "delete main")
      const verdict = yield* verifyLocally(new Uint8Array(Buffer.from(raw)), "mx.example.com", resolver)
      assert.deepStrictEqual(verdict, Either.left("dmarc=fail (local check)"))
    }),
  )

  it.live("an unsigned message fails", () =>
    Effect.gen(function* () {
      const verdict = yield* verifyLocally(
        new Uint8Array(Buffer.from(message("hi"))),
        "mx.example.com",
        resolver,
      )
      assert.isTrue(Either.isLeft(verdict))
    }),
  )
})
