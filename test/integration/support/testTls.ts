import * as fs from "node:fs"
import * as path from "node:path"
import { Command } from "@effect/platform"
import { Effect } from "effect"

/** A throwaway CA and a server certificate for localhost / 127.0.0.1 it signed. */
export interface TestTls {
  readonly caPem: string
  readonly certFile: string
  readonly keyFile: string
  readonly certPem: string
  readonly keyPem: string
}

const openssl = (...args: ReadonlyArray<string>) =>
  Command.make("openssl", ...args).pipe(
    Command.exitCode,
    Effect.filterOrDieMessage((code) => code === 0, `openssl ${args[0]} failed`),
  )

/** Writes `ca.pem`, `server.pem` and `server.key` (P-256) into `dir` with the openssl CLI. */
export const makeTestTls = (dir: string) =>
  Effect.gen(function* () {
    const file = (name: string) => path.join(dir, name)
    fs.writeFileSync(file("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    yield* openssl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      file("ca.key"),
      "-out",
      file("ca.pem"),
      "-days",
      "2",
      "-subj",
      "/CN=airut test CA",
    )
    yield* openssl(
      "req",
      ...ec,
      "-keyout",
      file("server.key"),
      "-out",
      file("server.csr"),
      "-subj",
      "/CN=localhost",
    )
    yield* openssl(
      "x509",
      "-req",
      "-in",
      file("server.csr"),
      "-CA",
      file("ca.pem"),
      "-CAkey",
      file("ca.key"),
      "-CAcreateserial",
      "-out",
      file("server.pem"),
      "-days",
      "2",
      "-extfile",
      file("san.ext"),
    )
    return {
      caPem: fs.readFileSync(file("ca.pem"), "utf8"),
      certFile: file("server.pem"),
      keyFile: file("server.key"),
      certPem: fs.readFileSync(file("server.pem"), "utf8"),
      keyPem: fs.readFileSync(file("server.key"), "utf8"),
    } satisfies TestTls
  })
