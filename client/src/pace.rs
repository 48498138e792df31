//! The paced requests: `GET /v1/feeds`, each sent only when
//! [`HeaderPacer`] says it fits what the previous responses left.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use keyrate::client::HeaderPacer;
use keyrate::client::headers::RateLimitField;
use reqwest::Client;
use serde_json::Value;

use crate::{Authorized, ClientError, Options, Sleeper, detail};

/// The shortest wait worth announcing before it starts.
const ANNOUNCE: Duration = Duration::from_secs(1);

/// What the paced requests got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Requests sent.
    pub sent: u32,
    /// Answered 200.
    pub ok: u32,
    /// Answered 429: each one is a pacing failure.
    pub too_many: u32,
    /// Time spent waiting as the pacer said.
    pub waited: Duration,
}

/// `r` of each limit in a `RateLimit` value, as `hourly r=239, burst r=0`.
fn remaining(value: Option<&[u8]>) -> String {
    let field = RateLimitField::parse(value.unwrap_or_default());
    let mut line = String::new();
    for item in field.items() {
        let sep = if line.is_empty() { "" } else { ", " };
        let _ = write!(line, "{sep}{} r={}", item.name, item.remaining);
    }
    if line.is_empty() {
        line.push_str("no RateLimit field");
    }
    line
}

/// Makes the run's requests, waiting before each as the pacer says.
pub(crate) async fn paced_requests(
    http: &Client,
    options: &Options,
    key: &Authorized,
    sleeper: &impl Sleeper,
    out: &mut impl Write,
) -> Result<Tally, ClientError> {
    let url = format!("{}/v1/feeds", options.base());
    let total = options.requests;
    let mut pacer = HeaderPacer::new();
    let mut tally = Tally::default();
    for i in 1..=total {
        // Wait until the request fits what the headers left.
        let wait = pacer.delay(sleeper.now());
        if wait >= ANNOUNCE {
            let secs = wait.as_secs_f64();
            writeln!(out, "waiting {secs:.1} s, as the RateLimit fields say")?;
        }
        if !wait.is_zero() {
            sleeper.sleep(wait).await;
        }
        tally.waited = tally.waited.saturating_add(wait);

        // Send it, and let the pacer learn from the answer.
        pacer.on_sent(sleeper.now());
        tally.sent = tally.sent.saturating_add(1);
        let response = match http.get(&url).bearer_auth(key.secret()).send().await {
            Ok(r) => r,
            Err(e) => {
                pacer.on_response(sleeper.now(), None, None, None);
                return Err(e.into());
            }
        };
        let field = |name| response.headers().get(name).map(|v| v.as_bytes());
        let (policy, rate_limit) = (field("ratelimit-policy"), field("ratelimit"));
        let retry_after = field("retry-after");
        pacer.on_response(sleeper.now(), policy, rate_limit, retry_after);

        // One progress line; a status other than 200 or 429 ends the run.
        let status = response.status().as_u16();
        let mut line = format!(
            "request {i}/{total}: {status}, {}, waited {:.1} s",
            remaining(rate_limit),
            wait.as_secs_f64()
        );
        match status {
            200 => tally.ok = tally.ok.saturating_add(1),
            429 => {
                tally.too_many = tally.too_many.saturating_add(1);
                let after = retry_after.map(String::from_utf8_lossy).unwrap_or_default();
                line.push_str(&format!(", refused: retry after {after} s"));
            }
            _ => {
                writeln!(out, "{line}")?;
                let body: Value = response.json().await.unwrap_or(Value::Null);
                return Err(ClientError::Unexpected {
                    what: "/v1/feeds",
                    status,
                    detail: detail(&body),
                });
            }
        }
        writeln!(out, "{line}")?;
    }
    let Tally {
        sent,
        ok,
        too_many,
        waited,
    } = tally;
    let waited = waited.as_secs_f64();
    writeln!(
        out,
        "done: {sent} requests, {ok} answered 200, {too_many} answered 429, \
         {waited:.1} s spent waiting"
    )?;
    Ok(tally)
}
