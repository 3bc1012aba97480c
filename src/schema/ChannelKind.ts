import { Schema } from "effect"

/** Which channel a conversation lives on; thread keys are unique per channel and repo. */
export const ChannelKind = Schema.Literal("email", "slack")
export type ChannelKind = typeof ChannelKind.Type
