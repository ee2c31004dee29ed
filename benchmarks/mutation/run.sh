#!/usr/bin/env bash
# Mutation run over the package's numerical core (see README.md). Works on a copy of the repository in
# $WORK (default /tmp/mutwork), never in the checkout, with mutmut from a separate virtual environment.
#
#   benchmarks/mutation/run.sh [FILE ...]      e.g. benchmarks/mutation/run.sh companion/ref/gru.py
#
# Without arguments every file listed under only_mutate in setup.cfg is mutated, one file after the other.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-/tmp/mutwork}
MUTMUT=${MUTMUT:-/tmp/mutvenv/bin/mutmut}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONHASHSEED=0
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(sed -n '/^only_mutate=/,/^[a-z_]*=/p' "$ROOT/benchmarks/mutation/setup.cfg" | grep '^ ')
fi
for file in "${files[@]}"; do
  file=$(echo "$file" | xargs)
  name=$(echo "$file" | tr '/.' '__')
  dir="$WORK/$name"
  rm -rf "$dir" && mkdir -p "$dir"
  cp -r "$ROOT/companion" "$ROOT/tests" "$dir/"
  # only this file is mutated; the tests listed in setup.cfg are the ones run against it
  sed "/^only_mutate=/,/^[a-z_]*=/{/^ /d}; s|^only_mutate=|only_mutate=\n    $file|" \
    "$ROOT/benchmarks/mutation/setup.cfg" > "$dir/setup.cfg"
  for test in $(grep -o 'tests/[a-z/]*test_[a-z0-9_]*\.py' "$dir/setup.cfg"); do  # tests not in this checkout
    [ -f "$dir/$test" ] || sed -i "\|$test|d" "$dir/setup.cfg"
  done
  (cd "$dir" && "$MUTMUT" run --max-children 1 > run.log 2>&1 || true
   "$MUTMUT" results --all true > results.txt 2>&1 || true)
  echo "$file: $(grep -c ': killed' "$dir/results.txt") killed, $(grep -c ': survived' "$dir/results.txt") survived," \
       "$(grep -vc ': killed\|: survived' "$dir/results.txt") other"
done
