/**
 * Who may use a repository from Slack: the configured rules in order, first match admits.
 * Before any rule, Slack's own facts about the sender: bots, deactivated accounts and people
 * of another workspace are never admitted (loop protection and tenancy). Users and group
 * members are looked up through caches (five minutes; a failed refresh may use the old answer
 * for up to an hour, never longer).
 */
import { Effect, Either, Option } from "effect"
import type { SlackConfig } from "../../schema/ServerConfig.js"
import type { SlackApiError } from "./api.js"
import { makeTtlCache } from "./ttlCache.js"

/** What `users.info` says about a person, the fields authorization and prompts need. */
export interface SlackUser {
  readonly id: string
  readonly teamId: string
  readonly name: string
  readonly deleted: boolean
  readonly isBot: boolean
  /** A guest: multi-channel (`is_restricted`) or single-channel (`is_ultra_restricted`). */
  readonly isGuest: boolean
}

/** The lookups authorization makes, backed by the Web API. */
export interface SlackDirectory {
  readonly userInfo: (id: string) => Effect.Effect<SlackUser, SlackApiError>
  /** The usergroup id of a handle (`eng` for `@eng`), none when no group has it. */
  readonly groupIdOf: (handle: string) => Effect.Effect<Option.Option<string>, SlackApiError>
  readonly groupMembers: (groupId: string) => Effect.Effect<ReadonlyArray<string>, SlackApiError>
}

export type Verdict = Either.Either<
  SlackUser,
  { readonly detail: string; readonly user: Option.Option<SlackUser> }
>

export interface Authorizer {
  /** Admit (the user) or refuse (why); a failed lookup without a usable cached answer fails. */
  readonly check: (userId: string) => Effect.Effect<Verdict, SlackApiError>
}

export const cacheTtl = "5 minutes"
export const cacheMaxStale = "1 hour"

export const makeAuthorizer = (options: {
  readonly rules: SlackConfig["authorized"]
  readonly teamId: string
  readonly directory: SlackDirectory
}): Effect.Effect<Authorizer> =>
  Effect.gen(function* () {
    const onStale = (what: string) => (key: string, error: SlackApiError) =>
      Effect.logWarning(
        `slack: ${what} ${key} could not be refreshed (${error.error}); using the cached answer`,
      )
    const users = yield* makeTtlCache({
      lookup: options.directory.userInfo,
      ttl: cacheTtl,
      maxStale: cacheMaxStale,
      onStale: onStale("user"),
    })
    const groups = yield* makeTtlCache({
      lookup: (handle: string) =>
        Effect.flatMap(options.directory.groupIdOf(handle), (id) =>
          Option.match(id, {
            onNone: () => Effect.succeed<ReadonlySet<string>>(new Set()),
            onSome: (groupId) =>
              Effect.map(options.directory.groupMembers(groupId), (members) => new Set(members)),
          }),
        ),
      ttl: cacheTtl,
      maxStale: cacheMaxStale,
      onStale: onStale("user group"),
    })

    const check = (userId: string) =>
      Effect.gen(function* () {
        const user = yield* users.get(userId)
        const refuse = (detail: string): Verdict => Either.left({ detail, user: Option.some(user) })
        if (user.isBot) return refuse("the sender is a bot")
        if (user.deleted) return refuse("the sender's account is deactivated")
        if (user.teamId !== options.teamId)
          return refuse(`the sender belongs to another workspace (${user.teamId})`)
        for (const rule of options.rules) {
          if ("workspace_members" in rule) {
            if (!user.isGuest) return Either.right(user)
          } else if ("user_group" in rule) {
            const members = yield* groups.get(rule.user_group)
            if (members.size === 0) {
              yield* Effect.logWarning(
                `slack: user group @${rule.user_group} is unknown or empty; it admits nobody`,
              )
            }
            if (members.has(user.id)) return Either.right(user)
          } else if (rule.user_id === user.id) {
            return Either.right(user)
          }
        }
        return refuse(
          user.isGuest ? "guests are not admitted by any rule" : "no authorization rule admits the sender",
        )
      })

    return { check }
  })
