#!/usr/bin/env bash
# Create ./.venv with Python 3.11 and install facepaint into it, with the extras named as arguments
# (demo, test, train, metrics, web). mediapipe is installed with --no-deps: its declared requirements
# (opencv-contrib-python, jax) would replace the headless OpenCV build that facepaint pins and pull
# in jax, which the face models do not use; its real run-time needs are in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1; then python=$candidate; break; fi
  done
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
  echo "error: facepaint needs Python 3.11 (mediapipe 0.10.21 and torch 2.14.1 wheels); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
# pip's failures stop the script (set -e); only the noise about absent local index folders is hidden.
pip_install() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@" 2> >(grep -v "^WARNING: Location" >&2); }
pip_install --upgrade "pip>=24"
extras=$(IFS=,; echo "$*")
pip_install -e ".${extras:+[$extras]}"
pip_install --no-deps mediapipe==0.10.21
# The web app's browser tests drive Debian's chromium through Playwright (Playwright's own browser
# download is not used: it is unreachable from CI). As root (CI, containers) it is installed here
# when missing; otherwise the command to run is printed and the browser tests are skipped.
case ",$extras," in
  *,web,*)
    if ! command -v chromium >/dev/null 2>&1; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium for the web app's browser tests (apt-get)" >&2
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
      else
        echo "note: the web app's browser tests need chromium: sudo apt-get install chromium" >&2
      fi
    fi
    ;;
esac
.venv/bin/python -c "import facepaint, mediapipe, cv2" || { echo "error: the install did not complete; see the messages above" >&2; exit 1; }
echo "facepaint installed in .venv (extras: ${extras:-none})" >&2
