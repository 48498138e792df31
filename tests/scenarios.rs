//! Scenarios in the words of the product's documentation: what a key of each
//! kind may do, and what the API answers when it may not.

use std::time::Duration;

use keyrate::http::{HeaderOptions, RateLimitHeaders};
use keyrate::limit::{HeapSlots, Policy, PolicyDecision};
use keyrate::preset;
use keyrate::time::Instant;

fn headers(policy: &Policy<HeapSlots>, decision: &PolicyDecision) -> Vec<(String, String)> {
    let mut out = Vec::new();
    RateLimitHeaders::new(policy, decision)
        .for_each(HeaderOptions::default(), |n, v| {
            out.push((n.to_owned(), v.to_owned()))
        })
        .unwrap();
    out
}

fn field<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn the_61st_pre_confirmation_request_within_an_hour_is_refused() {
    let policy = preset::pre_confirmation::<HeapSlots>().unwrap();
    let mut state = policy.new_state();

    // One request a minute for the first hour: all 60 pass.
    for minute in 0..60 {
        let d = policy
            .check(&mut state, Instant::from_secs(minute * 60), 1)
            .unwrap();
        assert!(d.is_allowed(), "request {} refused", minute + 1);
    }

    // The 61st, 59 min 30 s in, is refused until the first leaves the window.
    let decision = policy
        .check(&mut state, Instant::from_secs(3570), 1)
        .unwrap();
    assert_eq!(decision.retry_after(), Some(Duration::from_secs(30)));
    let h = headers(&policy, &decision);
    assert_eq!(field(&h, "Retry-After"), Some("30"));
    assert_eq!(field(&h, "RateLimit"), Some("\"hourly\";r=0;t=30"));
    assert_eq!(
        field(&h, "RateLimit-Policy"),
        Some("\"hourly\";q=60;w=3600")
    );

    // At exactly one hour after the first request it passes again.
    let again = policy
        .check(&mut state, Instant::from_secs(3600), 1)
        .unwrap();
    assert!(again.is_allowed());
}

#[test]
fn retry_after_is_rounded_up_and_at_least_one_second() {
    let policy = preset::pre_confirmation::<HeapSlots>().unwrap();
    let mut state = policy.new_state();
    policy.check(&mut state, Instant::ZERO, 60).unwrap();

    // 1 ns before the window frees: the wait is 1 ns, advertised as 1 s.
    let t = Instant::from_secs(3600)
        .checked_sub(Duration::from_nanos(1))
        .unwrap();
    let d = policy.check(&mut state, t, 1).unwrap();
    assert_eq!(d.retry_after(), Some(Duration::from_nanos(1)));
    assert_eq!(field(&headers(&policy, &d), "Retry-After"), Some("1"));

    // 1.2 s rounds up to 2 (on a fresh state: the one above has seen later).
    let mut state = policy.new_state();
    policy.check(&mut state, Instant::ZERO, 60).unwrap();
    let t = Instant::from_millis(3_598_800);
    let d = policy.check(&mut state, t, 1).unwrap();
    assert_eq!(field(&headers(&policy, &d), "Retry-After"), Some("2"));
}

#[test]
fn the_minute_window_refuses_while_the_hour_has_room_and_the_hour_is_not_charged() {
    let policy = preset::confirmed::<HeapSlots>().unwrap();
    let mut state = policy.new_state();

    // 60 requests in the first ten seconds fill the minute window.
    for i in 0..60 {
        let at = Instant::from_millis(i * 160);
        assert!(policy.check(&mut state, at, 1).unwrap().is_allowed());
    }

    // 100 more attempts within the same minute: all refused by "burst".
    for i in 0..100 {
        let at = Instant::from_millis(10_000 + i * 100);
        let d = policy.check(&mut state, at, 1).unwrap();
        let PolicyDecision::Denied(denied) = d else {
            panic!("attempt {i} should be refused");
        };
        assert_eq!(policy.name(denied.limit), Some("burst"));
        let h = headers(&policy, &d);
        assert!(
            field(&h, "RateLimit")
                .unwrap()
                .starts_with("\"burst\";r=0;")
        );
    }

    // The refusals charged nothing: after the minute, the hour has exactly
    // 300 - 60 left, which 4 more full minutes spend.
    let mut admitted = 0;
    for minute in 1..=5 {
        for i in 0..60 {
            let at = Instant::from_secs(minute * 60 + i / 10);
            if policy.check(&mut state, at, 1).unwrap().is_allowed() {
                admitted += 1;
            }
        }
    }
    assert_eq!(admitted, 240);
}

#[test]
fn a_success_response_describes_every_window() {
    let policy = preset::confirmed::<HeapSlots>().unwrap();
    let mut state = policy.new_state();
    let d = policy.check(&mut state, Instant::from_secs(5), 1).unwrap();
    let h = headers(&policy, &d);
    assert_eq!(
        field(&h, "RateLimit-Policy"),
        Some("\"hourly\";q=300;w=3600, \"burst\";q=60;w=60")
    );
    assert_eq!(
        field(&h, "RateLimit"),
        Some("\"hourly\";r=299;t=3600, \"burst\";r=59;t=60")
    );
    assert_eq!(field(&h, "Retry-After"), None);
}

#[test]
fn a_request_of_cost_zero_is_never_refused_and_charges_nothing() {
    let policy = preset::confirmed::<HeapSlots>().unwrap();
    let mut state = policy.new_state();
    policy.check(&mut state, Instant::ZERO, 60).unwrap();
    let d = policy.check(&mut state, Instant::from_secs(1), 0).unwrap();
    assert!(d.is_allowed());
    assert!(
        !policy
            .check(&mut state, Instant::from_secs(1), 1)
            .unwrap()
            .is_allowed()
    );
}

#[test]
fn a_cost_that_can_never_fit_is_an_error_not_a_denial() {
    let policy = preset::confirmed::<HeapSlots>().unwrap();
    let mut state = policy.new_state();
    let err = policy.check(&mut state, Instant::ZERO, 61).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cost 61 exceeds the limit's capacity of 60"
    );
    assert!(
        policy
            .check(&mut state, Instant::ZERO, 60)
            .unwrap()
            .is_allowed()
    );
}

#[test]
fn a_clock_that_jumps_back_is_judged_at_the_latest_time_seen() {
    let policy = preset::pre_confirmation::<HeapSlots>().unwrap();
    let mut state = policy.new_state();
    policy.check(&mut state, Instant::from_secs(0), 59).unwrap();
    policy
        .check(&mut state, Instant::from_secs(4000), 1)
        .unwrap();

    // Stamped back at t = 10 s, the request is judged at 4000 s, where the
    // first 59 have left the window: allowed, and stamped 4000 s.
    let d = policy.check(&mut state, Instant::from_secs(10), 1).unwrap();
    assert!(d.is_allowed());
    policy
        .check(&mut state, Instant::from_secs(4000), 58)
        .unwrap();
    let d = policy
        .check(&mut state, Instant::from_secs(7599), 1)
        .unwrap();
    assert_eq!(d.retry_after(), Some(Duration::from_secs(1)));
}
