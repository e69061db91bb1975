#!/usr/bin/env bash
# Runs the README's walkthrough verbatim, in a scratch copy of the
# repository, and checks that each step answered as the README says.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'pkill -f "$work/clientele" 2>/dev/null || true; rm -rf "$work"' EXIT
if curl -s -o /dev/null localhost:8080/healthz; then
  echo "something already listens on localhost:8080; the walkthrough needs that port"; exit 1
fi
git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 cp --parents -t "$work")
cd "$work"
# The shell blocks between "## Walkthrough" and the next section.
awk '/^## Walkthrough/{on=1; next} /^## /{on=0} on' README.md |
  awk '/^```sh$/{code=1; next} /^```/{code=0; next} code' > walkthrough.sh
out="$work/walkthrough.out"
timeout 300 bash -euo pipefail walkthrough.sh > "$out" 2>&1 || { cat "$out"; echo "walkthrough failed"; exit 1; }
cat "$out"
for want in '"secret": "' '"description": "Deploys Acme"' '"businessName": "Acme Corp"' \
            'X-Total-Count: 1' '"detailCode": "400.1.1 Illegal update attempt"' '^204$' \
            '"type":"patched"' '^event: created$' \
            '^Bearer$' '"hint": "' '"expires": "'; do
  grep -q -- "$want" "$out" || { echo "walkthrough output lacks: $want"; exit 1; }
done
# During the grace both the old and the new secret get a token.
[ "$(grep -c '^Bearer$' "$out")" = 2 ] || { echo "walkthrough: not both secrets got a token during the grace"; exit 1; }
echo "walkthrough: every step answered as the README says"
