#!/usr/bin/env bash
# Builds, offline, the Go vulnerability database that govulncheck reads
# with -db file://DIR: the OSV entries of a pinned golang.org/x/vulndb
# module version (served by the Go module proxy like any module) are
# indexed with that same version's cmd/indexdb. vuln.go.dev is not needed.
# The database is rebuilt only when VERSION changes. Any problem fails the
# script loudly: a scan against a missing or partial database would pass
# for the wrong reason.
#
# Usage: scripts/vulndb.sh VERSION OUTDIR
set -euo pipefail
version=${1:?usage: vulndb.sh VERSION OUTDIR}
out=${2:?usage: vulndb.sh VERSION OUTDIR}
fail() { echo "vulndb: $*" >&2; exit 1; }

if [[ -f "$out/.vulndb-version" && "$(cat "$out/.vulndb-version")" == "$version" && -s "$out/index/db.json" ]]; then
	echo "vulndb: $out is golang.org/x/vulndb@$version"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
info=$(cd "$work" && GOFLAGS= go mod download -json "golang.org/x/vulndb@$version") ||
	fail "cannot download golang.org/x/vulndb@$version through the module proxy: $(sed -n 's/^[[:space:]]*"Error": "\(.*\)"$/\1/p' <<<"$info")"
src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")
[[ -d "$src/data/osv" ]] || fail "golang.org/x/vulndb@$version has no data/osv (dir: '$src')"
entries=$(find "$src/data/osv" -name 'GO-*.json' | wc -l)
((entries >= 1000)) || fail "only $entries OSV entries in $src/data/osv"

tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$(dirname "$out")"
(cd "$work" && go run "golang.org/x/vulndb/cmd/indexdb@$version" -vulns "$src/data/osv" -out "$tmp") ||
	fail "indexdb failed"
for f in index/db.json index/modules.json index/vulns.json; do
	[[ -s "$tmp/$f" ]] || fail "indexdb wrote no $f"
done
written=$(find "$tmp/ID" -name 'GO-*.json' | wc -l)
((written == entries)) || fail "$written entries written, $entries expected"
echo "$version" >"$tmp/.vulndb-version"
rm -rf "$out"
mv "$tmp" "$out"
echo "vulndb: $written entries from golang.org/x/vulndb@$version in $out"
