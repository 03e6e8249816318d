#!/usr/bin/env bash
# The README's quick start on a machine without libvirt: install without the optional
# @unraid/libvirt, `npm start` with defaults, then a boot to ACTIVE through the API from outside
# (.ci/quickstart-smoke.mjs) and `npx cellctl cell tree`. Run by .ci/run before the full install.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --omit=optional --no-audit --no-fund
if node -e "import('@unraid/libvirt').then(() => process.exit(0), () => process.exit(1))"; then
  echo "@unraid/libvirt is installed: this is not the bare-machine case"; exit 1
fi

log=$(mktemp)
rm -rf .federation
# Its own process group, so that one signal stops npm and the federation under it.
setsid npm start >"$log" 2>&1 &
pgid=$!
stop() { kill -INT -- "-$pgid" 2>/dev/null || true; wait "$pgid" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq 1 180); do
  grep -q 'Press Ctrl-C to stop' "$log" && break
  kill -0 "$pgid" 2>/dev/null || { cat "$log"; echo "npm start exited"; exit 1; }
  sleep 1
done
grep -v '^{' "$log"
grep -q 'Press Ctrl-C to stop' "$log" || { echo "npm start did not come up"; exit 1; }
grep -q 'compute driver: fake: libvirt is not available here' "$log" || { echo "npm start did not say it runs the fake driver"; exit 1; }

node .ci/quickstart-smoke.mjs .federation
OS_CLIENT_CONFIG_FILE=.federation/clouds.yaml OS_CLOUD=federation npx --no-install cellctl cell tree
stop
trap - EXIT
rm -rf .federation
echo "quick start on a bare machine: ok"
