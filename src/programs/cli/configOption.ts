import { Options } from "@effect/cli"
import { Config } from "effect"

/** `--config FILE` (or `AIRUT_CONFIG`); absent means the default path under ~/.config/airut. */
export const configOption = Options.file("config").pipe(
  Options.withAlias("c"),
  Options.withDescription("Server config file (default: ~/.config/airut/airut.yaml; env AIRUT_CONFIG)."),
  Options.withFallbackConfig(Config.string("AIRUT_CONFIG")),
  Options.optional,
)
