//! The server over real HTTP on an ephemeral loopback port, driven through
//! every flow of the product's documentation with a manual clock.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use keyrate::client::pacer::HeaderPacer;
use keyrate::time::{Clock, Instant, ManualClock};
use keyrate_server::config::ServerConfig;
use keyrate_server::store::MemoryStore;
use keyrate_server::{App, router};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

struct Server {
    base: String,
    clock: Arc<ManualClock>,
    app: Arc<App>,
    http: Client,
}

impl Server {
    async fn start(mut config: ServerConfig) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        config.listen = addr;
        config.public_url = Some(format!("http://{addr}"));
        config.dev = true;
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
        let service = router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await });
        Server {
            base: format!("http://{addr}"),
            clock,
            app,
            http: Client::new(),
        }
    }

    async fn default() -> Server {
        Server::start(ServerConfig::default()).await
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    async fn authorize(&self, email: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/v1/authorize", self.base))
            .json(&json!({ "email": email, "client_name": "feedreader" }))
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    async fn get(&self, path: &str, key: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    async fn get_url(&self, url: &str) -> (StatusCode, Value) {
        let r = self.http.get(url).send().await.unwrap();
        (r.status(), r.json().await.unwrap())
    }

    /// A confirmed account and a confirmed session key for it.
    async fn confirmed(&self, email: &str) -> String {
        let (status, body) = self.authorize(email).await;
        assert_eq!(status, 201);
        let (status, _) = self
            .get_url(body["confirmation_url"].as_str().unwrap())
            .await;
        assert_eq!(status, 200);
        body["api_key"].as_str().unwrap().to_owned()
    }

    /// Opens an authorization request for a confirmed email.
    async fn request(&self, email: &str) -> Value {
        let (status, body) = self.authorize(email).await;
        assert_eq!(status, 202, "{body}");
        body
    }

    async fn decide(&self, authorization_url: &str, decision: &str) -> StatusCode {
        self.http
            .post(authorization_url)
            .form(&[("decision", decision)])
            .send()
            .await
            .unwrap()
            .status()
    }
}

fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn the_61st_pre_confirmation_request_within_an_hour_gets_429_with_the_right_headers() {
    let s = Server::default().await;
    let (status, body) = s.authorize("ada@example.com").await;
    assert_eq!(status, 201);
    assert_eq!(body["kind"], "pre_confirmation");
    assert_eq!(body["expires_in"], 7200);
    let key = body["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("jcr_") && key.len() == 40);

    for i in 0..60 {
        let r = s.get("/v1/feeds", &key).await;
        assert_eq!(r.status(), 200, "request {}", i + 1);
        let expected = format!("\"hourly\";r={};t={}", 59 - i, 3600 - i * 10);
        assert_eq!(header(&r, "ratelimit"), Some(expected.as_str()));
        assert_eq!(
            header(&r, "ratelimit-policy"),
            Some("\"hourly\";q=60;w=3600")
        );
        s.advance(10);
    }

    // 600 s in: the first request leaves the window at 3600 s.
    let r = s.get("/v1/feeds", &key).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), Some("3000"));
    assert_eq!(header(&r, "ratelimit"), Some("\"hourly\";r=0;t=3000"));
    assert_eq!(header(&r, "content-type"), Some("application/problem+json"));
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["violated-policies"], json!(["hourly"]));
    assert_eq!(problem["status"], 429);

    // Once the first leaves, one more passes.
    s.advance(3000);
    assert_eq!(s.get("/v1/feeds", &key).await.status(), 200);
}

#[tokio::test]
async fn confirmation_lifts_the_tier() {
    let s = Server::default().await;
    let key = s.confirmed("bob@example.com").await;
    let r = s.get("/v1/me", &key).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "ratelimit-policy"),
        Some("\"hourly\";q=300;w=3600, \"burst\";q=60;w=60")
    );
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["kind"], "confirmed");
    assert_eq!(me["expires_in"], 12 * 3600);
    assert_eq!(
        me["limits"][1],
        json!({ "name": "burst", "quota": 60, "window": 60 })
    );

    // The minute window refuses the 61st; the hour was not charged for it.
    for _ in 1..60 {
        assert_eq!(s.get("/v1/feeds", &key).await.status(), 200);
    }
    let r = s.get("/v1/feeds", &key).await;
    assert_eq!(r.status(), 429);
    assert!(
        header(&r, "ratelimit")
            .unwrap()
            .starts_with("\"burst\";r=0;")
    );
    s.advance(60);
    let r = s.get("/v1/feeds", &key).await;
    assert_eq!(
        header(&r, "ratelimit").unwrap().split(", ").next(),
        Some("\"hourly\";r=239;t=3540")
    );
}

#[tokio::test]
async fn approving_an_authorization_request_delivers_a_key_once() {
    let s = Server::default().await;
    s.confirmed("cy@example.com").await;
    let req = s.request("cy@example.com").await;
    assert_eq!(req["interval"], 5);
    assert_eq!(req["expires_in"], 600);
    let poll = req["poll_url"].as_str().unwrap().to_owned();
    let page_url = req["authorization_url"].as_str().unwrap().to_owned();

    // The first poll is never throttled; one too soon is told to slow down.
    assert_eq!(s.get_url(&poll).await.1["error"], "authorization_pending");
    let (status, body) = s.get_url(&poll).await;
    assert_eq!(status, 400);
    assert_eq!(body, json!({ "error": "slow_down", "interval": 10 }));

    // The page names the client and offers both buttons.
    let page = s
        .http
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("feedreader") && page.contains("cy@example.com"));
    assert!(page.contains("value=\"approve\"") && page.contains("value=\"deny\""));
    assert_eq!(s.decide(&page_url, "approve").await, 200);
    assert_eq!(s.decide(&page_url, "deny").await, 409);

    s.advance(10);
    let (status, body) = s.get_url(&poll).await;
    assert_eq!(status, 200);
    assert_eq!(body["kind"], "confirmed");
    let key = body["api_key"].as_str().unwrap();
    assert_eq!(s.get("/v1/me", key).await.status(), 200);

    s.advance(10);
    assert_eq!(s.get_url(&poll).await.1["error"], "invalid_grant");
}

#[tokio::test]
async fn denying_an_authorization_request_answers_access_denied() {
    let s = Server::default().await;
    s.confirmed("di@example.com").await;
    let req = s.request("di@example.com").await;
    let page_url = req["authorization_url"].as_str().unwrap();
    assert_eq!(s.decide(page_url, "deny").await, 200);
    let (status, body) = s.get_url(req["poll_url"].as_str().unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "access_denied");
}

#[tokio::test]
async fn two_concurrent_polls_after_approval_deliver_the_key_exactly_once() {
    let s = Server::default().await;
    s.confirmed("ed@example.com").await;
    // Four authorizations: the endpoint allows five per email per hour.
    for _ in 0..4 {
        let req = s.request("ed@example.com").await;
        s.decide(req["authorization_url"].as_str().unwrap(), "approve")
            .await;
        let poll = req["poll_url"].as_str().unwrap();
        let (a, b) = tokio::join!(s.get_url(poll), s.get_url(poll));
        let delivered = [a.0, b.0]
            .iter()
            .filter(|st| **st == StatusCode::OK)
            .count();
        assert_eq!(delivered, 1, "{a:?} {b:?}");
        s.advance(60);
    }
}

#[tokio::test]
async fn an_approved_key_not_picked_up_in_time_is_revoked() {
    let s = Server::default().await;
    let session = s.confirmed("fa@example.com").await;
    let req = s.request("fa@example.com").await;
    s.decide(req["authorization_url"].as_str().unwrap(), "approve")
        .await;
    s.advance(599);
    assert_eq!(s.app.sweep(), 0);
    s.advance(1);
    assert_eq!(s.app.sweep(), 1);
    let (status, body) = s.get_url(req["poll_url"].as_str().unwrap()).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("expired_token"))
    );

    // The approved key is listed as revoked; the session key is untouched.
    let keys: Value = s.get("/v1/keys", &session).await.json().await.unwrap();
    let statuses: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(
        statuses.contains(&"revoked") && statuses.contains(&"valid"),
        "{statuses:?}"
    );

    // A request long over is forgotten.
    s.advance(600);
    s.app.sweep();
    let (_, body) = s.get_url(req["poll_url"].as_str().unwrap()).await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_revoked_key_gets_401_and_listings_show_prefixes_only() {
    let s = Server::default().await;
    let session = s.confirmed("gu@example.com").await;
    let r = s
        .http
        .post(format!("{}/v1/keys", s.base))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["kind"], "permanent");
    let permanent = created["api_key"].as_str().unwrap().to_owned();
    assert_eq!(s.get("/v1/me", &permanent).await.status(), 200);

    let listing = s.get("/v1/keys", &session).await.text().await.unwrap();
    assert!(!listing.contains(&permanent[8..]) && !listing.contains(&session[8..]));
    assert!(listing.contains(&permanent[..8]));

    let id = created["key_id"].as_str().unwrap();
    let r = s
        .http
        .delete(format!("{}/v1/keys/{id}", s.base))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s.get("/v1/me", &permanent).await;
    assert_eq!(r.status(), 401);
    let challenge = header(&r, "www-authenticate").unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

#[tokio::test]
async fn requests_without_a_usable_key_get_challenges_and_charge_nothing() {
    let s = Server::default().await;
    let r = s
        .http
        .get(format!("{}/v1/feeds", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("Bearer realm=\"keyrate\"")
    );

    let r = s
        .http
        .get(format!("{}/v1/feeds", s.base))
        .header("authorization", "Bearer a b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        header(&r, "www-authenticate")
            .unwrap()
            .contains("invalid_request")
    );

    let r = s
        .get("/v1/feeds", "jcr_000000000000000000000000000000000000")
        .await;
    assert_eq!(r.status(), 401);
    assert!(
        header(&r, "www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn authorize_rejects_bad_input_and_is_itself_limited_per_email() {
    let s = Server::default().await;
    let r = s
        .http
        .post(format!("{}/v1/authorize", s.base))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(header(&r, "content-type"), Some("application/problem+json"));
    assert_eq!(s.authorize("not-an-email").await.0, 400);

    // Five pre-confirmation keys per email per hour, then 429.
    for _ in 0..5 {
        assert_eq!(s.authorize("hy@example.com").await.0, 201);
    }
    let r = s
        .http
        .post(format!("{}/v1/authorize", s.base))
        .json(&json!({ "email": "hy@example.com", "client_name": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(header(&r, "retry-after").is_some());
}

#[tokio::test]
async fn a_client_paced_by_the_headers_never_meets_a_429() {
    let s = Server::default().await;
    let key = s.confirmed("iz@example.com").await;
    let mut pacer = HeaderPacer::new();
    let start = s.clock.now();
    for _ in 0..400 {
        let wait = pacer.delay(s.clock.now());
        s.clock.advance(wait);
        pacer.on_sent(s.clock.now());
        let r = s.get("/v1/feeds", &key).await;
        assert_eq!(r.status(), 200, "a paced request was refused");
        let field = |n| r.headers().get(n).map(|v| v.as_bytes());
        pacer.on_response(
            s.clock.now(),
            field("ratelimit-policy"),
            field("ratelimit"),
            field("retry-after"),
        );
    }
    // 400 requests at 300 per hour took more than an hour of waiting.
    assert!(s.clock.now().saturating_duration_since(start) >= Duration::from_secs(3600));
}

#[tokio::test]
async fn a_sign_up_refused_for_a_full_table_charges_no_limit() {
    let mut config = ServerConfig::default();
    config.capacity.accounts = 1;
    let s = Server::start(config).await;
    assert_eq!(s.authorize("first@example.com").await.0, 201);

    // The address may sign up 30 times an hour and 10 a minute; refusals
    // for want of room must not spend that.
    for i in 0..40 {
        let (status, _) = s.authorize(&format!("user{i}@example.com")).await;
        assert_eq!(status, 503, "sign-up {i}");
    }
    let (status, _) = s.authorize("first@example.com").await;
    assert_eq!(status, 201);
}
