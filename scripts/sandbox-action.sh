#!/usr/bin/env bash
# Runs a pull request's CI command in the airut sandbox, the way action.yml calls it. The
# workspace must be a checkout of the BASE branch: the image (.airut/container), the allowlist
# and .airut/sandbox.yaml are read from it before the PR's code is merged, so a PR cannot widen
# its own sandbox. The PR is merged inside the sandbox, then the command runs there.
#
# Inputs (environment, as the Action passes them):
#   INPUT_COMMAND   the command (bash) to run after the merge; required
#   INPUT_PR_SHA    the pull request's head commit; required
#   INPUT_MERGE     "true" (default): merge the PR into the base checkout first; "false": check
#                   the PR commit out instead (its .airut/ files still do not apply)
#   INPUT_CACHE     a directory for the image archives (restored and saved by the workflow's
#                   cache step); empty: no image cache
#   AIRUT_SANDBOX   how to run airut-sandbox (default: airut-sandbox on PATH)
#   AIRUT_SANDBOX_ARGS  extra options for `airut-sandbox run`, e.g. --verbose
set -euo pipefail

: "${INPUT_COMMAND:?INPUT_COMMAND is required}"
: "${INPUT_PR_SHA:?INPUT_PR_SHA is required}"
merge="${INPUT_MERGE:-true}"
cache="${INPUT_CACHE:-}"
read -r -a sandbox <<<"${AIRUT_SANDBOX:-airut-sandbox}"
read -r -a extra <<<"${AIRUT_SANDBOX_ARGS:-}"

if ! [[ "$INPUT_PR_SHA" =~ ^[0-9a-f]{40}$ ]]; then
  echo "sandbox-action: pr_sha must be a full 40-hex commit id, got '$INPUT_PR_SHA'" >&2
  exit 125
fi

# The PR commit is fetched on the host (the sandbox may not reach the git server); only its
# objects come in, nothing of it is checked out here.
if ! git cat-file -e "${INPUT_PR_SHA}^{commit}" 2>/dev/null; then
  git fetch --no-tags --depth=50 origin "$INPUT_PR_SHA"
fi

# Loaded, or built and saved, BEFORE the PR is merged: the merge changes this checkout (it is
# mounted into the sandbox), and a save after it could cache images built from the PR's files
# under the base branch's key.
if [[ -n "$cache" ]]; then
  if [[ -f "$cache/repo.tar" ]]; then
    "${sandbox[@]}" image load "$cache" || echo "sandbox-action: image cache not loaded; images will be built" >&2
  else
    mkdir -p "$cache"
    "${sandbox[@]}" image save "$cache" || echo "sandbox-action: could not save the image cache" >&2
  fi
fi

# Inside the container: git needs to trust the mounted checkout and needs a committer for a
# merge commit. "$1" is the PR commit, "$2" the command; neither is interpolated into the script.
if [[ "$merge" == "true" ]]; then
  inner='git -c safe.directory="*" -c user.name=airut-sandbox -c user.email=airut-sandbox@localhost merge --no-edit "$1" && eval "$2"'
else
  inner='git -c safe.directory="*" checkout --detach "$1" && eval "$2"'
fi

status=0
"${sandbox[@]}" run "${extra[@]}" -- bash -c "$inner" _ "$INPUT_PR_SHA" "$INPUT_COMMAND" || status=$?
exit "$status"
