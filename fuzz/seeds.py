#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target under fuzz/corpus/<target>/.

The structured targets decode their input with the `arbitrary` crate (1.x):
integers are little-endian, a bool is the low bit of a byte, an enum is a
u32 tag mapped to variant `(tag * count) >> 32`, an Option is a bool then
the value, and a Vec is a sequence of (1, element) ended by a 0. The
encoders below follow that, so each seed is a readable statement of the
case it starts the fuzzer from. Rerun after changing an input type:

    python3 fuzz/seeds.py
"""

import os
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
MAX = 2**64 - 1


def u8(n):
    return bytes([n & 0xFF])


def u16(n):
    return (n & 0xFFFF).to_bytes(2, "little")


def u32(n):
    return (n & 0xFFFFFFFF).to_bytes(4, "little")


def u64(n):
    return (n & MAX).to_bytes(8, "little")


def i64(n):
    return u64(n)


def boolean(b):
    return b"\x01" if b else b"\x00"


def variant(index, count, *fields):
    tag = -(-(index << 32) // count)
    assert tag < 2**32 and (tag * count) >> 32 == index
    return u32(tag) + b"".join(fields)


def vec(items):
    return b"".join(b"\x01" + x for x in items) + b"\x00"


def option(x):
    return b"\x00" if x is None else b"\x01" + x


def write(target, name, data):
    path = os.path.join(HERE, "corpus", target)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)


# ---- keys ------------------------------------------------------------------

ALPHABET = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def key(prefix, entropy):
    """A valid key: base62 body least significant first, CRC-32 checksum."""
    n = int.from_bytes(entropy, "big")
    body = bytearray()
    for _ in range(30):
        body.append(ALPHABET[n % 62])
        n //= 62
    signed = prefix + bytes(body)
    crc = zlib.crc32(signed)
    check = bytearray()
    for _ in range(6):
        check.append(ALPHABET[crc % 62])
        crc //= 62
    return signed + bytes(reversed(check))


ZERO_KEY = key(b"jcr_", bytes(22))
assert ZERO_KEY == b"jcr_0000000000000000000000000000001yRlQ7"
LONG_KEY = key(b"abcdefg_", bytes([0xA5] * 22))

# ---- clock moves and costs (checks/clock.rs) -------------------------------


def same():
    return variant(0, 7)


def forward_nanos(n):
    return variant(1, 7, variant(0, 2, u8(n)))


def forward16(k):
    return variant(1, 7, variant(1, 2, u8(k)))


def back16(k):
    return variant(2, 7, variant(1, 2, u8(k)))


def forward_by(n):
    return variant(3, 7, u64(n))


def back_by(n):
    return variant(4, 7, u64(n))


def to(t):
    return variant(5, 7, u64(t))


def near_end(n):
    return variant(6, 7, u16(n))


def one():
    return variant(0, 6)


def zero():
    return variant(1, 6)


def units(n):
    return variant(2, 6, u8(n))


def capacity():
    return variant(3, 6)


def over(k):
    return variant(4, 6, u8(k))


def any_cost(n):
    return variant(5, 6, u32(n))


def ops(pairs):
    return vec([m + c for m, c in pairs])


# A run that fills a limit, waits part of a span, goes back, jumps ahead.
WANDER = [
    (same(), one()),
    (same(), units(2)),
    (same(), one()),
    (forward16(4), one()),
    (back16(8), one()),
    (forward_nanos(1), zero()),
    (forward16(16), capacity()),
    (same(), over(1)),
    (forward16(17), one()),
    (back_by(MAX), one()),
    (to(2**40), units(3)),
    (near_end(3), one()),
    (same(), one()),
    (to(5), one()),
]


def limits():
    inline, heap, compact, bucket, fixed = (variant(i, 5) for i in range(5))

    def small(n):
        return variant(0, 2, u8(n))

    def nanos(n):
        return variant(0, 4, u8(n))

    def secs(n):
        return variant(2, 4, u32(n))

    def case(kind, quota, window, start):
        return kind + quota + window + start + ops(WANDER)

    write("limits", "inline_3_per_10ns", case(inline, small(3), nanos(10), same()))
    write("limits", "heap_5_per_second", case(heap, small(5), secs(1), forward_by(7)))
    write("limits", "compact_4_per_150ns", case(compact, small(4), nanos(150), same()))
    write("limits", "bucket_3_every_7ns", case(bucket, small(3), nanos(7), same()))
    write("limits", "fixed_2_per_10ns", case(fixed, small(2), nanos(10), forward_by(3)))
    write("limits", "bucket_near_the_end", case(bucket, small(2), nanos(9), near_end(20)))
    write("limits", "zero_quota", case(fixed, small(0), nanos(10), same()))
    write("limits", "window_too_long", case(compact, small(1), variant(3, 4, u64(MAX)), same()))


# ---- policies (checks/policy.rs) ---------------------------------------------


def policy():
    sliding, compact, bucket, fixed = (variant(i, 4) for i in range(4))

    def spec(name, kind, quota, window):
        return name + kind + u8(quota) + window

    def short(n):
        return variant(0, 2, u8(n))

    def nanos(n):
        return variant(0, 2, u8(n))

    def secs(n):
        return variant(1, 2, u16(n))

    def request(m, c):
        return variant(0, 3, m, c)

    def foreign(m, c):
        return variant(1, 3, m, c)

    adopt = variant(2, 3)
    mixed = [
        spec(short(0), sliding, 4, nanos(20)),
        spec(short(1), compact, 6, nanos(150)),
        spec(short(2), bucket, 3, nanos(5)),
        spec(short(3), fixed, 5, nanos(40)),
    ]
    steps = [request(m, c) for m, c in WANDER]
    write(
        "policy",
        "four_kinds",
        vec(mixed) + vec(mixed[:2]) + same() + vec(steps + [adopt]),
    )
    windows = [spec(short(0), sliding, 2, secs(1)), spec(short(1), fixed, 3, secs(2))]
    other = [spec(short(1), fixed, 3, secs(2)), spec(short(0), sliding, 8, secs(1))]
    write(
        "policy",
        "windows_then_adopted",
        vec(windows) + vec(other) + same() + vec(steps[:8] + [adopt] + steps[8:]),
    )
    write(
        "policy",
        "foreign_state",
        vec(windows) + vec(mixed[:1]) + same() + vec([foreign(same(), one())] + steps[:4]),
    )
    names = [spec(short(0), sliding, 1, nanos(3))] * 2 + [
        spec(short(k), fixed, 1, nanos(3)) for k in range(1, 6)
    ]
    write("policy", "duplicate_and_fifth_limit", vec(names) + vec([]) + same() + vec(steps[:3]))
    write("policy", "empty", vec([]) + vec([]) + same() + vec(steps[:3]))


# ---- lifecycle (checks/lifecycle.rs) -----------------------------------------


def lifecycle():
    default = variant(0, 4)

    def hours(h):
        return variant(1, 4, u8(h))

    def ev(i, *fields):
        return variant(i, 10, *fields)

    def wait(s):
        return ev(0, u16(s))

    def rewind(n):
        return ev(2, u64(n))

    issue_pre, issue_session, issue_permanent = ev(4), ev(5), ev(6)
    authorize, confirm = ev(7), ev(8)

    def revoke(n):
        return ev(9, u8(n))

    story = [
        issue_pre, issue_pre, issue_pre, authorize, wait(3600), issue_pre, issue_session,
        revoke(0), revoke(0), wait(3599), rewind(10**9), confirm, confirm, issue_session,
        issue_permanent, authorize, issue_pre, wait(43200), revoke(1), revoke(4),
    ]
    write(
        "lifecycle",
        "confirm_from_issue",
        default + default + boolean(False) + u8(2) + u64(0) + vec(story),
    )
    write(
        "lifecycle",
        "confirm_from_confirmation_near_the_end",
        hours(1) + hours(3) + boolean(True) + u8(5) + u64(MAX - 3 * 3600 * 10**9) + vec(story),
    )
    write(
        "lifecycle",
        "invalid_lifetimes",
        hours(5) + hours(1) + boolean(False) + u8(0) + u64(7) + vec(story[:8]),
    )


# ---- authorization (checks/authorization.rs) ------------------------------


def authorization():
    def ev(i, *fields):
        return variant(i, 9, *fields)

    def wait(s):
        return ev(0, u16(s))

    def rewind(n):
        return ev(2, u64(n))

    poll, approve, deny, expire = ev(4), ev(5), ev(6), ev(7)

    def status(d):
        return ev(8, i64(d))

    entropy = bytes(range(32))
    hex_id = b"000102030405060708090A0B0C0D0E0F"
    delivered = [
        poll, poll, wait(5), poll, approve, status(-1), poll, poll, approve, wait(600), expire,
        poll,
    ]
    write(
        "authorization",
        "approved_and_delivered",
        option(None) + option(None) + u64(10**9) + entropy + vec(delivered) + hex_id,
    )
    handed_back = [poll, approve, rewind(10**9), wait(31), status(0), expire, expire, poll]
    write(
        "authorization",
        "approved_then_expired",
        option(u64(30 * 10**9)) + option(u64(10**9)) + u64(0) + entropy + vec(handed_back)
        + b"not hex",
    )
    denied = [deny, poll, rewind(5), deny, approve, poll, wait(700), poll]
    write(
        "authorization",
        "denied",
        option(None) + option(u64(0)) + u64(MAX - 10**9) + entropy + vec(denied),
    )


# ---- client headers (checks/client_headers.rs) ------------------------------


def client_headers():
    empty_round = vec([]) + u64(0) + vec([])
    fields = {
        "policy_field": b'"hourly";q=300;w=3600, "burst";q=60;w=60',
        "rate_limit_field": b'"hourly";r=299;t=3600, "burst";r=59;t=60',
        "tabs_and_junk": b'\t"a" ;q=1 ;\tw=2,\t"b";q=3, junk, "c";q=9999999999999999 ,,',
        "parameters_of_every_kind": (
            b'"a\\"b";q=1;r=2;pk=:aGk=:;x=?1;d=1.5;s="p,q";u=%"caf%c3%a9", "d";r=-1;t=@17'
        ),
        "retry_after": b" 120 ",
        "five_members": b'"a";q=1;r=1, "b";q=2;r=2, "c";q=3;r=3, "d";q=4;r=4, "e";q=5;r=5',
    }
    for name, value in fields.items():
        write("client_headers", name, empty_round + value)

    def spec(kind, quota, window):
        return u8(kind) + u32(quota) + u64(window) + option(None)

    limits = [
        spec(0, 60, 60 * 10**9),
        spec(1, 300, 3600 * 10**9),
        spec(2, 3, 5 * 10**8),
        spec(3, 2, 1500 * 10**6),
    ]
    requests = [(m, c) for m, c in WANDER]
    write("client_headers", "round_trip_four_kinds", vec(limits) + u64(10**9) + ops(requests))


# ---- verification (checks/verify.rs) ----------------------------------------


def verify():
    pre, confirmed, permanent = (variant(i, 4) for i in range(3))

    def revoked(after):
        return variant(3, 4, u64(after))

    def key_spec(seed, account, kind, issued, plan):
        return u8(seed) + u8(account) + kind + u64(issued) + u8(plan)

    def call(header, m=same(), c=one()):
        return variant(0, 5, header, m, c)

    def h(i, *fields):
        return variant(i, 8, *fields)

    absent = h(0)

    def raw(b):
        return h(1, vec([u8(x) for x in b]))

    def with_key(n):
        return h(2, u8(n))

    def spaced(n, s):
        return h(3, u8(n), u8(s))

    def tab(n):
        return h(4, u8(n))

    def typo(n, at, b):
        return h(5, u8(n), u8(at), u8(b))

    def trailing(n, tail):
        return h(6, u8(n), vec([u8(x) for x in tail]))

    def stranger(seed):
        return h(7, u8(seed))

    def revoke(n):
        return variant(1, 5, u8(n))

    def confirm(a):
        return variant(2, 5, u8(a))

    def plan(n, p):
        return variant(3, 5, u8(n), u8(p))

    def fail(i):
        return variant(4, 5, variant(i, 4))

    keys = [
        key_spec(1, 0, pre, 0, 0),
        key_spec(2, 0, confirmed, 0, 0),
        key_spec(3, 1, permanent, 0, 1),
        key_spec(4, 2, revoked(10**9), 0, 2),
    ]
    second = 10**9
    steps = [
        call(with_key(0)), call(with_key(0)), call(with_key(0), c=capacity()),
        call(with_key(0), c=any_cost(1000)), call(tab(0)), call(spaced(1, 2)),
        call(typo(0, 10, ord("x"))), call(stranger(9)), call(absent), call(raw(b"Basic dXNlcg==")),
        call(trailing(1, b"==")), call(with_key(3)), confirm(0), call(with_key(0)),
        revoke(0), call(with_key(0)), fail(1), call(with_key(1)), fail(3), call(with_key(2)),
        fail(2), call(with_key(2)), fail(0), plan(2, 2), call(with_key(2)), plan(2, 0),
        call(with_key(2)), call(with_key(1), forward_by(3 * 3600 * second)),
        call(with_key(1), back_by(2 * 3600 * second)), call(with_key(1), forward_by(MAX)),
    ]
    for config in range(5):
        write("verify", f"config_{config}", u8(config) + vec(keys) + u64(second) + vec(steps))


# ---- byte-level targets ------------------------------------------------------


def bearer():
    cases = {
        "valid_key": b"Bearer " + ZERO_KEY,
        "valid_long_prefix_key": b"bearer   " + LONG_KEY,
        "tab": b"Bearer\t" + ZERO_KEY,
        "padded_token": b"bEaReR abc+/==",
        "other_scheme": b"Basic dXNlcg==",
        "missing_token": b"Bearer ",
        "two_tokens": b"Bearer abc def",
        "leading_space": b" Bearer abc",
        "checksum_typo": b"Bearer " + ZERO_KEY[:-1] + b"8",
        "empty": b"",
    }
    for name, value in cases.items():
        write("bearer", name, value)


def keys():
    def case(fmt, entropy, at, byte, raw):
        return u8(fmt) + entropy + u8(at) + u8(byte) + raw

    write("key", "valid_default_key", case(0, bytes(22), 10, ord("x"), ZERO_KEY))
    write("key", "valid_long_prefix_key", case(2, bytes([0xA5] * 22), 39, ord("0"), LONG_KEY))
    typo = ZERO_KEY[:-1] + b"8"
    write("key", "all_ones_entropy", case(1, bytes([0xFF] * 22), 0, ord("_"), typo))
    write("key", "hint", case(3, bytes(range(22)), 3, ord("-"), b"jcr_AbC1"))
    write("key", "prefix", case(0, bytes(22), 33, ord("A"), b"abc1234_"))
    write("key", "wrong_length", case(0, bytes(22), 34, 0, ZERO_KEY + b"0"))


if __name__ == "__main__":
    for make in (bearer, keys, limits, policy, lifecycle, authorization, client_headers, verify):
        make()
