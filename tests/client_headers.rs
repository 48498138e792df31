//! The client's reading of `RateLimit-Policy`, `RateLimit` and `Retry-After`:
//! the draft's grammar, leniency member by member, bounds, arbitrary bytes,
//! and a round trip through what the server side writes.

use core::time::Duration;

use keyrate::client::headers::{
    Field, FieldItem, MAX_ITEMS, MAX_NAME_LEN, PolicyField, PolicyItem, RateLimitField,
    parse_retry_after,
};
use keyrate::http::{HeaderOptions, RateLimitHeaders};
use keyrate::limit::{
    AnyLimit, CompactWindow, FixedWindow, HeapSlots, Policy, SlidingWindow, TokenBucket,
};
use keyrate::time::{Instant, ceil_secs};
use proptest::prelude::*;

/// `(name, quota, window seconds)` of every policy item kept.
fn policies(value: &str) -> Vec<(String, u64, Option<u64>)> {
    PolicyField::parse(value.as_bytes())
        .items()
        .iter()
        .map(|p| (p.name.to_string(), p.quota, p.window.map(|w| w.as_secs())))
        .collect()
}

/// `(name, remaining, reset seconds)` of every rate-limit item kept.
fn limits(value: &str) -> Vec<(String, u64, Option<u64>)> {
    RateLimitField::parse(value.as_bytes())
        .items()
        .iter()
        .map(|r| {
            (
                r.name.to_string(),
                r.remaining,
                r.reset.map(|t| t.as_secs()),
            )
        })
        .collect()
}

fn p(name: &str, q: u64, w: Option<u64>) -> (String, u64, Option<u64>) {
    (name.to_string(), q, w)
}

#[test]
fn the_drafts_policy_examples_are_read() {
    assert_eq!(
        policies(r#""burst";q=100;w=60,"daily";q=1000;w=86400"#),
        [p("burst", 100, Some(60)), p("daily", 1000, Some(86400))]
    );
    assert_eq!(
        policies(r#""peruser";q=65535;qu="content-bytes";w=10;pk=:sdfjLJUOUH==:"#),
        [p("peruser", 65535, Some(10))]
    );
    assert_eq!(policies(r#""default";q=100"#), [p("default", 100, None)]);
}

#[test]
fn the_drafts_rate_limit_examples_are_read() {
    assert_eq!(
        limits(r#""default";r=50;t=30"#),
        [p("default", 50, Some(30))]
    );
    assert_eq!(
        limits(r#""default";r=999;pk=:dHJpYWwxMjEzMjM=:"#),
        [p("default", 999, None)]
    );
    assert_eq!(
        limits(r#""default";r=300000000;t=60;pk=:QXBwLTk5OQ==:"#),
        [p("default", 300_000_000, Some(60))]
    );
}

#[test]
fn whitespace_is_accepted_around_commas_and_semicolons() {
    let want = [p("a", 1, Some(2)), p("b", 3, None)];
    assert_eq!(policies("  \"a\";q=1;w=2 ,\t\"b\"; q=3  "), want);
    assert_eq!(policies("\"a\" ;q=1 ;\tw=2,\"b\";q=3"), want);
}

#[test]
fn whitespace_around_an_equals_sign_makes_the_member_malformed() {
    let f = PolicyField::parse(br#""a";q = 1, "b";q=2"#);
    assert_eq!(policies(r#""a";q = 1, "b";q=2"#), [p("b", 2, None)]);
    assert_eq!(f.ignored(), 1);
}

#[test]
fn unknown_parameters_of_every_kind_are_ignored() {
    let value = concat!(
        r#""a";acme-burst=5;q=7;x="y\"z";tok=foo/bar;dec=-1.25;b=?0;flag;"#,
        r#"when=@1700000000;bytes=:aGk=:;disp=%"caf%c3%a9";w=9"#
    );
    assert_eq!(policies(value), [p("a", 7, Some(9))]);
}

#[test]
fn a_malformed_member_is_skipped_and_the_others_kept() {
    let malformed = [
        r#""x";q=abc"#,
        r#""x";q=1.5"#,
        r#""x";q=-1"#,
        r#""x";w=60"#,
        r#""x";q=1;w=0"#,
        r#""x";q=1;w=-5"#,
        r#""x";Q=1"#,
        r#""x";q=1 junk"#,
        r#""x";q=1)"#,
        r#""x"q=1"#,
        r#"x;q=1"#,
        r#"7;q=1"#,
        r#"("x" "y");q=1"#,
        r#""x\n";q=1"#,
        r#""x";q=1;u=%"caf%C3%A9""#,
        r#""x";q=1;k=:ab"#,
        r#""x";q=1;;"#,
        r#""x";q="1""#,
    ];
    for bad in malformed {
        let value = format!(r#""a";q=1, {bad}, "b";q=2"#);
        let f = PolicyField::parse(value.as_bytes());
        let names: Vec<_> = f.items().iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a", "b"], "for {bad}");
        assert_eq!(f.ignored(), 1, "for {bad}");
    }
}

#[test]
fn a_comma_inside_a_quoted_string_does_not_split_a_skipped_member() {
    let value = r#""a";q=1, "x";q=bad;note="p, q", "b";q=2"#;
    assert_eq!(policies(value), [p("a", 1, None), p("b", 2, None)]);
}

#[test]
fn an_unclosed_quote_swallows_the_rest_of_the_field() {
    let f = PolicyField::parse(br#""a";q=1, "x;q=1, "b";q=2"#);
    let names: Vec<_> = f.items().iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["a"]);
    assert_eq!(f.ignored(), 1);
}

#[test]
fn rate_limit_needs_r_and_reads_t_as_seconds() {
    let f = RateLimitField::parse(br#""a";t=5, "b";r=0;t=12, "c";r=3;t=x"#);
    assert_eq!(f.items().len(), 1);
    assert_eq!(f.ignored(), 2);
    let b = f.get("b").unwrap();
    assert_eq!((b.remaining, b.reset), (0, Some(Duration::from_secs(12))));
}

#[test]
fn integers_of_fifteen_digits_are_kept_and_longer_ones_skip_the_member() {
    let max = 999_999_999_999_999u64;
    assert_eq!(
        limits(&format!(r#""a";r={max};t={max}"#)),
        [p("a", max, Some(max))]
    );
    let f = RateLimitField::parse(br#""a";r=1000000000000000, "b";r=1;t=10000000000000000"#);
    assert!(f.is_empty());
    assert_eq!(f.ignored(), 2);
    // Leading zeros count as digits.
    assert!(PolicyField::parse(b"\"a\";q=0000000000000001").is_empty());
}

#[test]
fn non_ascii_bytes_skip_the_member_they_are_in() {
    let value = "\"caf\u{e9}\";q=1, \"b\";q=2, \"c\";q=3;note=\"\u{1F600}\", \u{e9}, \"d\";q=4";
    assert_eq!(policies(value), [p("b", 2, None), p("d", 4, None)]);
    assert_eq!(PolicyField::parse(value.as_bytes()).ignored(), 3);
    // Not even UTF-8.
    let f = PolicyField::parse(b"\"a\xff\";q=1, \"b\";q=\xfe2, \"c\";q=3");
    assert_eq!(f.items().len(), 1);
    assert_eq!(f.items()[0].name, "c");
}

#[test]
fn empty_values_and_empty_members_give_nothing_and_count_nothing() {
    for value in ["", "   ", ",", " , ,\t", "\"a\";q=1,,", ",\"a\";q=1"] {
        let f = PolicyField::parse(value.as_bytes());
        assert_eq!(f.ignored(), 0, "for {value:?}");
        assert!(f.items().len() <= 1);
    }
    assert!(PolicyField::parse(b"").is_empty());
}

#[test]
fn at_most_max_items_are_kept_and_the_rest_counted() {
    let value: Vec<String> = (0..MAX_ITEMS + 2)
        .map(|i| format!("\"n{i}\";r={i}"))
        .collect();
    let f = RateLimitField::parse(value.join(", ").as_bytes());
    assert_eq!(f.items().len(), MAX_ITEMS);
    assert_eq!(f.ignored(), 2);
    assert_eq!(
        f.items()[MAX_ITEMS - 1].name,
        format!("n{}", MAX_ITEMS - 1).as_str()
    );
}

#[test]
fn names_longer_than_the_bound_skip_the_member() {
    let longest = "n".repeat(MAX_NAME_LEN);
    let too_long = "n".repeat(MAX_NAME_LEN + 1);
    let value = format!(r#""{too_long}";q=1, "{longest}";q=2"#);
    assert_eq!(policies(&value), [p(&longest, 2, None)]);
}

#[test]
fn retry_after_reads_delay_seconds_only() {
    let secs = |s: u64| Some(Duration::from_secs(s));
    assert_eq!(parse_retry_after(b"120"), secs(120));
    assert_eq!(parse_retry_after(b" 7\t"), secs(7));
    assert_eq!(parse_retry_after(b"0"), secs(0));
    assert_eq!(
        parse_retry_after(b"99999999999999999999999"),
        secs(u64::MAX)
    );
    for bad in [
        &b""[..],
        b"  ",
        b"1.5",
        b"-3",
        b"+3",
        b"3 s",
        b"Wed, 21 Oct 2015 07:28:00 GMT",
        b"\xff",
    ] {
        assert_eq!(parse_retry_after(bad), None, "for {bad:?}");
    }
}

/// A member of a generated list: well formed, or broken in a known way.
#[derive(Clone, Debug)]
enum Member {
    Valid {
        name: usize,
        quota: u64,
        window: Option<u64>,
        extra: Vec<&'static str>,
    },
    Broken(&'static str),
}

const NAMES: [&str; 6] = ["hourly", "burst", "a b", "q\\\"x", "daily-1", ""];
const EXTRAS: [&str; 6] = [
    "qu=\"requests\"",
    "pk=:AA==:",
    "x",
    "acme=1.5",
    "z=?1",
    "t=tok",
];
const BROKEN: [&str; 6] = [
    "\"x\";q=",
    "\"x\";w=3",
    "tok;q=1",
    "\"x\";q=1;w=0",
    "\"x\";q=1;w=\"5\"",
    "\"x\";q=1)",
];

fn member() -> impl Strategy<Value = Member> {
    prop_oneof![
        3 => (
            0..NAMES.len(),
            0..1_000_000u64,
            proptest::option::of(1..100_000u64),
            proptest::collection::vec(proptest::sample::select(&EXTRAS[..]), 0..3),
        )
            .prop_map(|(name, quota, window, extra)| Member::Valid {
                name,
                quota,
                window,
                extra
            }),
        1 => proptest::sample::select(&BROKEN[..]).prop_map(Member::Broken),
    ]
}

/// How a generated member is written, in a list of policy members.
fn render(m: &Member) -> String {
    match m {
        Member::Valid {
            name,
            quota,
            window,
            extra,
        } => {
            let mut s = format!("\"{}\"", NAMES[*name]);
            for e in extra {
                s.push_str(&format!(";{e}"));
            }
            s.push_str(&format!(";q={quota}"));
            if let Some(w) = window {
                s.push_str(&format!(";w={w}"));
            }
            s
        }
        Member::Broken(b) => (*b).to_string(),
    }
}

/// The unescaped form of a name in `NAMES`.
fn unescaped(name: &str) -> String {
    name.replace("\\\"", "\"")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsing_arbitrary_bytes_never_panics_and_keeps_the_bounds(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let policy = PolicyField::parse(&bytes);
        let now = RateLimitField::parse(&bytes);
        let _ = parse_retry_after(&bytes);
        prop_assert!(policy.items().len() <= MAX_ITEMS);
        prop_assert!(now.items().len() <= MAX_ITEMS);
        check_names(&policy)?;
        check_names(&now)?;
    }

    #[test]
    fn parsing_list_shaped_noise_never_panics(
        parts in proptest::collection::vec(
            proptest::sample::select(&[
                "\"", "\\", ",", ";", "=", " ", "\t", "q", "r", "t", "w", "1", "-", ".", ":",
                "?", "@", "%", "(", ")", "a", "\u{e9}", "999999999999999", "0",
            ][..]),
            0..60,
        ),
    ) {
        let value = parts.concat();
        let policy = PolicyField::parse(value.as_bytes());
        let now = RateLimitField::parse(value.as_bytes());
        check_names(&policy)?;
        check_names(&now)?;
    }

    #[test]
    fn a_generated_list_keeps_exactly_its_well_formed_members(
        members in proptest::collection::vec(member(), 0..8),
        seps in proptest::collection::vec(
            proptest::sample::select(&[",", ", ", " ,\t", "  ,  "][..]),
            8,
        ),
    ) {
        let mut value = String::new();
        for (i, m) in members.iter().enumerate() {
            if i > 0 {
                value.push_str(seps[i]);
            }
            value.push_str(&render(m));
        }

        // The model: well-formed members in order, first of each name,
        // at most MAX_ITEMS; everything else ignored.
        let mut want: Vec<PolicyItem> = Vec::new();
        let mut ignored = 0;
        for m in &members {
            match m {
                Member::Valid { name, quota, window, .. } => {
                    let name = unescaped(NAMES[*name]);
                    if want.iter().any(|w| w.name == name.as_str()) || want.len() == MAX_ITEMS {
                        ignored += 1;
                        continue;
                    }
                    want.push(PolicyItem {
                        name: keyrate::client::headers::ItemName::new(&name).unwrap(),
                        quota: *quota,
                        window: window.map(Duration::from_secs),
                    });
                }
                Member::Broken(_) => ignored += 1,
            }
        }
        let got = PolicyField::parse(value.as_bytes());
        prop_assert_eq!(got.items(), &want[..], "value {}", value);
        prop_assert_eq!(got.ignored(), ignored, "value {}", value);
    }
}

/// Kept names are unique, printable ASCII and within the bound.
fn check_names<T: FieldItem>(field: &Field<T>) -> Result<(), TestCaseError> {
    let names: Vec<&str> = field.items().iter().map(|i| i.name().as_str()).collect();
    for (i, n) in names.iter().enumerate() {
        prop_assert!(n.len() <= MAX_NAME_LEN);
        prop_assert!(n.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        prop_assert!(!names[..i].contains(n));
    }
    Ok(())
}

/// One limit of a generated policy.
#[derive(Clone, Debug)]
enum Kind {
    Sliding,
    Compact,
    Bucket,
    Fixed,
}

fn limit(kind: &Kind, quota: u32, window: Duration) -> AnyLimit<HeapSlots> {
    match kind {
        Kind::Sliding => SlidingWindow::new(quota, window).unwrap().into(),
        Kind::Compact => CompactWindow::new(quota, window).unwrap().into(),
        Kind::Bucket => TokenBucket::new(quota, window / quota).unwrap().into(),
        Kind::Fixed => FixedWindow::new(quota, window).unwrap().into(),
    }
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Sliding),
        Just(Kind::Compact),
        Just(Kind::Bucket),
        Just(Kind::Fixed)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn what_the_server_writes_the_client_reads_back(
        specs in proptest::collection::vec(
            (kind(), 1..200u32, 1u64..200_000_000_000u64),
            1..=4,
        ),
        requests in proptest::collection::vec((0..3_000_000_000u64, 0..4u32), 1..60),
    ) {
        // A policy of up to four limits with odd windows, named l0.. l3.
        let mut policy: Policy<HeapSlots> = Policy::new();
        for (i, (kind, quota, nanos)) in specs.iter().enumerate() {
            let window = Duration::from_nanos(*nanos).max(Duration::from_nanos(u64::from(*quota)));
            policy = policy.with(&format!("l{i}"), limit(kind, *quota, window)).unwrap();
        }
        let mut state = policy.new_state();
        let mut now = Instant::from_secs(1);

        for (gap, cost) in requests {
            now = now.saturating_add(Duration::from_nanos(gap));
            let Ok(decision) = policy.check(&mut state, now, cost) else { continue };
            let headers = RateLimitHeaders::new(&policy, &decision);
            let mut fields = std::collections::HashMap::new();
            headers
                .for_each(HeaderOptions::default(), |name, value| {
                    fields.insert(name, value.to_string());
                })
                .unwrap();

            // RateLimit-Policy: every limit, its quota and window in seconds.
            let read = PolicyField::parse(fields["RateLimit-Policy"].as_bytes());
            prop_assert_eq!(read.ignored(), 0);
            prop_assert_eq!(read.items().len(), policy.len());
            for (item, (name, l)) in read.items().iter().zip(policy.iter()) {
                prop_assert_eq!(item.name.as_str(), name);
                let info = l.info();
                prop_assert_eq!(item.quota, u64::from(info.quota));
                prop_assert_eq!(item.window, Some(Duration::from_secs(ceil_secs(info.window))));
            }

            // RateLimit and Retry-After: the decision's figures.
            let read = RateLimitField::parse(fields["RateLimit"].as_bytes());
            prop_assert_eq!(read.ignored(), 0);
            let retry = fields.get("Retry-After").and_then(|v| parse_retry_after(v.as_bytes()));
            match &decision {
                keyrate::limit::PolicyDecision::Allowed(all) => {
                    prop_assert_eq!(read.items().len(), all.len());
                    prop_assert_eq!(retry, None);
                    for (item, a) in read.items().iter().zip(all) {
                        prop_assert_eq!(item.remaining, u64::from(a.remaining));
                        prop_assert_eq!(item.reset, Some(Duration::from_secs(ceil_secs(a.reset))));
                    }
                }
                keyrate::limit::PolicyDecision::Denied(d) => {
                    let want = Duration::from_secs(ceil_secs(d.retry_after).max(1));
                    prop_assert_eq!(read.items().len(), 1);
                    let item = &read.items()[0];
                    prop_assert_eq!(item.name.as_str(), policy.name(d.limit).unwrap());
                    prop_assert_eq!(item.remaining, u64::from(d.remaining));
                    prop_assert_eq!(item.reset, Some(want));
                    prop_assert_eq!(retry, Some(want));
                    prop_assert_eq!(Some(want.as_secs()), headers.retry_after_secs());
                }
            }
        }
    }
}
