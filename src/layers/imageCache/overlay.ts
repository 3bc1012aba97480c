import { agentMountTargets, proxyCaTarget } from "../../schema/RunPolicy.js"
import type { BuildContext } from "../../services/ContainerRuntime.js"
import type { EntrypointKind } from "../../services/ImageCache.js"

/**
 * The overlay layer: our entrypoint on top of the repository's image. It trusts the sandbox
 * proxy's CA when one is mounted (so tools that read the system store accept its certificates;
 * Node, curl and Python also get it through environment variables), then hands over to the
 * agent or to the given command. POSIX sh: the repository's image need not have bash.
 */

export const entrypointPath = "/airut-entrypoint.sh"
const scriptName = "airut-entrypoint.sh"

const entrypointScript = (kind: EntrypointKind) => `#!/bin/sh
# Written by airut. Trust the sandbox proxy's CA when it is mounted, then run ${kind === "agent" ? "the agent" : "the command"}.
set -eu
export IS_SANDBOX=1
ca=${proxyCaTarget}
if [ -f "$ca" ]; then
  # Appending to the bundle (and linking the CA under its hash for directory lookups) is what
  # update-ca-certificates would do for one certificate, without its ~1.3 s rebuild of the whole
  # store at every task start.
  bundle=/etc/ssl/certs/ca-certificates.crt
  if [ -w "$bundle" ]; then
    cat "$ca" >>"$bundle"
    if command -v openssl >/dev/null 2>&1; then
      ln -sf "$ca" "/etc/ssl/certs/$(openssl x509 -hash -noout -in "$ca").0" 2>/dev/null || true
    fi
  elif command -v update-ca-certificates >/dev/null 2>&1; then
    update-ca-certificates >/dev/null 2>&1 || echo "airut: update-ca-certificates failed; the CA is still given by NODE_EXTRA_CA_CERTS and SSL_CERT_FILE" >&2
  fi
fi
exec ${kind === "agent" ? `${agentMountTargets.claudeBinary} "$@"` : '"$@"'}
`

const dockerfile = (repoTag: string) => `FROM ${repoTag}
COPY ${scriptName} ${entrypointPath}
ENTRYPOINT ["${entrypointPath}"]
CMD []
`

/** The overlay's build context (the script is packed executable: see `overlayExecutables`). */
export const overlayContext = (repoTag: string, kind: EntrypointKind): BuildContext =>
  new Map([
    ["Dockerfile", Buffer.from(dockerfile(repoTag), "utf8")],
    [scriptName, Buffer.from(entrypointScript(kind), "utf8")],
  ])

export const overlayExecutables: ReadonlyArray<string> = [scriptName]
