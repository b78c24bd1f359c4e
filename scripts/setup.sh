#!/usr/bin/env bash
# Installs what gpt-webgpu needs on a fresh Debian machine with Node 20+, doing only what is missing:
#   - Debian packages: Mesa's EGL/OpenGL ES (the software WebGPU adapter Dawn uses when there is no GPU) and, with
#     --browser, Chromium (the headless browser tests);
#   - npm packages (npm ci), when node_modules does not match package-lock.json.
# `npm start` and `npm test` run it first, so a fresh clone needs no other step.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[[ "${1:-}" == "--browser" ]] && want_browser=1

major=$(node -p 'process.versions.node.split(".")[0]')
if (( major < 20 )); then
  echo "setup: Node $(node -v) is too old; gpt-webgpu needs Node 20 or newer" >&2
  exit 1
fi

packages=(libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri)
(( want_browser )) && packages+=(chromium)
missing=()
if command -v dpkg-query >/dev/null; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
fi
if (( ${#missing[@]} > 0 )); then
  sudo=""
  if (( EUID != 0 )); then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      echo "setup: missing Debian packages (${missing[*]}) and no root or sudo to install them" >&2
      exit 1
    fi
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when the installed tree is not the locked one (a stamp holds the lockfile's hash).
stamp=node_modules/.setup-lock-hash
hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$hash" ]]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$hash" > "$stamp"
fi
