import { Options } from "@effect/cli"
import { Config } from "effect"

/** Options every airut-sandbox command that talks to the engine shares. */

export const socketOption = Options.text("socket").pipe(
  Options.withDescription(
    "Engine API socket (env AIRUT_SANDBOX_SOCKET; default: Podman's rootless socket, then its rootful one, then /var/run/docker.sock).",
  ),
  Options.withFallbackConfig(Config.string("AIRUT_SANDBOX_SOCKET")),
  Options.optional,
)

export const stateDirOption = Options.directory("state-dir").pipe(
  Options.withDescription(
    "Where the proxy CA is kept (env AIRUT_SANDBOX_STATE_DIR; default $XDG_CACHE_HOME/airut-sandbox or ~/.cache/airut-sandbox).",
  ),
  Options.withFallbackConfig(Config.string("AIRUT_SANDBOX_STATE_DIR")),
  Options.optional,
)

export const prefixOption = Options.text("prefix").pipe(
  Options.withDescription(
    "Names of images, containers and networks start with this (env AIRUT_SANDBOX_PREFIX; default airut-sandbox).",
  ),
  Options.withFallbackConfig(Config.string("AIRUT_SANDBOX_PREFIX")),
  Options.withDefault("airut-sandbox"),
)

export const contextDirOption = Options.text("context-dir").pipe(
  Options.withDescription("The image's build context, with its Dockerfile (default .airut/container)."),
  Options.withDefault(".airut/container"),
)

export const maxImageAgeOption = Options.integer("max-image-age").pipe(
  Options.withDescription(
    "Rebuild images at least this many hours old without the layer cache (default 24; 0: always).",
  ),
  Options.withDefault(24),
)

export const verboseOption = Options.boolean("verbose").pipe(
  Options.withAlias("v"),
  Options.withDescription("Say what the sandbox does (image builds, proxy start) on stderr."),
)

/** Everything `SandboxLayer` is made from, as given on the command line. */
export const engineOptions = {
  socket: socketOption,
  stateDir: stateDirOption,
  prefix: prefixOption,
  contextDir: contextDirOption,
  maxImageAge: maxImageAgeOption,
  verbose: verboseOption,
}
