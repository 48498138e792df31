#!/usr/bin/env bash
# Load test of keyrate-server, on 127.0.0.1 only.
#
# 1. Throughput: wrk against GET /v1/feeds with one confirmed key, with
#    enforcement on, then off (--no-enforce), side by side: requests/s, p99
#    latency, the ratio, and the status tally. With enforcement on, any
#    status other than 200 and 429 fails the script.
# 2. Memory: a server with small tables takes 100 000 sign-ups from distinct
#    emails (POST /v1/authorize), then a round of requests with the keys it
#    issued; its resident memory (VmRSS) is printed before and after, with
#    how many requests were refused with 503 because a table was full.
#
# Usage: server/load.sh            (from anywhere; needs cargo, curl and wrk,
#                                   and installs wrk with apt-get if missing)
# Settings, from the environment:
#   DURATION  each throughput run (default 15s)
#   THREADS   wrk threads (default 2)      CONNECTIONS  wrk connections (32)
#   EMAILS    distinct sign-ups of the memory part (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-15s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
EMAILS=${EMAILS:-100000}
# The memory part's tables: smaller than the sign-ups, the limiter table
# smaller than the accounts so that it fills too.
LIMITERS=5000
ACCOUNTS=10000
KEYS=20000
AUTHORIZE_LIMITERS=20000

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keyrate-load.XXXXXX")
SERVER_PID=
WRK_PID=

cleanup() {
    for pid in $WRK_PID $SERVER_PID; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "load.sh: $*" >&2
    exit 1
}

# --- tools ---------------------------------------------------------------

install_missing() {
    local missing=()
    for tool in "$@"; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] && return
    local sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "installing ${missing[*]} with apt-get"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
install_missing wrk curl

echo "building keyrate-server (release)"
cargo build --release -q -p keyrate-server
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
BIN="$TARGET_DIR/release/keyrate-server"
[ -x "$BIN" ] || fail "no server binary at $BIN"

# --- the server ----------------------------------------------------------

# A loopback port nothing listens on (the server fails to start if another
# process takes it meanwhile, and start_server then tries another).
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

# Starts the server with the given flags on a free loopback port; sets
# SERVER_PID and BASE.
start_server() {
    local attempt port
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        RUST_LOG=warn "$BIN" --listen "127.0.0.1:$port" "$@" \
            >"$WORK/server-$port.log" 2>&1 &
        SERVER_PID=$!
        BASE="http://127.0.0.1:$port"
        for _ in $(seq 1 100); do
            if ! kill -0 "$SERVER_PID" 2>/dev/null; then
                break
            fi
            if curl -s -o /dev/null "$BASE/v1/feeds"; then
                return
            fi
            sleep 0.05
        done
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    done
    fail "the server did not start: $(cat "$WORK"/server-*.log)"
}

stop_server() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# The server's resident memory, in KiB.
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"
}

# A key for a new email, confirmed through the development-mode link.
confirmed_key() {
    local answer key link
    answer=$(curl -sf -X POST "$BASE/v1/authorize" \
        -H 'content-type: application/json' \
        -d '{"email":"load@example.com","client_name":"load.sh"}') ||
        fail "POST /v1/authorize failed"
    key=$(sed -n 's/.*"api_key":"\([^"]*\)".*/\1/p' <<<"$answer")
    link=$(sed -n 's/.*"confirmation_url":"\([^"]*\)".*/\1/p' <<<"$answer")
    [ -n "$key" ] && [ -n "$link" ] || fail "no key in the answer to /v1/authorize"
    curl -sf -o /dev/null "$link" || fail "the confirmation link failed"
    echo "$key"
}

# --- wrk scripts -----------------------------------------------------------

# Shared by every script: tallies statuses per thread; done() prints
# "KR rps", "KR p99_ms", "KR socket_errors" and one "KR status CODE N" line
# per status seen.
cat >"$WORK/tally.lua" <<'EOF'
kr_threads = {}

function setup(thread)
    table.insert(kr_threads, thread)
    thread:set("id", #kr_threads)
end

function tally(status)
    counts[status] = (counts[status] or 0) + 1
end

function report(summary, latency)
    local secs = summary.duration / 1e6
    io.write(string.format("KR rps %.1f\n", summary.requests / secs))
    io.write(string.format("KR p99_ms %.3f\n", latency:percentile(99.0) / 1000))
    local e = summary.errors
    io.write(string.format("KR socket_errors %d\n",
        e.connect + e.read + e.write + e.timeout))
    local total = {}
    for _, t in ipairs(kr_threads) do
        for status, n in pairs(t:get("counts")) do
            total[status] = (total[status] or 0) + n
        end
    end
    for status, n in pairs(total) do
        io.write(string.format("KR status %d %d\n", status, n))
    end
end

function done(summary, latency, requests)
    report(summary, latency)
end
EOF

# GET /v1/feeds, every request with the key given after "--".
cat >"$WORK/feeds.lua" <<'EOF'
dofile(os.getenv("KR_WORK") .. "/tally.lua")

function init(args)
    counts = {}
    req = wrk.format("GET", "/v1/feeds", { ["Authorization"] = "Bearer " .. args[1] })
end

function request()
    return req
end

function response(status, headers, body)
    tally(status)
end
EOF

# POST /v1/authorize with distinct emails: args are the sign-ups per
# thread and a batch name. Keys issued are kept, and written by done() to
# $KR_WORK/keys. A thread that has all its answers marks a file and stops;
# until then, extra requests go to an unknown path (404, not counted).
# wrk calls the first thread's request() once before the run to check what
# it returns, and sends nothing: so each thread's first request is a filler.
cat >"$WORK/authorize.lua" <<'EOF'
dofile(os.getenv("KR_WORK") .. "/tally.lua")

function init(args)
    counts, keys = {}, {}
    quota, batch = tonumber(args[1]), args[2]
    sent, answered, first = 0, 0, true
    filler = wrk.format("GET", "/load-sh-filler")
end

function request()
    if first or sent >= quota then
        first = false
        return filler
    end
    sent = sent + 1
    local body = string.format(
        '{"email":"%s-%d-%d@load.example","client_name":"load.sh"}', batch, id, sent)
    return wrk.format("POST", "/v1/authorize", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
    if status == 404 then
        return
    end
    tally(status)
    if status == 201 then
        local key = body:match('"api_key":"([^"]+)"')
        if key then
            keys[#keys + 1] = key
        end
    end
    answered = answered + 1
    if answered == quota then
        local mark = io.open(os.getenv("KR_WORK") .. "/done." .. id, "w")
        mark:write("done\n")
        mark:close()
        wrk.thread:stop()
    end
end

function done(summary, latency, requests)
    report(summary, latency)
    local out = io.open(os.getenv("KR_WORK") .. "/keys", "a")
    for _, t in ipairs(kr_threads) do
        for _, key in ipairs(t:get("keys")) do
            out:write(key, "\n")
        end
    end
    out:close()
end
EOF

# GET /v1/feeds cycling through the keys in $KR_WORK/keys, each thread from
# its own offset.
cat >"$WORK/keys.lua" <<'EOF'
dofile(os.getenv("KR_WORK") .. "/tally.lua")

function init(args)
    counts, reqs = {}, {}
    for key in io.lines(os.getenv("KR_WORK") .. "/keys") do
        reqs[#reqs + 1] = wrk.format("GET", "/v1/feeds", { ["Authorization"] = "Bearer " .. key })
    end
    i = id * 7919
end

function request()
    i = i + 1
    return reqs[i % #reqs + 1]
end

function response(status, headers, body)
    tally(status)
end
EOF

export KR_WORK="$WORK"

# Runs wrk with the given arguments; its KR lines go to file $1.
run_wrk() {
    local out=$1
    shift
    wrk "$@" >"$WORK/wrk.log" 2>&1 || fail "wrk failed: $(cat "$WORK/wrk.log")"
    grep '^KR ' "$WORK/wrk.log" | cut -c4- >"$out"
}

# A value from a KR file: value FILE KEY...
value() {
    local file=$1
    shift
    awk -v key="$*" '{ v = $NF; $NF = ""; sub(/ $/, ""); if ($0 == key) print v }' "$file"
}

# "200: N, 429: N" from a KR file.
tally_line() {
    awk '$1 == "status" { printf "%s%s: %s", sep, $2, $3; sep = ", " }' "$1"
}

# --- 1. throughput, enforcement on and off ---------------------------------

declare -A RESULT
for mode in on off; do
    flags=(--dev)
    [ "$mode" = off ] && flags+=(--no-enforce)
    start_server "${flags[@]}"
    key=$(confirmed_key)
    echo "enforcement $mode: wrk -t$THREADS -c$CONNECTIONS -d$DURATION $BASE/v1/feeds"
    run_wrk "$WORK/$mode" -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
        -s "$WORK/feeds.lua" "$BASE/v1/feeds" -- "$key"
    stop_server
    RESULT[$mode.rps]=$(value "$WORK/$mode" rps)
    RESULT[$mode.p99]=$(value "$WORK/$mode" p99_ms)
    RESULT[$mode.errors]=$(value "$WORK/$mode" socket_errors)
    RESULT[$mode.tally]=$(tally_line "$WORK/$mode")
done

others=$(awk '$1 == "status" && $2 != 200 && $2 != 429' "$WORK/on")
[ -z "$others" ] || fail "enforced run answered other statuses than 200 and 429: $others"
[ -n "$(value "$WORK/on" status 200)" ] || fail "enforced run answered no 200"

echo
printf '%-12s %12s %10s %8s  %s\n' enforcement req/s "p99 ms" errors statuses
for mode in on off; do
    printf '%-12s %12s %10s %8s  %s\n' "$mode" "${RESULT[$mode.rps]}" \
        "${RESULT[$mode.p99]}" "${RESULT[$mode.errors]}" "${RESULT[$mode.tally]}"
done
awk -v a="${RESULT[on.rps]}" -v b="${RESULT[off.rps]}" \
    -v c="${RESULT[on.p99]}" -v d="${RESULT[off.p99]}" 'BEGIN {
    printf "ratio on/off: req/s %.3f, p99 %.3f\n", a / b, c / d }'

# --- 2. memory with 100 000 distinct sign-ups --------------------------------

cat >"$WORK/memory.toml" <<EOF
# One client address signs everyone up: its own limit is raised out of the
# way (a fixed window keeps its state small); each email keeps the default.
[capacity]
authorize_limiters = $AUTHORIZE_LIMITERS

[authorize]
per_address = [{ name = "hourly", kind = "fixed", quota = 1000000000, window = 3600 }]
per_email = [{ name = "hourly", kind = "sliding", quota = 5, window = 3600 }]
EOF

# Signs up $EMAILS distinct emails in batch $1; KR lines go to $WORK/$1.
sign_up() {
    local batch=$1 per_thread=$((EMAILS / THREADS))
    rm -f "$WORK"/done.*
    wrk -t"$THREADS" -c"$CONNECTIONS" -d600s -s "$WORK/authorize.lua" \
        "$BASE/v1/authorize" -- "$per_thread" "$batch" >"$WORK/wrk.log" 2>&1 &
    WRK_PID=$!
    # wrk runs its whole duration even when every thread stopped: end it
    # once each thread has marked that it has all its answers.
    while kill -0 "$WRK_PID" 2>/dev/null; do
        if [ "$(find "$WORK" -name 'done.*' | wc -l)" -ge "$THREADS" ]; then
            kill -INT "$WRK_PID"
            break
        fi
        sleep 0.2
    done
    wait "$WRK_PID" || fail "wrk failed: $(cat "$WORK/wrk.log")"
    WRK_PID=
    grep '^KR ' "$WORK/wrk.log" | cut -c4- >"$WORK/$batch"
    [ "$(find "$WORK" -name 'done.*' | wc -l)" -ge "$THREADS" ] ||
        fail "the sign-ups did not finish within wrk's 600 s"
}

echo
echo "memory: --limiter-capacity $LIMITERS --account-capacity $ACCOUNTS" \
    "--key-capacity $KEYS, authorize_limiters = $AUTHORIZE_LIMITERS"
start_server --config "$WORK/memory.toml" --limiter-capacity "$LIMITERS" \
    --account-capacity "$ACCOUNTS" --key-capacity "$KEYS"
rss_start=$(rss_kib)

sign_up first
rss_signed=$(rss_kib)
signups=$(awk '$1 == "status" { n += $3 } END { print n + 0 }' "$WORK/first")
[ "$signups" -eq $((EMAILS / THREADS * THREADS)) ] ||
    fail "counted $signups answers to $EMAILS sign-ups"
others=$(awk '$1 == "status" && $2 !~ /^(201|202|429|503)$/' "$WORK/first")
[ -z "$others" ] || fail "sign-ups answered unexpected statuses: $others"

run_wrk "$WORK/keys-run" -t"$THREADS" -c"$CONNECTIONS" -d10s \
    -s "$WORK/keys.lua" "$BASE/v1/feeds"
rss_keys=$(rss_kib)
keys=$(wc -l <"$WORK/keys")

sign_up second
rss_second=$(rss_kib)
stop_server

row() {
    printf '  %-44s %8s KiB   %s\n' "$@"
}
echo "resident memory (VmRSS) of the server:"
row "at start" "$rss_start" ""
row "after $signups sign-ups ($(value "$WORK/first" rps) req/s)" "$rss_signed" \
    "$(tally_line "$WORK/first")"
row "after 10 s of /v1/feeds with its $keys keys" "$rss_keys" \
    "$(tally_line "$WORK/keys-run")"
row "after $signups more ($(value "$WORK/second" rps) req/s)" "$rss_second" \
    "$(tally_line "$WORK/second")"
