//! Replays a request trace through the default policies and prints, per
//! account, how many requests were admitted and refused.
//!
//! ```text
//! cargo run --example trace -- examples/trace.txt
//! ```
//!
//! Each non-comment line of the trace is `seconds account kind cost`, with
//! `kind` one of `pre`, `confirmed` or `permanent`. Lines must be in time
//! order; a malformed line stops the run with its line number.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;
use std::time::Duration;

use keyrate::http::{HeaderOptions, RateLimitHeaders};
use keyrate::limit::{HeapSlots, Policy, PolicyDecision, PolicyState};
use keyrate::preset;
use keyrate::time::Instant;

/// What the run learned about one account.
struct Account {
    kind: String,
    state: PolicyState<HeapSlots>,
    admitted: u64,
    refused: u64,
    units: u64,
    first_refusal: Option<(f64, String)>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/trace.txt".to_owned());
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let pre = preset::pre_confirmation::<HeapSlots>()?;
    let confirmed = preset::confirmed::<HeapSlots>()?;

    let mut accounts: BTreeMap<String, Account> = BTreeMap::new();
    let mut requests = 0u64;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let request = parse(line).map_err(|e| format!("{path}:{}: {e}", number + 1))?;
        requests += 1;

        // Pick the kind's policy; the account keeps the state.
        let policy = if request.kind == "pre" {
            &pre
        } else {
            &confirmed
        };
        let account = accounts
            .entry(request.account.to_owned())
            .or_insert_with(|| Account {
                kind: request.kind.to_owned(),
                state: policy.new_state(),
                admitted: 0,
                refused: 0,
                units: 0,
                first_refusal: None,
            });
        let decision = policy.check(&mut account.state, request.at, request.cost)?;
        record(account, policy, &decision, request.seconds, request.cost)?;
    }

    // Summarize.
    println!("{requests} requests from {path}\n");
    println!(
        "{:<10} {:<10} {:>9} {:>8} {:>6}  first 429",
        "account", "kind", "admitted", "refused", "units"
    );
    for (name, a) in &accounts {
        let first = match &a.first_refusal {
            Some((t, headers)) => format!("at {t:.1} s: {headers}"),
            None => "none".to_owned(),
        };
        println!(
            "{name:<10} {:<10} {:>9} {:>8} {:>6}  {first}",
            a.kind, a.admitted, a.refused, a.units
        );
    }
    Ok(())
}

/// Counts one decision and keeps the headers of the first refusal.
fn record(
    account: &mut Account,
    policy: &Policy<HeapSlots>,
    decision: &PolicyDecision,
    seconds: f64,
    cost: u32,
) -> Result<(), Box<dyn Error>> {
    if decision.is_allowed() {
        account.admitted += 1;
        account.units += u64::from(cost);
        return Ok(());
    }
    account.refused += 1;
    if account.first_refusal.is_none() {
        let mut shown = String::new();
        RateLimitHeaders::new(policy, decision).for_each(HeaderOptions::default(), |n, v| {
            if n != "RateLimit-Policy" {
                let _ = write!(shown, "{n}: {v}; ");
            }
        })?;
        account.first_refusal = Some((seconds, shown.trim_end_matches("; ").to_owned()));
    }
    Ok(())
}

/// One line of the trace.
struct Request<'a> {
    seconds: f64,
    at: Instant,
    account: &'a str,
    kind: &'a str,
    cost: u32,
}

fn parse(line: &str) -> Result<Request<'_>, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [seconds, account, kind, cost] = fields[..] else {
        return Err(format!("expected 4 fields, found {}", fields.len()));
    };
    let seconds: f64 = seconds.parse().map_err(|_| "bad time".to_owned())?;
    if !(seconds.is_finite() && seconds >= 0.0) {
        return Err("time must be a non-negative number of seconds".to_owned());
    }
    if !matches!(kind, "pre" | "confirmed" | "permanent") {
        return Err(format!("unknown key kind {kind:?}"));
    }
    let cost = cost.parse().map_err(|_| "bad cost".to_owned())?;
    let at = Instant::ZERO.saturating_add(Duration::from_secs_f64(seconds));
    Ok(Request {
        seconds,
        at,
        account,
        kind,
        cost,
    })
}
