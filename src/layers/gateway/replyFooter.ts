import type { AgentOutcome } from "../../schema/AgentOutcome.js"

const seconds = (ms: number) =>
  ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 60_000).toFixed(1)} min`

/** The cost line under every answer: what the run cost, how long it took, how many turns. */
export const costFooter = (outcome: AgentOutcome): string =>
  [
    `Cost $${outcome.costUsd.toFixed(4)}`,
    `${outcome.turns} ${outcome.turns === 1 ? "turn" : "turns"}`,
    seconds(outcome.durationMs),
    ...(outcome.recovered ? ["resumed in a fresh session"] : []),
  ].join(" · ")
