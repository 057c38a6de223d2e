#!/usr/bin/env bash
# Runs "go <args>" in every module of this repository (the root and every
# nested go.mod), with GOWORK=off so each module is tested exactly as its
# consumers will build it.
set -euo pipefail
cd "$(dirname "$0")/.."
find . -name go.mod -not -path '*/testdata/*' -not -path './.git/*' -print0 | sort -z |
while IFS= read -r -d '' mod; do
	dir=$(dirname "$mod")
	echo "==> $dir: go $*"
	(cd "$dir" && GOWORK=off go "$@")
done
