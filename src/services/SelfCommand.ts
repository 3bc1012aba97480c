import { Context } from "effect"

/**
 * How this program was started, so it can be started the same way again (a systemd unit's
 * ExecStart): the Node binary, its own options (a loader such as tsx) and the entry script, all
 * absolute. Only the bin file knows them; it provides the value. The default is empty: a caller
 * that needs it says it cannot tell rather than guess.
 */
export interface SelfCommandShape {
  readonly argv: ReadonlyArray<string>
}

export class SelfCommand extends Context.Reference<SelfCommand>()("airut/SelfCommand", {
  defaultValue: (): SelfCommandShape => ({ argv: [] }),
}) {}
