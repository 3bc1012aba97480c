/**
 * DKIM, SPF and DMARC checked by airut itself (`auth.verify_locally`), for a mailbox whose
 * server writes no Authentication-Results we could trust. The client address and HELO name
 * come from the topmost Received header: the one our own receiving server added.
 */
import { Effect, Either, Schema } from "effect"
import { authenticate, type DnsResolver } from "mailauth"

const MailauthResult = Schema.Struct({
  dmarc: Schema.Union(
    Schema.Literal(false),
    Schema.Struct({
      status: Schema.Struct({ result: Schema.String }),
      domain: Schema.optional(Schema.String),
    }),
  ),
})

/**
 * Right when DMARC passes for the From domain, Left with the reason otherwise (a failure of the
 * check itself is a Left too: unverified mail is refused).
 */
export const verifyLocally = (
  raw: Uint8Array,
  mta: string,
  resolver: DnsResolver | undefined,
): Effect.Effect<Either.Either<void, string>> =>
  Effect.tryPromise({
    try: () =>
      authenticate(Buffer.from(raw), {
        trustReceived: true,
        mta: mta.length > 0 ? mta : "airut",
        disableArc: true,
        disableBimi: true,
        ...(resolver === undefined ? {} : { resolver }),
      }),
    catch: (cause) => cause,
  }).pipe(
    Effect.flatMap(Schema.decodeUnknown(MailauthResult)),
    Effect.map((result): Either.Either<void, string> => {
      if (result.dmarc === false) return Either.left("no DMARC result (local check)")
      const verdict = result.dmarc.status.result.toLowerCase()
      return verdict === "pass" ? Either.right(undefined) : Either.left(`dmarc=${verdict} (local check)`)
    }),
    Effect.catchAll((cause) =>
      // The refusal carries the reason; the cause goes to the log, since a failing check
      // (DNS down) looks the same to the sender as a failed one.
      Effect.logWarning("local DKIM/SPF/DMARC check failed", cause).pipe(
        Effect.as(Either.left<string>("local DKIM/SPF/DMARC check could not run")),
      ),
    ),
  )
