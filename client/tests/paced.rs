//! The client against the reference server over real HTTP on an ephemeral
//! loopback port. Client and server share one manual clock, which the
//! client's sleeper moves forward: hours of pacing take milliseconds.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyrate::client::PollOutcome;
use keyrate::time::{Clock, Instant, ManualClock};
use keyrate_client::{ClientError, Options, Report, Sleeper, run};
use keyrate_server::config::ServerConfig;
use keyrate_server::store::MemoryStore;
use keyrate_server::{App, router};
use reqwest::Client;
use serde_json::{Value, json};

/// The client's output, readable by the test while the client runs.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Output {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// The approval page's URL, once the client has printed it.
    fn authorization_url(&self) -> Option<String> {
        let text = self.text();
        let mut lines = text.lines();
        lines.find(|l| l.contains("approve this client at"))?;
        lines.next().map(|l| l.trim().to_owned())
    }
}

/// A person who decides on the approval page after the client has slept
/// `after` times.
struct Person {
    decision: &'static str,
    after: u32,
    out: Output,
    decided: AtomicBool,
}

/// Sleeps by moving the shared manual clock; may let a person act.
struct ManualSleeper {
    clock: Arc<ManualClock>,
    sleeps: AtomicU32,
    person: Option<Person>,
    http: Client,
}

impl Sleeper for ManualSleeper {
    fn now(&self) -> Instant {
        self.clock.now()
    }

    async fn sleep(&self, duration: Duration) {
        self.clock.advance(duration);
        let sleeps = self.sleeps.fetch_add(1, Ordering::SeqCst) + 1;
        let Some(person) = &self.person else {
            return;
        };
        if sleeps < person.after || person.decided.load(Ordering::SeqCst) {
            return;
        }
        let url = person
            .out
            .authorization_url()
            .expect("no authorization URL printed");
        let r = self
            .http
            .post(url)
            .form(&[("decision", person.decision)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        person.decided.store(true, Ordering::SeqCst);
    }
}

struct Server {
    base: String,
    clock: Arc<ManualClock>,
    http: Client,
}

impl Server {
    async fn start(dev: bool) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = ServerConfig {
            listen: addr,
            public_url: Some(format!("http://{addr}")),
            dev,
            ..ServerConfig::default()
        };
        let clock = Arc::new(ManualClock::new(Instant::from_secs(1_000)));
        let counter = AtomicU64::new(1);
        let entropy = Arc::new(move |buf: &mut [u8]| {
            // Deterministic but distinct bytes for every call.
            let mut x = counter
                .fetch_add(1, Ordering::SeqCst)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
        });
        let store = Arc::new(MemoryStore::new(config.capacity));
        let app = Arc::new(App::new(config, store, clock.clone(), entropy).unwrap());
        let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await });
        Server {
            base: format!("http://{addr}"),
            clock,
            http: Client::new(),
        }
    }

    fn sleeper(&self, person: Option<Person>) -> ManualSleeper {
        ManualSleeper {
            clock: self.clock.clone(),
            sleeps: AtomicU32::new(0),
            person,
            http: self.http.clone(),
        }
    }

    /// Runs the client for `email`; returns its result, its output and the
    /// time it took on the shared clock.
    async fn run(
        &self,
        email: &str,
        requests: u32,
        person: Option<Person>,
        out: Output,
    ) -> (Result<Report, ClientError>, String, Duration) {
        let mut options = Options::new(&self.base, email);
        options.requests = requests;
        let sleeper = self.sleeper(person);
        let start = self.clock.now();
        let result = run(&options, &sleeper, &mut out.clone()).await;
        let took = self.clock.now().saturating_duration_since(start);
        (result, out.text(), took)
    }

    /// `POST /v1/authorize` as another client would.
    async fn authorize(&self, email: &str) -> Value {
        let r = self
            .http
            .post(format!("{}/v1/authorize", self.base))
            .json(&json!({ "email": email, "client_name": "other" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    async fn feeds(&self, key: &str) -> u16 {
        let r = self
            .http
            .get(format!("{}/v1/feeds", self.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    }
}

#[tokio::test]
async fn the_paced_client_finishes_with_no_429() {
    let s = Server::start(true).await;
    let (result, out, took) = s.run("ada@example.com", 130, None, Output::default()).await;
    let report = result.unwrap();

    // 130 requests against 60 a minute: all answered 200.
    assert_eq!(report.key.kind(), "confirmed", "{out}");
    assert_eq!(report.tally.sent, 130);
    assert_eq!(report.tally.ok, 130, "{out}");
    assert_eq!(report.tally.too_many, 0, "{out}");
    assert!(
        out.contains("request 130/130: 200, hourly r=170, burst r="),
        "{out}"
    );

    // 60 + 60 + 10: the minute window slid twice, and no more was waited.
    assert_eq!(took, Duration::from_secs(120), "{out}");
    assert_eq!(report.tally.waited, took);
    assert!(out.contains("request 61/130: 200, hourly r=239, burst r=59, waited 60.0 s"));
}

#[tokio::test]
async fn without_dev_mode_the_unconfirmed_key_is_paced_to_its_hourly_quota() {
    let s = Server::start(false).await;
    let (result, out, took) = s.run("bo@example.com", 70, None, Output::default()).await;
    let report = result.unwrap();
    assert_eq!(report.key.kind(), "pre_confirmation");
    assert!(out.contains("not confirmed yet"), "{out}");
    assert_eq!((report.tally.ok, report.tally.too_many), (70, 0), "{out}");

    // 60 an hour: the 61st waited for the first to leave the hour.
    assert_eq!(took, Duration::from_secs(3600), "{out}");
}

#[tokio::test]
async fn a_429_is_counted_and_its_retry_after_waited_out() {
    // Another key of the same account spends the hour's 60 first.
    let s = Server::start(false).await;
    let other = s.authorize("cy@example.com").await;
    for _ in 0..60 {
        assert_eq!(s.feeds(other["api_key"].as_str().unwrap()).await, 200);
    }
    s.clock.advance(Duration::from_secs(600));

    let (result, out, took) = s.run("cy@example.com", 3, None, Output::default()).await;
    let tally = result.unwrap().tally;
    assert_eq!((tally.sent, tally.ok, tally.too_many), (3, 2, 1), "{out}");
    assert!(
        out.contains("request 1/3: 429, hourly r=0, waited 0.0 s, refused: retry after 3000 s")
    );
    assert_eq!(took, Duration::from_secs(3000), "{out}");
}

#[tokio::test]
async fn a_confirmed_email_gets_its_key_by_polling_until_approved() {
    let s = Server::start(true).await;
    let (first, ..) = s.run("di@example.com", 1, None, Output::default()).await;
    first.unwrap();

    // Now the email is confirmed: an authorization request, approved after
    // the client's second poll, before its third.
    let out = Output::default();
    let person = Person {
        decision: "approve",
        after: 3,
        out: out.clone(),
        decided: AtomicBool::new(false),
    };
    let (result, text, _) = s.run("di@example.com", 3, Some(person), out).await;
    let report = result.unwrap();
    assert_eq!(report.key.kind(), "confirmed");
    assert_eq!((report.tally.ok, report.tally.too_many), (3, 0), "{text}");
    let polls: Vec<&str> = text.lines().filter(|l| l.starts_with("poll ")).collect();
    assert_eq!(polls.len(), 3, "{text}");
    assert!(polls[0].starts_with("poll 1: authorization_pending, next in 5 s"));
    assert!(polls[2].starts_with("poll 3: issued key "), "{text}");
}

#[tokio::test]
async fn a_denied_authorization_request_stops_the_client() {
    let s = Server::start(true).await;
    s.run("ed@example.com", 1, None, Output::default())
        .await
        .0
        .unwrap();
    let out = Output::default();
    let person = Person {
        decision: "deny",
        after: 1,
        out: out.clone(),
        decided: AtomicBool::new(false),
    };
    let (result, text, _) = s.run("ed@example.com", 3, Some(person), out).await;
    assert!(
        matches!(result, Err(ClientError::Poll(PollOutcome::Denied))),
        "{text}"
    );
    assert!(!text.contains("request 1/3"), "{text}");
}
