#!/usr/bin/env bash
# Fuzzing for keyrate: builds every cargo-fuzz target under fuzz/ once, then
# runs each for a bounded time on a temporary copy of its seed corpus, so the
# repository is never written to. Fails on the first crash found in any
# target (after running them all), printing the crashing input's path and
# its bytes in base64.
#
# Run from anywhere; needs a nightly toolchain (for cargo fuzz only).
#
# Environment:
#   FUZZ_SECONDS  seconds per target (default 30)
#   FUZZ_TARGETS  space-separated targets to run (default: every target)
#   FUZZ_KEEP     if set, keep the temporary corpora and logs even on success
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
fail() {
    echo "ERROR: $*" >&2
    exit 1
}

seconds="${FUZZ_SECONDS:-30}"
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || fail "FUZZ_SECONDS must be a positive integer, not '$seconds'"

step "nightly toolchain (for cargo fuzz only)"
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "ERROR: cargo fuzz needs a nightly toolchain and 'rustup toolchain list' shows none." >&2
    echo "ERROR: install one with 'rustup toolchain install nightly'. Failing." >&2
    exit 1
fi
rustc +nightly --version

step "cargo-fuzz"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
cargo +nightly fuzz --version

step "build every target (release, debug assertions and overflow checks on)"
cargo +nightly fuzz build -O -a
host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
bin_dir="fuzz/target/$host/release"

if [[ -n "${FUZZ_TARGETS:-}" ]]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
((${#targets[@]} > 0)) || fail "no fuzz targets found"

work="$(mktemp -d "${TMPDIR:-/tmp}/keyrate-fuzz.XXXXXX")"
keep="${FUZZ_KEEP:-}"
cleanup() {
    if [[ -z "$keep" ]]; then
        rm -rf "$work"
    else
        echo "corpora and logs kept in $work"
    fi
}
trap cleanup EXIT

crashed=()
for target in "${targets[@]}"; do
    step "fuzz $target for ${seconds}s"
    exe="$bin_dir/$target"
    [[ -x "$exe" ]] || fail "$exe was not built"
    dir="$work/$target"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    if [[ -d "fuzz/corpus/$target" ]]; then
        cp -R "fuzz/corpus/$target/." "$dir/corpus/"
    fi
    echo "seeds: $(find "$dir/corpus" -type f | wc -l)"

    status=0
    "$exe" "$dir/corpus" \
        -max_total_time="$seconds" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/" \
        >"$dir/log" 2>&1 || status=$?

    # The last status line carries #runs, cov and ft; then the final stats.
    grep -E '^#[0-9]+' "$dir/log" | tail -n 1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$dir/log" || true

    if ((status != 0)); then
        crashed+=("$target")
        keep=1
        echo "ERROR: $target failed with status $status:" >&2
        grep -A 4 -E 'panicked at|ERROR: (AddressSanitizer|libFuzzer)' "$dir/log" >&2 || true
        echo "ERROR: the end of its log ($dir/log):" >&2
        tail -n 12 "$dir/log" >&2
        for input in "$dir/artifacts"/*; do
            [[ -f "$input" ]] || continue
            echo "ERROR: crashing input: $input" >&2
            echo "ERROR: its bytes in base64: $(base64 -w0 "$input")" >&2
            echo "ERROR: replay: $exe $input" >&2
        done
    fi
done

if ((${#crashed[@]} > 0)); then
    fail "crashes in: ${crashed[*]}"
fi
echo
echo "fuzzing passed: ${#targets[@]} targets, ${seconds}s each"
