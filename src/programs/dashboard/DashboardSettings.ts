import { Context, type Option, type Redacted } from "effect"

/** What every route of one dashboard server shares; made once per server by `DashboardApp`. */
export interface DashboardSettingsShape {
  /** Clients must present this (bearer header or login cookie); none: open on loopback. */
  readonly token: Option.Option<Redacted.Redacted<string>>
  /**
   * Per-process secret a form or script sends back with each state-changing request. Pages
   * carry it; another site cannot read them, so it cannot forge a stop.
   */
  readonly csrfToken: string
  readonly version: string
  readonly maxConcurrent: number
}

export class DashboardSettings extends Context.Tag("airut/dashboard/DashboardSettings")<
  DashboardSettings,
  DashboardSettingsShape
>() {}
