//! The reference client: it obtains a key from a keyrate server the way the
//! product's documentation tells an application to, then makes more requests
//! than one window allows, waiting before each as
//! [`HeaderPacer`](keyrate::client::HeaderPacer) says, so that none is
//! refused.
//!
//! The steps:
//!
//! 1. `POST /v1/authorize` with an email and a client name.
//! 2. A 201 brings a pre-confirmation key. In development mode it also
//!    brings the confirmation link, which the client follows, lifting the
//!    key to the confirmed tier.
//! 3. A 202 (the email is confirmed already) brings an authorization
//!    request: the client prints the URL a person opens to approve it and
//!    polls for the key as an OAuth device client does (RFC 8628 §3.5),
//!    with [`Poll`](keyrate::client::Poll).
//! 4. `GET /v1/feeds`, as many times as asked, each after the wait the
//!    pacer computes from the previous responses' `RateLimit` fields.
//!
//! Time comes from a [`Sleeper`]: [`TokioSleeper`] really sleeps; a test
//! passes one that moves a manual clock instead, and the same run takes
//! milliseconds.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod authorize;
mod pace;

use std::fmt;
use std::future::Future;
use std::io::Write;
use std::time::Duration;

use clap::Parser;
use keyrate::client::PollOutcome;
use keyrate::time::{Clock, Instant, MonotonicClock};

pub use authorize::Authorized;
pub use pace::Tally;

/// How many requests a run makes unless told otherwise: ten more than the
/// confirmed tier's minute window allows, so that the run shows the pacer
/// waiting once, for about a minute.
pub const DEFAULT_REQUESTS: u32 = 70;

/// The server a run talks to unless told otherwise.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// How long one HTTP exchange may take before it counts as unanswered.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a run reads the time and how it waits.
///
/// [`TokioSleeper`] reads the monotonic clock and really sleeps. A test
/// implements it over a manual clock that `sleep` moves forward, so that
/// pacing is exercised in full without the wait.
pub trait Sleeper {
    /// The current instant.
    fn now(&self) -> Instant;

    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// The real thing: the monotonic clock and `tokio::time::sleep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleeper {
    clock: MonotonicClock,
}

impl TokioSleeper {
    /// A sleeper whose clock starts now.
    pub fn new() -> TokioSleeper {
        TokioSleeper::default()
    }
}

impl Sleeper for TokioSleeper {
    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

/// What to run.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "keyrate-client",
    version,
    about = "Reference client for keyrate: obtains an API key, then makes more requests \
    than a window allows, paced by the server's RateLimit headers so that none gets a 429.",
    long_about = "Reference client for keyrate: obtains an API key, then makes more requests \
    than a window allows, paced by the server's RateLimit headers so that none gets a 429.\n\n\
    Against `keyrate-server --dev` with a new email, the key is confirmed at once (60 a \
    minute, 300 an hour): the default 70 requests send 60 at once, wait about a minute \
    for the minute window to slide, then send the last 10. With an email that is already \
    confirmed, the server opens an authorization request: open the printed URL and approve \
    it; the client polls until then. Without --dev the key stays unconfirmed (60 an hour) \
    until the emailed link is followed, and the pacer waits accordingly.\n\n\
    Exits with 1 if any request got a 429, or on any other failure."
)]
pub struct Options {
    /// The server's base URL.
    #[arg(long, default_value = DEFAULT_SERVER)]
    pub server: String,

    /// The email to authorize (at most five authorizations per email an hour).
    #[arg(long)]
    pub email: String,

    /// The client name the server shows on its approval page.
    #[arg(long, default_value = "keyrate-client")]
    pub client_name: String,

    /// How many requests to make to /v1/feeds. The default, 70, is ten more than the
    /// confirmed tier's minute window allows: about one minute of running.
    #[arg(long, default_value_t = DEFAULT_REQUESTS)]
    pub requests: u32,
}

impl Options {
    /// Options for `email` against `server`, with the other defaults.
    pub fn new(server: &str, email: &str) -> Options {
        Options {
            server: server.trim_end_matches('/').to_owned(),
            email: email.to_owned(),
            client_name: "keyrate-client".to_owned(),
            requests: DEFAULT_REQUESTS,
        }
    }

    /// The base URL without a trailing slash.
    fn base(&self) -> &str {
        self.server.trim_end_matches('/')
    }
}

/// What a whole run did.
#[derive(Clone, Debug)]
pub struct Report {
    /// The key that was used.
    pub key: Authorized,
    /// The requests to `/v1/feeds`.
    pub tally: Tally,
}

/// Why a run stopped before making its requests.
#[derive(Debug)]
pub enum ClientError {
    /// No HTTP exchange could be made (connection refused, timeout).
    Http(reqwest::Error),
    /// `POST /v1/authorize` was itself limited; retry after this many seconds.
    AuthorizeLimited {
        /// `Retry-After`, if the server sent one.
        retry_after: Option<u64>,
    },
    /// A status the client has no use for.
    Unexpected {
        /// What was asked.
        what: &'static str,
        /// The status received.
        status: u16,
        /// The problem's `detail`, or `error`, if any.
        detail: String,
    },
    /// A response lacked a member the client needs.
    Malformed {
        /// What was asked.
        what: &'static str,
        /// The member missing.
        member: &'static str,
    },
    /// Polling the authorization request ended without a key.
    Poll(PollOutcome),
    /// Progress could not be written.
    Output(std::io::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Http(e) => write!(f, "http: {e}"),
            ClientError::AuthorizeLimited { retry_after: None } => {
                f.write_str("authorize is limited for now (429)")
            }
            ClientError::AuthorizeLimited {
                retry_after: Some(s),
            } => write!(f, "authorize is limited for now (429); retry after {s} s"),
            ClientError::Unexpected {
                what,
                status,
                detail,
            } => write!(f, "{what} answered {status}: {detail}"),
            ClientError::Malformed { what, member } => {
                write!(f, "{what} answered without `{member}`")
            }
            ClientError::Poll(outcome) => write!(f, "{outcome}"),
            ClientError::Output(e) => write!(f, "cannot write progress: {e}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Http(e) => Some(e),
            ClientError::Output(e) => Some(e),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        ClientError::Http(e)
    }
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Output(e)
    }
}

/// Runs the client: authorizes, then makes `options.requests` paced
/// requests, writing one progress line per step to `out`.
///
/// A 429 does not stop the run (the pacer honours its `Retry-After`); it is
/// counted in the report's [`Tally::too_many`], which a caller treats as a
/// failure.
///
/// # Errors
///
/// [`ClientError`]: no key could be had, a request got an answer other than
/// 200 or 429, or the server could not be reached.
pub async fn run(
    options: &Options,
    sleeper: &impl Sleeper,
    out: &mut impl Write,
) -> Result<Report, ClientError> {
    let http = reqwest::Client::builder().timeout(HTTP_TIMEOUT).build()?;
    let key = authorize::authorize(&http, options, sleeper, out).await?;
    let tally = pace::paced_requests(&http, options, &key, sleeper, out).await?;
    Ok(Report { key, tally })
}

/// The problem's `detail` (RFC 9457), or an OAuth `error`, of a JSON body.
fn detail(body: &serde_json::Value) -> String {
    body.get("detail")
        .or_else(|| body.get("error"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_owned()
}
