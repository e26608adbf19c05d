#!/usr/bin/env bash
# Slug test: build the app the way the Heroku Node.js buildpack does, from a clean copy of
# the repository, then run the Procfile's release and web commands exactly as written with a
# complete environment pointing at local services. Proves the pruned slug migrates, boots,
# answers /health and /api/v1/health, and exits 0 on SIGTERM.
#
#   bash scripts/slug-test.sh            (npm run slug-test)
#
# Steps (buildpack order): npm ci (devDependencies included) -> heroku-prebuild ->
# heroku-postbuild or build -> npm prune --omit=dev -> heroku-cleanup. Then, on the slug:
# release (twice: Heroku runs it on every release, a second run must be a no-op) ->
# app.json postdeploy -> web -> probes -> SIGTERM -> app.json pr-predestroy.
#
# Backing services come from the ORIGINAL checkout (it has devDependencies):
# `node dev/services.ts --print-env` prints KEY=VALUE lines, then READY, and runs until
# SIGTERM. Only loopback addresses are used.
#
# Environment knobs (all optional):
#   SLUG_TEST_SOURCE            repository to copy (default: the git checkout around this script)
#   SLUG_TEST_KEEP=1            keep the temporary folder for inspection
#   SLUG_TEST_WEB_CONCURRENCY   WEB_CONCURRENCY for the web process (default 2, as on a 1 GB dyno)
#   SLUG_TEST_NPM_CI_ARGS       extra arguments for npm ci (e.g. --prefer-offline)
#   SLUG_TEST_BOOT_TIMEOUT      seconds for GET /health to answer 200 (default 60, Heroku's R10)
#   SLUG_TEST_READY_TIMEOUT     seconds for GET /api/v1/health to answer 200 after that (default 20)
set -euo pipefail

log () { printf 'slug-test: %s\n' "$*" >&2; }
fail () { printf 'slug-test: FAIL: %s\n' "$*" >&2; exit 1; }

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${SLUG_TEST_SOURCE:-$(git -C "$script_dir" rev-parse --show-toplevel)}"
source_dir="$(cd "$source_dir" && pwd)"
[ -f "$source_dir/Procfile" ] || fail "no Procfile in $source_dir"
[ -f "$source_dir/package.json" ] || fail "no package.json in $source_dir"
[ -f "$source_dir/dev/services.ts" ] || fail "no dev/services.ts in $source_dir (it starts the local backing services)"

node_bin="$(command -v node)" || fail "node is not on PATH"
npm_bin="$(command -v npm)" || fail "npm is not on PATH"

work="$(mktemp -d "${TMPDIR:-/tmp}/slug-test.XXXXXX")"
slug="$work/app"
mkdir -p "$slug"
services_pid=''
web_pid=''

cleanup () {
  local status=$?
  if [ -n "$web_pid" ] && kill -0 "$web_pid" 2>/dev/null; then
    kill -KILL -- "-$web_pid" 2>/dev/null || kill -KILL "$web_pid" 2>/dev/null || true
  fi
  if [ -n "$services_pid" ] && kill -0 "$services_pid" 2>/dev/null; then
    kill -TERM "$services_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$services_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$services_pid" 2>/dev/null || true
  fi
  if [ "${SLUG_TEST_KEEP:-}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. A clean copy: tracked files plus untracked ones that are not ignored -------------
log "copying $source_dir (git ls-files) to $slug"
(
  cd "$source_dir"
  # Tracked files deleted in the working tree are skipped; dependencies and build output never
  # travel, whatever .gitignore says.
  git ls-files -z -co --exclude-standard -- . \
    ':(exclude)node_modules' ':(exclude)**/node_modules/**' ':(exclude)dist' ':(exclude).tools' ':(exclude).git' \
    | while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done \
    | tar --null --no-recursion -T - -cf -
) | tar -xf - -C "$slug"
[ -f "$slug/package-lock.json" ] || fail "package-lock.json is missing: npm ci (and the buildpack) need it"

# --- 2. Build as the buildpack does -------------------------------------------------------
# shellcheck disable=SC2016 # JavaScript, not shell, inside the quotes
engines_check="$("$node_bin" -e '
  const pkg = require(process.argv[1]);
  const want = pkg.engines && pkg.engines.node;
  if (!want) { console.log("package.json has no engines.node: Heroku would pick a default Node version"); process.exit(0) }
  const m = /^\s*(\d+)(\.x)?\s*$/.exec(want);
  const have = process.versions.node.split(".")[0];
  if (m && m[1] !== have) { console.log(`engines.node is ${want} but this is Node ${process.versions.node}`); process.exit(1) }
' "$slug/package.json")" || fail "$engines_check"
[ -n "$engines_check" ] && log "warning: $engines_check"

has_script () { "$node_bin" -e 'process.exit(require(process.argv[1]).scripts?.[process.argv[2]] ? 0 : 1)' "$slug/package.json" "$1"; }

# The buildpack builds with NODE_ENV=production in the environment and still installs
# devDependencies; do the same so a build that depends on NODE_ENV shows up here.
build_env=(env NODE_ENV=production NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false NPM_CONFIG_UPDATE_NOTIFIER=false)
cd "$slug"
log "npm ci"
# shellcheck disable=SC2086
timeout 900 "${build_env[@]}" "$npm_bin" ci --include=dev --no-audit --no-fund ${SLUG_TEST_NPM_CI_ARGS:-} >"$work/npm-ci.log" 2>&1 \
  || { tail -40 "$work/npm-ci.log" >&2; fail "npm ci"; }
if has_script heroku-prebuild; then
  log "npm run heroku-prebuild"
  timeout 600 "${build_env[@]}" "$npm_bin" run heroku-prebuild || fail "heroku-prebuild"
fi
if has_script heroku-postbuild; then
  log "npm run heroku-postbuild (replaces build)"
  timeout 600 "${build_env[@]}" "$npm_bin" run heroku-postbuild || fail "heroku-postbuild"
elif has_script build; then
  log "npm run build"
  timeout 600 "${build_env[@]}" "$npm_bin" run build || fail "build"
fi
log "npm prune --omit=dev"
timeout 300 "${build_env[@]}" "$npm_bin" prune --omit=dev --no-audit --no-fund >"$work/npm-prune.log" 2>&1 \
  || { tail -40 "$work/npm-prune.log" >&2; fail "npm prune"; }
if has_script heroku-cleanup; then
  log "npm run heroku-cleanup"
  timeout 300 "${build_env[@]}" "$npm_bin" run heroku-cleanup || fail "heroku-cleanup"
fi

# The prune must really have removed devDependencies, or the test proves nothing. The lockfile
# marks packages reachable only from devDependencies with "dev": true; a devDependency that
# production code also pulls in (ajv, yaml) is rightly kept.
dev_left="$("$node_bin" -e '
  const fs = require("fs"); const lock = require(process.argv[1] + "/package-lock.json");
  const left = Object.entries(lock.packages || {})
    .filter(([path, meta]) => path.startsWith("node_modules/") && meta.dev === true && fs.existsSync(process.argv[1] + "/" + path))
    .map(([path]) => path.slice("node_modules/".length));
  console.log(left.slice(0, 20).join(" "));
' "$slug")"
[ -z "$dev_left" ] || fail "devDependencies still installed after prune: $dev_left"
log "slug size: $(du -sh "$slug" | cut -f1) (Heroku's limit is 500 MB compressed)"

# --- 3. Procfile ---------------------------------------------------------------------------
procfile_command () {
  local type="$1" line
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line%$'\r'}"
    if [[ "$line" =~ ^([A-Za-z0-9_-]+):[[:space:]]*(.+)$ ]] && [ "${BASH_REMATCH[1]}" = "$type" ]; then
      printf '%s' "${BASH_REMATCH[2]}"
      return 0
    fi
  done <"$slug/Procfile"
  return 1
}
web_cmd="$(procfile_command web)" || fail "Procfile has no web process"
release_cmd="$(procfile_command release || true)"
app_json_script () {
  [ -f "$slug/app.json" ] || return 0
  "$node_bin" -e 'const s = require(process.argv[1]).scripts || {}; process.stdout.write(s[process.argv[2]] || "")' "$slug/app.json" "$1"
}
postdeploy_cmd="$(app_json_script postdeploy)"
predestroy_cmd="$(app_json_script pr-predestroy)"

# --- 4. Backing services from the original checkout ----------------------------------------
log "starting services: node dev/services.ts --print-env"
services_out="$work/services.env"
( cd "$source_dir" && exec "$node_bin" dev/services.ts --print-env ) >"$services_out" 2>"$work/services.log" &
services_pid=$!
ready=''
for _ in $(seq 1 1200); do
  if grep -qx 'READY' "$services_out" 2>/dev/null; then ready=1; break; fi
  kill -0 "$services_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$ready" ] || { cat "$work/services.log" >&2; fail "services did not print READY within 120 s"; }

# --- 5. The dyno environment: config vars only, like Heroku (nothing leaks from this shell)
port="$("$node_bin" -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close() })')"
dyno_env=(
  "PATH=$(dirname "$node_bin"):/usr/local/bin:/usr/bin:/bin"
  "HOME=$slug"
  "NODE_ENV=production"
  "PORT=$port"
  "WEB_CONCURRENCY=${SLUG_TEST_WEB_CONCURRENCY:-2}"
  "HEROKU_APP_NAME=slug-test-pr-1"
  "HEROKU_PR_NUMBER=1"
)
while IFS= read -r line; do
  [[ "$line" =~ ^[A-Z][A-Z0-9_]*= ]] || continue
  key="${line%%=*}"
  [ "$key" = PORT ] && continue
  dyno_env+=("$line")
done <"$services_out"
grep -q '^ENVIRONMENT=' "$services_out" || dyno_env+=("ENVIRONMENT=development")
grep -q '^CORS_ALLOWED_ORIGINS=' "$services_out" || dyno_env+=("CORS_ALLOWED_ORIGINS=http://localhost:5173")

run_in_dyno () { # seconds, label, command as written
  local seconds="$1" label="$2" command="$3"
  log "$label: $command"
  ( cd "$slug" && exec timeout "$seconds" env -i "${dyno_env[@]}" bash -c "$command" ) \
    || fail "$label exited non-zero ($?): $command"
}

# --- 6. Release phase, postdeploy ---------------------------------------------------------
if [ -n "$release_cmd" ]; then
  run_in_dyno 300 release "$release_cmd"
  run_in_dyno 300 'release (again, must be a no-op)' "$release_cmd"
else
  log "warning: Procfile has no release process"
fi
[ -z "$postdeploy_cmd" ] || run_in_dyno 300 'app.json postdeploy' "$postdeploy_cmd"

# --- 7. Web: boot, probes, SIGTERM --------------------------------------------------------
log "web: $web_cmd (PORT=$port)"
# Own session and process group, so SIGTERM reaches every process as on a dyno
( cd "$slug" && exec setsid env -i "${dyno_env[@]}" bash -c "$web_cmd" ) >"$work/web.log" 2>&1 &
web_pid=$!

probe () { # path -> prints HTTP status, or 000 when nothing answers
  "$node_bin" -e '
    fetch(process.argv[1], { signal: AbortSignal.timeout(5000) })
      .then(r => r.text().then(() => console.log(r.status)))
      .catch(() => console.log("000"))
  ' "http://127.0.0.1:$port$1"
}

boot_timeout="${SLUG_TEST_BOOT_TIMEOUT:-60}"
booted=''
start=$SECONDS
while [ $((SECONDS - start)) -lt "$boot_timeout" ]; do # Heroku's boot timeout (R10) is 60 s
  kill -0 "$web_pid" 2>/dev/null || { cat "$work/web.log" >&2; fail "web process exited during boot"; }
  if [ "$(probe /health)" = 200 ]; then booted=1; break; fi
  sleep 0.25
done
[ -n "$booted" ] || { tail -60 "$work/web.log" >&2; fail "GET /health did not answer 200 within $boot_timeout s"; }
log "GET /health 200 after $((SECONDS - start)) s"

ready_status=''
start=$SECONDS
while [ $((SECONDS - start)) -lt "${SLUG_TEST_READY_TIMEOUT:-20}" ]; do
  ready_status="$(probe /api/v1/health)"
  [ "$ready_status" = 200 ] && break
  sleep 0.5
done
[ "$ready_status" = 200 ] || { tail -60 "$work/web.log" >&2; fail "GET /api/v1/health answered $ready_status, not 200"; }
log "GET /api/v1/health 200"

log "SIGTERM to the web process group"
kill -TERM -- "-$web_pid" 2>/dev/null || kill -TERM "$web_pid"
stopped=''
start=$SECONDS
while [ $((SECONDS - start)) -lt 30 ]; do # Heroku sends SIGKILL 30 s after SIGTERM
  kill -0 "$web_pid" 2>/dev/null || { stopped=1; break; }
  sleep 0.1
done
[ -n "$stopped" ] || { tail -60 "$work/web.log" >&2; fail "web process still running 30 s after SIGTERM (Heroku would SIGKILL it)"; }
web_status=0
wait "$web_pid" || web_status=$?
web_pid=''
[ "$web_status" = 0 ] || { tail -60 "$work/web.log" >&2; fail "web process exited $web_status after SIGTERM, expected 0"; }
log "web exited 0 after SIGTERM in $((SECONDS - start)) s"

# --- 8. Review app teardown ---------------------------------------------------------------
[ -z "$predestroy_cmd" ] || run_in_dyno 300 'app.json pr-predestroy' "$predestroy_cmd"

log "PASS"
