#!/usr/bin/env bash
# Installs the system packages the engine and its tests need on Debian 12:
# lavapipe (Mesa >= 24, from bookworm-backports of the configured mirror), chromium (SwiftShader ICD
# and headless browser tests) and Fashion-MNIST.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
SRC=/etc/apt/sources.list.d/debian.sources
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list.d/ /etc/apt/sources.list; then
  MIRROR=$(awk '/^URIs:/{print $2; exit}' "$SRC" 2>/dev/null || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$MIRROR" \
    | $SUDO tee /etc/apt/sources.list.d/backports.sources >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q -t bookworm-backports mesa-vulkan-drivers
$SUDO apt-get install -y -q chromium dataset-fashion-mnist libvulkan1
