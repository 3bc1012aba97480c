/**
 * The commented airut.yaml that `airut init` writes. It decodes as it is (dashboard only); the
 * example repository between the markers decodes too once uncommented (the tests check both).
 */

export const exampleRepoStart = "# >>> example repository"
export const exampleRepoEnd = "# <<< example repository"

export const starterConfig = `# airut server configuration.
#
# Every key and its default: docs/config.md (or \`airut config show\` for the values in effect).
# Keep secrets out of this file: \`!env NAME\` reads a value from the environment, or from a
# .env file next to this one (the environment wins). \`!var name\` reuses a value from vars.
config_version: 5

# Values to reuse with !var.
vars:
  task_timeout: 3600

execution:
  # Most tasks running at once, over all repositories.
  max_concurrent: 3

dashboard:
  enabled: true
  # Listening on anything but loopback also needs a token.
  host: 127.0.0.1
  port: 5200
  # base_url: https://airut.example.com

container:
  # The Docker-compatible API socket: Podman's \`podman system service\`, or Docker's.
  socket: /run/podman/podman.sock

# The repositories airut serves, by id. With none it serves the dashboard only.
# To start, replace the next line with the example below (without the leading "# ").
repos: {}
${exampleRepoStart}
# repos:
#   my-app:
#     repo_url: https://github.com/example/my-app.git
#     email:
#       # A mailbox for this repository alone: airut takes every message that arrives in it.
#       account:
#         username: airut-my-app@example.com
#         from: "Airut <airut-my-app@example.com>"
#         password: !env MY_APP_MAIL_PASSWORD
#       imap:
#         server: imap.example.com
#       smtp:
#         server: smtp.example.com
#       auth:
#         # Only these senders are answered; *@example.com admits a whole domain.
#         authorized_senders:
#           - you@example.com
#         # The id your mail server writes in its Authentication-Results header.
#         trusted_authserv_id: mx.example.com
#     # Slack works too (alone or with email): see docs/config.md, repos.<id>.slack.
#     masked_secrets:
#       # The container only ever sees a surrogate; the proxy sends the real key to these hosts.
#       ANTHROPIC_API_KEY:
#         value: !env ANTHROPIC_API_KEY
#         scopes: [api.anthropic.com]
#         headers: [x-api-key]
#     resource_limits:
#       timeout: !var task_timeout
#       memory: 4g
${exampleRepoEnd}
`
