import { Effect, Random, Schema } from "effect"

/**
 * A conversation's id: 8 lowercase hex characters, as the original shows in subjects and
 * dashboard URLs. Short enough to read aloud; the store retries on the rare collision.
 */
export const ConversationId = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{8}$/),
  Schema.brand("ConversationId"),
  Schema.annotations({ identifier: "ConversationId" }),
)
export type ConversationId = typeof ConversationId.Type

/** A fresh random id from Effect's `Random`, so tests can seed it. */
export const randomConversationId: Effect.Effect<ConversationId> = Effect.map(
  Random.nextIntBetween(0, 2 ** 32),
  (n) => ConversationId.make(n.toString(16).padStart(8, "0")),
)
