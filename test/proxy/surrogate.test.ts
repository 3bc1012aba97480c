import { assert, describe, it } from "@effect/vitest"
import { Effect, Random, Redacted, Schema } from "effect"
import { MaskedSecret, SigningCredential } from "../../src/schema/Credentials.js"
import { cryptoRandom, makeSurrogate, planSurrogates } from "../../src/schema/Surrogate.js"

const classes = (s: string) => s.replace(/[A-Z]/g, "A").replace(/[a-z]/g, "a").replace(/[0-9]/g, "0")
const seeded = <A>(seed: number, effect: Effect.Effect<A>) => Effect.withRandom(effect, Random.make(seed))

describe("surrogates", () => {
  it.effect("keep length, known prefix and each character's class, and differ from the real value", () =>
    Effect.gen(function* () {
      const reals = [
        "ghp_0123456789abcdefghijABCDEFGHIJ012345",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
        "gho_abc",
        "ghs_abc123",
        "ghr_X",
        "sk-ant-api03-AbCdEf-123_xyz",
        "sk-proj-abcDEF123",
        "xoxb-1234-5678-abcdEFGH",
        "xoxp-1-2-3-abc",
        "AKIAIOSFODNN7EXAMPLE",
        "ASIAY34FZKBOKMUTVV7A",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "a",
      ]
      for (const real of reals) {
        const s = yield* makeSurrogate(real)
        assert.notStrictEqual(s, real)
        assert.strictEqual(s.length, real.length, real)
        assert.strictEqual(classes(s), classes(real), real)
      }
      assert.match(yield* makeSurrogate("sk-ant-api03-AbCdEf"), /^sk-ant-/)
      assert.match(yield* makeSurrogate("github_pat_11ABC"), /^github_pat_/)
    }).pipe(Effect.withRandom(cryptoRandom)),
  )

  it.effect("a value with nothing to reshape still gets a different surrogate of its length", () =>
    Effect.gen(function* () {
      for (const real of ["ghp_", "----", "sk-"]) {
        const s = yield* makeSurrogate(real)
        assert.notStrictEqual(s, real)
        assert.strictEqual(s.length, real.length)
      }
    }).pipe(Effect.withRandom(cryptoRandom)),
  )

  it.effect("are fresh each time and reproducible under a seeded Random", () =>
    Effect.gen(function* () {
      const real = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
      const a = yield* seeded(7, makeSurrogate(real))
      const b = yield* seeded(7, makeSurrogate(real))
      const c = yield* seeded(8, makeSurrogate(real))
      assert.strictEqual(a, b)
      assert.notStrictEqual(a, c)
      const x = yield* makeSurrogate(real).pipe(Effect.withRandom(cryptoRandom))
      const y = yield* makeSurrogate(real).pipe(Effect.withRandom(cryptoRandom))
      assert.notStrictEqual(x, y)
    }),
  )

  it.effect("a plan gives the container surrogates only and the proxy both", () =>
    Effect.gen(function* () {
      const masked = Schema.decodeUnknownSync(MaskedSecret)({
        value: "ghp_realREAL0123",
        scopes: ["api.github.com"],
      })
      const signing = Schema.decodeUnknownSync(SigningCredential)({
        type: "aws-sigv4",
        access_key_id: { name: "AWS_ACCESS_KEY_ID", value: "AKIAIOSFODNN7EXAMPLE" },
        secret_access_key: {
          name: "AWS_SECRET_ACCESS_KEY",
          value: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        },
        session_token: { name: "AWS_SESSION_TOKEN", value: "FwoGZXIvYXdzEBYaDrealtoken" },
        scopes: ["*.amazonaws.com"],
      })
      const plan = yield* planSurrogates({ GH_TOKEN: masked }, { aws: signing })
      assert.deepStrictEqual(Object.keys(plan.env).sort(), [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "GH_TOKEN",
      ])
      const env = JSON.stringify(plan.env)
      for (const real of [
        "ghp_realREAL0123",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "FwoGZXIvYXdzEBYaDrealtoken",
      ]) {
        assert.notInclude(env, real)
      }
      assert.strictEqual(plan.maskedSecrets[0]?.surrogate, plan.env.GH_TOKEN)
      assert.strictEqual(
        Redacted.value(plan.maskedSecrets[0]?.value ?? Redacted.make("")),
        "ghp_realREAL0123",
      )
      assert.deepStrictEqual(plan.maskedSecrets[0]?.headers, ["Authorization"])
      assert.strictEqual(plan.signingCredentials[0]?.accessKeyId.surrogate, plan.env.AWS_ACCESS_KEY_ID)
      assert.match(plan.env.AWS_ACCESS_KEY_ID ?? "", /^AKIA[A-Z0-9]{16}$/)
      assert.strictEqual(plan.signingCredentials[0]?.sessionToken?.surrogate, plan.env.AWS_SESSION_TOKEN)
    }).pipe(Effect.withRandom(cryptoRandom)),
  )
})
