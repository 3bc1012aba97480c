// mailauth ships no type declarations. Only what airut calls is declared; results are decoded
// with Schema where they are read, so they are `unknown` here.
declare module "mailauth" {
  export type DnsResolver = (name: string, rrtype: string) => Promise<unknown>
  export interface AuthenticateOptions {
    readonly trustReceived?: boolean
    readonly sender?: string
    readonly ip?: string
    readonly helo?: string
    readonly mta?: string
    readonly resolver?: DnsResolver
    readonly disableArc?: boolean
    readonly disableBimi?: boolean
  }
  export function authenticate(input: Buffer | string, options: AuthenticateOptions): Promise<unknown>
}

declare module "mailauth/lib/dkim/sign.js" {
  export interface DkimSignOptions {
    readonly canonicalization?: string
    readonly algorithm?: string
    readonly signTime?: Date
    readonly signatureData: ReadonlyArray<{
      readonly signingDomain: string
      readonly selector: string
      readonly privateKey: string
      readonly algorithm?: string
      readonly canonicalization?: string
    }>
  }
  export function dkimSign(input: Buffer | string, options: DkimSignOptions): Promise<unknown>
}
