import { Schema } from "effect"
import { ChannelKind } from "./ChannelKind.js"

/** Unauthenticated: the sender's identity did not check out (DMARC, Slack signature). Unauthorized: not allowed. */
export const RejectionReason = Schema.Literal("unauthenticated", "unauthorized")
export type RejectionReason = typeof RejectionReason.Type

/** An inbound message that was refused. Never answered on the channel; shown on the dashboard. */
export const Rejection = Schema.Struct({
  /** Store-wide sequence number; newer rejections have larger ones. */
  id: Schema.NonNegativeInt,
  channel: ChannelKind,
  repoId: Schema.String,
  sender: Schema.String,
  reason: RejectionReason,
  detail: Schema.String,
  channelMessageId: Schema.OptionFromNullOr(Schema.String),
  at: Schema.DateTimeUtcFromNumber,
}).annotations({ identifier: "Rejection" })
export interface Rejection extends Schema.Schema.Type<typeof Rejection> {}

export const NewRejection = Schema.Struct({
  channel: ChannelKind,
  repoId: Schema.String,
  sender: Schema.String,
  reason: RejectionReason,
  detail: Schema.String,
  channelMessageId: Schema.optionalWith(Schema.String, { exact: true }),
}).annotations({ identifier: "NewRejection" })
export interface NewRejection extends Schema.Schema.Type<typeof NewRejection> {}

/** Filters for `listRejections`; newest first, at most `limit` (default 100). */
export const RejectionQuery = Schema.Struct({
  repoId: Schema.optionalWith(Schema.String, { exact: true }),
  limit: Schema.optionalWith(Schema.NonNegativeInt, { exact: true }),
}).annotations({ identifier: "RejectionQuery" })
export interface RejectionQuery extends Schema.Schema.Type<typeof RejectionQuery> {}
