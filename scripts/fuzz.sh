#!/usr/bin/env bash
# fuzz.sh runs every fuzz target in the module for $FUZZTIME (default 8s)
# each. The seed corpora (testdata/fuzz) always run as part of `go test`;
# this adds coverage-guided exploration on top.
set -euo pipefail
FUZZTIME=${FUZZTIME:-8s}
cd "$(dirname "$0")/.."
n=0
while IFS=: read -r file name; do
	pkg=./$(dirname "$file")
	printf 'fuzz: %s %s (%s)\n' "$pkg" "$name" "$FUZZTIME"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" >/tmp/efferent-fuzz.log 2>&1 || {
		cat /tmp/efferent-fuzz.log
		echo "fuzz: $pkg $name FAILED (a reproducer was written under $pkg/testdata/fuzz/$name)"
		exit 1
	}
	n=$((n + 1))
done < <(grep -rEo --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' . | sed -E 's/^\.\///; s/:func /:/' | sort)
echo "fuzz: $n targets passed"
