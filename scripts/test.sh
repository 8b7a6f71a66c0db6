#!/usr/bin/env bash
# The test command (README "Run the tests"): installs what the tests need, builds, runs every
# test project, and prints "N passed, N failed" (summed over the projects) as its last line.
#
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh --filter X # passes a dotnet test filter to every project
set -uo pipefail
cd "$(dirname "$0")/.."

filter=()
if [ "${1:-}" = "--filter" ] && [ -n "${2:-}" ]; then filter=(--filter "$2"); fi

echo "== installing the npm MCP peers (tests/peers, pinned by package-lock.json)"
(cd tests/peers && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }

echo "== Debian packages the specs start (installed only when missing)"
# postgresql: the audit specs start a private server; prometheus (promtool) and chromium: the
# observability specs; tmux: the interactive ops console spec. One apt-get for all that is missing.
packages=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
command -v tmux >/dev/null 2>&1 || packages+=(tmux)
if [ ${#packages[@]} -gt 0 ]; then
  echo "installing: ${packages[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  ($sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}") \
    || { echo "apt-get install ${packages[*]} failed"; echo "0 passed, 1 failed"; exit 1; }
fi

echo "== building"
dotnet build Sark.Actors.sln -c Release -nologo -v q || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0; failed=0; status=0
results=artifacts/test-results
rm -rf "$results"; mkdir -p "$results"
for project in tests/Sark.Actors.Tests tests/Sark.Integration.Tests; do
  name=$(basename "$project")
  echo "== $name"
  log="$results/$name.log"
  dotnet test "$project" -c Release --no-build -nologo "${filter[@]}" \
    --blame-hang-timeout 5m 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # vstest's summary: "Passed!  - Failed:     0, Passed:    30, Skipped:     0, Total:    30, ..."
  summary=$(grep -E '(Passed|Failed)!  - Failed:' "$log" | tail -n 1)
  if [ -z "$summary" ]; then
    echo "$name produced no summary (exit $rc): counted as one failure"
    failed=$((failed + 1)); status=1; continue
  fi
  p=$(sed -E 's/.*Passed: *([0-9]+).*/\1/' <<<"$summary")
  f=$(sed -E 's/.*Failed: *([0-9]+),.*/\1/' <<<"$summary")
  passed=$((passed + p)); failed=$((failed + f))
  [ "$rc" -ne 0 ] && status=1
done

echo "$passed passed, $failed failed"
exit $status
