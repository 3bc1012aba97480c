import { Effect } from "effect"
import type { RepoConfig, ServerConfig } from "../schema/ServerConfig.js"

/**
 * What the operator must hear about the network sandbox: repositories that run without it
 * (`network.sandbox_enabled: false`, the break-glass switch) and upstream overrides that
 * reroute traffic. `airut check` prints these; the daemon logs them at start and per task.
 */

/** Repositories whose tasks run without the proxy, by id. */
export const sandboxDisabledRepos = (config: ServerConfig): ReadonlyArray<string> =>
  Object.entries(config.repos)
    .filter(([, repo]) => !repo.network.sandbox_enabled)
    .map(([id]) => id)

const credentialCount = (repo: RepoConfig) =>
  Object.keys(repo.masked_secrets).length +
  Object.keys(repo.signing_credentials).length +
  Object.keys(repo.github_app_credentials).length

/** The warning for one repository with the sandbox off. */
export const sandboxDisabledMessage = (repoId: string, repo: RepoConfig): string => {
  const swapped = credentialCount(repo)
  return [
    `repository ${repoId} runs WITHOUT the network sandbox (network.sandbox_enabled: false):`,
    "its agent has open network access, no allowlist applies and nothing is logged per request.",
    swapped > 0
      ? `Its ${swapped} masked, signing or GitHub App credential(s) reach the container as surrogates that nothing swaps, so they will not work.`
      : "",
    "Turn it back on as soon as the emergency is over.",
  ]
    .filter((s) => s !== "")
    .join(" ")
}

/** The line about `network.upstream_overrides`, when any are set. */
export const upstreamOverridesMessage = (config: ServerConfig): string | undefined => {
  const overrides = Object.entries(config.network.upstream_overrides ?? {})
  return overrides.length === 0
    ? undefined
    : `network.upstream_overrides reroute the proxy's upstream connections: ${overrides.map(([h, a]) => `${h} -> ${a}`).join(", ")}`
}

/** Logs every sandbox warning of `config` at warning level (the daemon at start). */
export const logSandboxWarnings = (config: ServerConfig) =>
  Effect.gen(function* () {
    for (const repoId of sandboxDisabledRepos(config)) {
      const repo = config.repos[repoId]
      if (repo !== undefined) yield* Effect.logWarning(sandboxDisabledMessage(repoId, repo))
    }
    const overrides = upstreamOverridesMessage(config)
    if (overrides !== undefined) yield* Effect.logWarning(overrides)
  })
