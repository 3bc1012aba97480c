/**
 * Proves a repository's Slack app for `airut check`, before the daemon depends on it: the bot
 * token answers `auth.test` (naming the bot and the workspace), and the app-level token may
 * open Socket Mode (`apps.connections.open` only hands out a URL; nothing connects).
 */
import { type Logger, LogLevel, WebClient } from "@slack/web-api"
import { Effect, Redacted } from "effect"
import type { SlackConfig } from "../../schema/ServerConfig.js"
import { apiUrlOf, call } from "./api.js"

// The check prints its own line; the client's console logging would only repeat it.
const quiet: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
}

export const checkSlackApp = (config: SlackConfig): Effect.Effect<string, string> => {
  const options = {
    slackApiUrl: apiUrlOf(config.api_url),
    logger: quiet,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    timeout: 10_000,
  }
  const bot = new WebClient(Redacted.value(config.bot_token), options)
  const app = new WebClient(Redacted.value(config.app_token), options)
  return Effect.gen(function* () {
    const who = yield* call("auth.test", () => bot.auth.test()).pipe(
      Effect.mapError((e) => `the bot token was refused: ${e.message}`),
    )
    yield* call("apps.connections.open", () => app.apps.connections.open()).pipe(
      Effect.mapError(
        (e) =>
          `the app-level token cannot open Socket Mode: ${e.message} (it needs the connections:write scope, and Socket Mode on)`,
      ),
    )
    return `bot ${who.user ?? "?"} (${who.user_id ?? "?"}) in ${who.team ?? "?"} (${who.team_id ?? "?"}); Socket Mode allowed`
  })
}
