import { Command } from "@effect/cli"
import { imageHashCommand } from "./ImageHashCommand.js"
import { imageLoadCommand } from "./ImageLoadCommand.js"
import { imageSaveCommand } from "./ImageSaveCommand.js"

/** `airut-sandbox image hash | save DIR | load DIR`: the sandbox's images as a CI cache. */
export const imageCommand = Command.make("image").pipe(
  Command.withDescription("Cache the sandbox's images between CI runs, keyed by their content hashes."),
  Command.withSubcommands([imageHashCommand, imageSaveCommand, imageLoadCommand]),
)
