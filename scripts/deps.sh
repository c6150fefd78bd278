# Shared by scripts/start and scripts/test: installs what Symphony needs on Debian.
# Sourced, not run. Everything here is idempotent and quiet when there is nothing to do.

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs Debian packages that are missing (by dpkg status), running apt-get update once.
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# A Rust toolchain new enough for the workspace (rust-version in Cargo.toml).
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      echo "==> installing Rust with rustup (https://rustup.rs)"
      ensure_packages curl ca-certificates
      curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
      export PATH="$HOME/.cargo/bin:$PATH"
    fi
  fi
}

# What building the workspace needs: a C toolchain for linking and for crates with C parts.
ensure_build_deps() {
  if command -v apt-get >/dev/null 2>&1; then
    ensure_packages build-essential pkg-config ca-certificates
  fi
  ensure_rust
}

# What the tests need beyond the build: a Postgres server's binaries (Debian's `postgresql`),
# from which the run store's tests start throwaway servers of their own (see
# symphony_store::testing). Once the binaries are there, SYMPHONY_REQUIRE_POSTGRES=1 makes the
# Postgres tests fail rather than print SKIPPED and pass. Installing it on a machine of this
# project's kind (Debian 12) took 12 s: 11 packages, 24 MB (docs/runs.md).
ensure_test_deps() {
  if command -v apt-get >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    ensure_packages postgresql
  fi
  if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    export SYMPHONY_REQUIRE_POSTGRES=1
  fi
}

# Node, to build the UI (ui/dist): all `symphony serve` needs beyond the Rust build.
ensure_node() {
  if command -v apt-get >/dev/null 2>&1; then
    command -v npm >/dev/null 2>&1 || ensure_packages nodejs npm
  fi
}

# What the desktop app needs: WebKitGTK to build and run the Tauri window, and Node for the UI.
ensure_app_deps() {
  if command -v apt-get >/dev/null 2>&1; then
    ensure_packages libwebkit2gtk-4.1-dev
  fi
  ensure_node
}

# What the UI's tests need (scripts/test only, never a user's scripts/start): Chromium for the
# browser scenarios, and for the smoke test of the real window Xvfb (a display without a
# screen), WebKitWebDriver (with tauri-driver, below) and ImageMagick (its screenshot).
ensure_ui_test_deps() {
  if command -v apt-get >/dev/null 2>&1; then
    ensure_packages xvfb webkit2gtk-driver chromium imagemagick
  fi
}

# tauri-driver, which drives the real window through WebKitWebDriver (tests only).
ensure_tauri_driver() {
  if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
    echo "==> installing tauri-driver (cargo install tauri-driver)"
    cargo install tauri-driver --locked --quiet
  fi
}

# Builds the UI into ui/dist (`npm run build`: tsc --noEmit, then vite build): `npm ci` only when
# package-lock.json changed since the last one.
build_ui() {
  local stamp=ui/node_modules/.symphony-lock-hash
  local hash
  hash=$(sha256sum ui/package-lock.json | cut -d' ' -f1)
  if [ -L ui/node_modules ]; then
    # A link to another tree's packages: `npm ci` would empty the folder it points to.
    echo "==> ui/node_modules is a link ($(readlink ui/node_modules)): not running npm ci in it"
  elif [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
    echo "==> npm ci (ui/)"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
    echo "$hash" >"$stamp"
  fi
  echo "==> building the UI (ui/dist)"
  (cd ui && npm run build --silent)
}
