#!/usr/bin/env bash
# Smoke test of the real desktop window: starts the built app (src-tauri) under Xvfb through
# tauri-driver and WebKitWebDriver, waits for the UI to draw, makes command round trips over
# Tauri's IPC (projectInfo, listMelodies, openMelody, and a refused path), connects the window to
# a `symphony serve` through the "Connect to a conductor" dialog, checks that the window is not
# blank, and saves a screenshot for a person to look at.
#
#   tests/app-smoke.sh [path/to/symphony-app]      (default: builds and uses the debug binary)
#
# Skips, saying why, only when something it needs is not installed (Xvfb, WebKitWebDriver,
# tauri-driver); scripts/deps.sh installs them. Every other problem fails.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
out=${SMOKE_OUT:-$target/app-smoke}
mkdir -p "$out"

skip() {
  echo "SKIPPED tests/app-smoke.sh: $* (run scripts/deps.sh to install it)" >&2
  echo "SKIPPED tests/app-smoke.sh: $*"
  exit 0
}
fail() {
  echo "FAILED tests/app-smoke.sh: $*" >&2
  exit 1
}
command -v Xvfb >/dev/null || skip "Xvfb is not installed"
command -v WebKitWebDriver >/dev/null || skip "WebKitWebDriver (webkit2gtk-driver) is not installed"
driver=$(command -v tauri-driver || true)
[ -z "$driver" ] && [ -x "$HOME/.cargo/bin/tauri-driver" ] && driver=$HOME/.cargo/bin/tauri-driver
[ -n "$driver" ] || skip "tauri-driver is not installed (cargo install tauri-driver --locked)"
[ -f ui/dist/index.html ] || fail "ui/dist is not built (cd ui && npm ci && npm run build)"

app=${1:-}
if [ -z "$app" ]; then
  cargo build -p symphony-app --quiet
  app=$target/debug/symphony-app
fi
[ -x "$app" ] || fail "no app binary at $app"

work=$(mktemp -d)
pids=()
session=""
port=""
cleanup() {
  if [ -n "$session" ]; then
    curl -s -X DELETE "http://127.0.0.1:$port/session/$session" >/dev/null 2>&1 || true
  fi
  # SIGTERM, not SIGKILL: tauri-driver then stops its WebKitWebDriver child too.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# A project of its own (copies of the examples), and a run store and trust file of its own.
mkdir -p "$work/project" "$work/data"
cp -r melodies "$work/project/"
export XDG_DATA_HOME=$work/data SYMPHONY_DB=$work/data/runs.db

display=""
for n in $(seq 90 140); do
  if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then display=$n; break; fi
done
[ -n "$display" ] || fail "no free X display number between :90 and :140"
Xvfb ":$display" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
[ -e "/tmp/.X11-unix/X$display" ] || fail "Xvfb did not start: $(cat "$work/xvfb.log")"
export DISPLAY=:$display WEBKIT_DISABLE_DMABUF_RENDERER=1

port=$((40000 + RANDOM % 20000))
"$driver" --port "$port" --native-port $((port + 1)) >"$work/driver.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/status" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/status" >/dev/null || fail "tauri-driver did not answer: $(cat "$work/driver.log")"

# One WebDriver request; prints the JSON answer.
wd() {
  local method=$1 path=$2 body=${3:-}
  if [ -n "$body" ]; then
    curl -s --max-time 60 -X "$method" -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port$path"
  else
    curl -s --max-time 60 -X "$method" "http://127.0.0.1:$port$path"
  fi
}
# Reads a field of JSON on stdin, by a Python expression over `v`.
field() { python3 -c "import json,sys; v=json.load(sys.stdin); print($1)"; }

caps=$(python3 -c 'import json,sys; print(json.dumps({"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {"application": sys.argv[1], "args": ["--project", sys.argv[2]]}}}}))' "$app" "$work/project")
answer=$(wd POST /session "$caps")
session=$(echo "$answer" | field 'v["value"].get("sessionId", "")')
[ -n "$session" ] || fail "no WebDriver session: $answer; driver log: $(cat "$work/driver.log")"

# Waits for the UI to list the example melodies (it calls projectInfo and listMelodies itself).
drawn=""
for _ in $(seq 100); do
  drawn=$(wd POST "/session/$session/execute/sync" '{"script": "return document.body ? document.body.innerText : \"\"", "args": []}' | field 'v["value"]')
  case $drawn in *"Idea to code"*) break ;; esac
  sleep 0.2
done
case $drawn in *"Idea to code"*) ;; *) fail "the UI did not list the example melodies; it shows: ${drawn:0:400}" ;; esac

# Command round trips through Tauri's IPC, as the UI makes them: `invoke "'name', args"` sends
# the host command `name` through the app's one generic command, `call`.
invoke() {
  local script="const done = arguments[arguments.length - 1]; window.__TAURI_INTERNALS__.invoke('call', ((command, args) => ({ command, args }))($1)).then((r) => done({ ok: r }), (e) => done({ err: e }));"
  wd POST "/session/$session/execute/async" "$(python3 -c 'import json,sys; print(json.dumps({"script": sys.argv[1], "args": []}))' "$script")"
}
info=$(invoke "'projectInfo', {}")
[ "$(echo "$info" | field 'v["value"]["ok"]["offline"]')" = "True" ] || fail "projectInfo: $info"
[ "$(echo "$info" | field 'v["value"]["ok"]["root"]')" = "$(cd "$work/project" && pwd -P)" ] || fail "projectInfo root: $info"
list=$(invoke "'listMelodies', {}")
shipped=$(find "$work/project/melodies" -maxdepth 1 -name '*.melody.json' | wc -l)
[ "$(echo "$list" | field 'len(v["value"]["ok"])')" = "$shipped" ] || fail "listMelodies (expected the $shipped shipped melodies): $list"
doc=$(invoke "'openMelody', { path: 'melodies/idea-to-code.melody.json' }")
[ "$(echo "$doc" | field 'v["value"]["ok"]["melody"]["melody"]["id"]')" = "idea-to-code" ] || fail "openMelody: $doc"
refused=$(invoke "'openMelody', { path: '../../etc/passwd' }")
echo "$refused" | field 'v["value"]["err"]["message"]' | grep -q '`..` is not allowed' || fail "a path out of the project was not refused: $refused"
echo "app-smoke: projectInfo, listMelodies, openMelody and a refused path answered through the real window"

# The board's commands through the same IPC: a run, its history line, its log, a comparison.
melody=$(echo "$doc" | field 'json.dumps(v["value"]["ok"]["melody"])')
started=$(invoke "'startRun', { melody: $melody, inputs: {} }")
run_id=$(echo "$started" | field 'v["value"]["ok"]["runId"]')
[ -n "$run_id" ] || fail "startRun: $started"
status=""
for _ in $(seq 150); do
  status=$(invoke "'listRuns', { melodyId: 'idea-to-code' }" | field 'v["value"]["ok"][0]["status"] if v["value"].get("ok") else "error"')
  [ "$status" = "succeeded" ] && break
  sleep 0.2
done
[ "$status" = "succeeded" ] || fail "listRuns did not show the run succeeded (last: $status)"
opened=$(invoke "'openRun', { runId: '$run_id' }")
[ "$(echo "$opened" | field 'v["value"]["ok"]["events"][-1]["type"]')" = "runFinished" ] || fail "openRun: ${opened:0:300}"
compared=$(invoke "'compareRuns', { a: '$run_id', b: '$run_id' }")
[ "$(echo "$compared" | field 'all(s["sameOutput"] for s in v["value"]["ok"])')" = "True" ] || fail "compareRuns: ${compared:0:300}"
echo "app-smoke: startRun, listRuns, openRun and compareRuns answered through the real window ($run_id)"

# "Connect to a conductor": a `symphony serve` over another project, reached from the window's
# webview over loopback HTTP and WebSocket (the CSP and serve's CORS for the app's origin allow
# it), driven through the dialog as a person would.
serve=$target/debug/symphony
[ -x "$serve" ] || cargo build -p symphony-cli --quiet
mkdir -p "$work/remote/melodies"
cp melodies/research-fanout.melody.json "$work/remote/melodies/"
SYMPHONY_DB=$work/data/remote.db "$serve" serve --project "$work/remote" --addr 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/serve.out" ] && break; sleep 0.1; done
served=$(head -1 "$work/serve.out")
remote=$(python3 -c 'import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(f"{p.scheme}://{p.netloc}")' "$served")
token=$(python3 -c 'import sys, urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).fragment)["token"][0])' "$served")
[ -n "$token" ] || fail "symphony serve printed no URL with a token: $(cat "$work/serve.out" "$work/serve.log")"
element() {
  wd POST "/session/$session/element" "$(python3 -c 'import json,sys; print(json.dumps({"using": "css selector", "value": sys.argv[1]}))' "$1")" | field 'list(v["value"].values())[0]'
}
click() { wd POST "/session/$session/element/$(element "$1")/click" '{}' >/dev/null; }
type_into() {
  local id
  id=$(element "$1")
  wd POST "/session/$session/element/$id/clear" '{}' >/dev/null
  wd POST "/session/$session/element/$id/value" "$(python3 -c 'import json,sys; print(json.dumps({"text": sys.argv[1]}))' "$2")" >/dev/null
}
script() { wd POST "/session/$session/execute/sync" "$(python3 -c 'import json,sys; print(json.dumps({"script": sys.argv[1], "args": []}))' "$1")" | field 'v["value"]'; }
click_text() { script "const b = [...document.querySelectorAll('button')].find((e) => e.textContent.trim() === '$1'); if (b) b.click(); return Boolean(b);"; }
[ "$(click_text 'Connect to a conductor…')" = "True" ] || fail "the welcome view has no 'Connect to a conductor…' button"
type_into 'input[aria-label="Conductor address"]' "$remote"
type_into 'input[aria-label="Conductor token"]' "$token"
[ "$(click_text 'Connect')" = "True" ] || fail "the connect dialog has no Connect button"
shown=""
for _ in $(seq 100); do
  shown=$(script 'return document.body ? document.body.innerText : ""')
  case $shown in *"Connected to the conductor at $remote"*"Research fan-out"*) break ;; esac
  sleep 0.2
done
case $shown in *"Connected to the conductor at $remote"*) ;; *) fail "the window did not connect to $remote; it shows: ${shown:0:500}; serve log: $(cat "$work/serve.log")" ;; esac
case $shown in *"Idea to code"*) fail "connected, but the window still lists its own project's melodies" ;; esac
case $shown in *"Research fan-out"*) ;; *) fail "connected, but the remote project's melody is not listed: ${shown:0:500}" ;; esac
echo "app-smoke: the window connected to symphony serve at $remote (its token) and lists that project's melodies"

# The screenshot (of the X screen: WebKitWebDriver's own screenshot hangs under Xvfb), checked
# not to be blank, and kept for a person to look at.
timeout 30 import -window root "$out/app-smoke.png" || fail "cannot take a screenshot of display :$display"
spread=$(convert "$out/app-smoke.png" -colorspace Gray -format '%[fx:standard_deviation]' info: 2>/dev/null || echo 1)
python3 -c "import sys; sys.exit(0 if float('$spread') > 0.02 else 1)" || fail "the window looks blank (grey spread $spread); see $out/app-smoke.png"
echo "app-smoke: screenshot $out/app-smoke.png (grey spread $spread)"
