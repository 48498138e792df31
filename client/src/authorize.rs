//! Obtaining a key: `POST /v1/authorize`, then either the confirmation link
//! (development mode) or polling an authorization request (RFC 8628 §3.5).

use std::fmt;
use std::io::Write;
use std::time::Duration;

use keyrate::client::{Poll, PollAnswer, PollOutcome, PollStep};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

use crate::{ClientError, Options, Sleeper, detail};

/// A key the client holds. Its secret never shows in `Debug`: only the
/// public id and kind do.
#[derive(Clone)]
pub struct Authorized {
    secret: String,
    key_id: String,
    kind: String,
}

impl Authorized {
    /// The key's public id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Its kind, as the server last reported it (`pre_confirmation`,
    /// `confirmed` or `permanent`).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The secret, for the `Authorization` header.
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }

    /// The key of an issuing response's body (RFC 8628 §3.5's success).
    fn from_body(what: &'static str, body: &Value) -> Result<Authorized, ClientError> {
        let member = |m: &'static str| {
            body.get(m)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(ClientError::Malformed { what, member: m })
        };
        Ok(Authorized {
            secret: member("api_key")?,
            key_id: member("key_id")?,
            kind: member("kind")?,
        })
    }
}

impl fmt::Debug for Authorized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorized")
            .field("key_id", &self.key_id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A response's status, `Retry-After` in seconds, and JSON body (`Null` if
/// it had none).
async fn read(response: Response) -> (StatusCode, Option<u64>, Value) {
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

/// `POST /v1/authorize`, then whatever its answer asks for, until a key is
/// in hand.
pub(crate) async fn authorize(
    http: &Client,
    options: &Options,
    sleeper: &impl Sleeper,
    out: &mut impl Write,
) -> Result<Authorized, ClientError> {
    let base = options.base();
    let response = http
        .post(format!("{base}/v1/authorize"))
        .json(&json!({ "email": options.email, "client_name": options.client_name }))
        .send()
        .await?;
    let (status, retry_after, body) = read(response).await;
    match status.as_u16() {
        201 => {
            let mut key = Authorized::from_body("authorize", &body)?;
            writeln!(out, "authorized: key {} ({})", key.key_id, key.kind)?;
            match body.get("confirmation_url").and_then(Value::as_str) {
                Some(link) => confirm(http, link, &mut key, out).await?,
                None => writeln!(
                    out,
                    "not confirmed yet: follow the link mailed to {} to lift the limits",
                    options.email
                )?,
            }
            Ok(key)
        }
        202 => poll(http, &body, sleeper, out).await,
        429 => Err(ClientError::AuthorizeLimited { retry_after }),
        status => Err(ClientError::Unexpected {
            what: "authorize",
            status,
            detail: detail(&body),
        }),
    }
}

/// Follows the confirmation link of development mode, which lifts the key
/// to the confirmed tier.
async fn confirm(
    http: &Client,
    link: &str,
    key: &mut Authorized,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let (status, _, body) = read(http.get(link).send().await?).await;
    if status != StatusCode::OK {
        return Err(ClientError::Unexpected {
            what: "the confirmation link",
            status: status.as_u16(),
            detail: detail(&body),
        });
    }
    let upgraded = body.get("upgraded_keys").and_then(Value::as_u64);
    if upgraded.is_some_and(|n| n > 0) {
        "confirmed".clone_into(&mut key.kind);
    }
    writeln!(
        out,
        "confirmed the email: {} key(s) lifted to the confirmed tier",
        upgraded.unwrap_or(0)
    )?;
    Ok(())
}

/// Polls the authorization request of a 202 until a key is issued, or
/// polling ends without one.
async fn poll(
    http: &Client,
    request: &Value,
    sleeper: &impl Sleeper,
    out: &mut impl Write,
) -> Result<Authorized, ClientError> {
    let member = |m: &'static str| {
        request
            .get(m)
            .and_then(Value::as_str)
            .ok_or(ClientError::Malformed {
                what: "authorize",
                member: m,
            })
    };
    let (page, poll_url) = (member("authorization_url")?, member("poll_url")?);
    let secs = |m: &str| {
        request
            .get(m)
            .and_then(Value::as_u64)
            .map(Duration::from_secs)
    };
    let start = sleeper.now();
    let mut poll = Poll::new(start, secs("interval"));
    if let Some(lifetime) = secs("expires_in") {
        poll = poll.expiring_at(start.saturating_add(lifetime));
    }
    writeln!(
        out,
        "the email is confirmed already: approve this client at"
    )?;
    writeln!(out, "    {page}")?;
    writeln!(out, "waiting for the approval...")?;

    let mut polls = 0u32;
    loop {
        // Wait out the interval, unless polling is over.
        let now = sleeper.now();
        let Some(wait) = poll.delay(now) else {
            let outcome = poll.outcome(now).unwrap_or(PollOutcome::Expired);
            return Err(ClientError::Poll(outcome));
        };
        sleeper.sleep(wait).await;

        // One poll; no answer at all counts as a timeout (RFC 8628 §3.5).
        polls = polls.saturating_add(1);
        let (answer, body) = match http.get(poll_url).send().await {
            Ok(response) => {
                let (status, _, body) = read(response).await;
                (answer_of(status, &body), body)
            }
            Err(e) if e.is_timeout() || e.is_connect() => (PollAnswer::Timeout, Value::Null),
            Err(e) => return Err(e.into()),
        };
        let said = answer.error_code().unwrap_or(match answer {
            PollAnswer::Issued => "issued",
            PollAnswer::Timeout => "no answer",
            _ => "failed",
        });
        match poll.on_answer(sleeper.now(), answer) {
            PollStep::PollAt(_) => {
                let next = poll.interval().as_secs();
                writeln!(out, "poll {polls}: {said}, next in {next} s")?;
            }
            PollStep::Done(PollOutcome::Issued) => {
                let key = Authorized::from_body("the poll", &body)?;
                writeln!(
                    out,
                    "poll {polls}: issued key {} ({})",
                    key.key_id, key.kind
                )?;
                return Ok(key);
            }
            PollStep::Done(outcome) => {
                writeln!(out, "poll {polls}: {said}")?;
                return Err(ClientError::Poll(outcome));
            }
        }
    }
}

/// What a poll's answer means: 200 issues the key, 400 carries an RFC 8628
/// error code, anything else is a failure.
fn answer_of(status: StatusCode, body: &Value) -> PollAnswer {
    match status {
        StatusCode::OK => PollAnswer::Issued,
        StatusCode::BAD_REQUEST => body
            .get("error")
            .and_then(Value::as_str)
            .map_or(PollAnswer::Failed, PollAnswer::from_error_code),
        _ => PollAnswer::Failed,
    }
}
