#!/usr/bin/env bash
# Runs fuzz targets one after the other, each for FUZZTIME.
#
# Usage: scripts/fuzz.sh FUZZTIME PACKAGE:TARGET... (extra go test flags in
# FUZZFLAGS).
#
# A run fails when go test fails, with one exception: Go 1.26's fuzzing
# coordinator can report "context deadline exceeded" at the -fuzztime
# boundary although no input failed (golang/go#75804, fixed in Go 1.27).
# Such a run wrote no failing input under testdata/fuzz/<TARGET>/ and is
# reported as that race, not as a finding. A run that wrote a failing
# input always fails.
set -uo pipefail
fuzztime=${1:?usage: fuzz.sh FUZZTIME PACKAGE:TARGET...}
shift
status=0
for t in "$@"; do
	pkg=${t%%:*} name=${t##*:}
	corpus="$pkg/testdata/fuzz/$name"
	before=$(ls "$corpus" 2>/dev/null | sort)
	echo "==> $pkg $name for $fuzztime"
	log=$(mktemp)
	# shellcheck disable=SC2086 # FUZZFLAGS is a list of flags
	go test "$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" -timeout 0 ${FUZZFLAGS:-} 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	new=$(comm -13 <(echo "$before") <(ls "$corpus" 2>/dev/null | sort))
	if ((rc != 0)); then
		if [[ -z "$new" ]] && grep -q "context deadline exceeded" "$log" && ! grep -q "Failing input written" "$log"; then
			echo "==> $name: stopped by the Go fuzzing coordinator's deadline race (golang/go#75804), no failing input: not a finding"
		else
			echo "==> $name: FAILED${new:+; failing input: $corpus/$new}"
			status=1
		fi
	fi
	rm -f "$log"
done
exit $status
