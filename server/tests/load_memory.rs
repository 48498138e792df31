//! Memory stays bounded: 20 000 distinct emails from 20 000 distinct
//! addresses sign up, and the keys they get hit the protected resource,
//! against tables of a few hundred entries (a full table is scanned for
//! idle entries on every miss, so larger ones only make the test slower).
//! Handlers are called in-process, with a manual clock, so the whole run
//! takes a few seconds.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Bytes, to_bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use axum::response::Response;
use keyrate::time::{Instant, ManualClock};
use keyrate_server::App;
use keyrate_server::api::{authorize, feeds};
use keyrate_server::config::{Capacity, ServerConfig};
use keyrate_server::store::MemoryStore;
use serde_json::{Value, json};

const SIGNUPS: u32 = 20_000;

/// Small tables; the limiter table smaller than the accounts, so that it
/// fills too.
const CAPACITY: Capacity = Capacity {
    limiters: 100,
    accounts: 200,
    keys: 400,
    requests: 200,
    authorize_limiters: 200,
};

fn app(clock: Arc<ManualClock>) -> Arc<App> {
    let config = ServerConfig {
        capacity: CAPACITY,
        ..ServerConfig::default()
    };
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
    Arc::new(App::new(config, store, clock, entropy).unwrap())
}

/// Fails the test if any table holds more than its capacity; returns the
/// sizes.
fn check_sizes(app: &App, step: u32) -> [usize; 5] {
    let sizes = app.store.sizes();
    let [accounts, keys, requests, limiters, authorize_limiters] = sizes;
    let c = CAPACITY;
    assert!(accounts <= c.accounts, "{accounts} accounts at step {step}");
    assert!(keys <= c.keys, "{keys} keys at step {step}");
    assert!(requests <= c.requests, "{requests} requests at step {step}");
    assert!(limiters <= c.limiters, "{limiters} limiters at step {step}");
    // Two tables (per address, per email) of `authorize_limiters` each.
    assert!(
        authorize_limiters <= 2 * c.authorize_limiters,
        "{authorize_limiters} authorize limiters at step {step}"
    );
    sizes
}

async fn body(response: Response) -> Value {
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

#[tokio::test]
async fn twenty_thousand_signups_never_grow_a_table_past_its_capacity() {
    let clock = Arc::new(ManualClock::new(Instant::from_secs(1_000)));
    let app = app(clock.clone());
    let mut signups: BTreeMap<u16, u32> = BTreeMap::new();
    let mut resources: BTreeMap<u16, u32> = BTreeMap::new();
    let mut keys: Vec<String> = Vec::new();
    let mut largest = [0usize; 5];

    for i in 0..SIGNUPS {
        // A new email from a new address; 250 ms apart, so that the run
        // spans more than an hour and idle limiter states can be dropped.
        clock.advance(Duration::from_millis(250));
        let ip = Ipv4Addr::from(0x0a00_0000 | i);
        let peer = SocketAddr::from((ip, 40_000));
        let request = json!({ "email": format!("u{i}@load.example"), "client_name": "load" });
        let response = authorize(
            State(app.clone()),
            ConnectInfo(peer),
            Bytes::from(request.to_string()),
        )
        .await;
        let status = response.status().as_u16();
        *signups.entry(status).or_default() += 1;
        if status == 201 {
            let key = body(response).await["api_key"].as_str().unwrap().to_owned();
            keys.push(key);
        }

        // Every fourth step, a request to the protected resource with one
        // of the keys, in turn.
        let turn = (i / 4) as usize % keys.len().max(1);
        if let (0, Some(key)) = (i % 4, keys.get(turn)) {
            let mut headers = HeaderMap::new();
            let bearer = HeaderValue::from_str(&format!("Bearer {key}")).unwrap();
            headers.insert(AUTHORIZATION, bearer);
            let status = feeds(State(app.clone()), headers).await.status().as_u16();
            *resources.entry(status).or_default() += 1;
        }

        let sizes = check_sizes(&app, i);
        for (l, s) in largest.iter_mut().zip(sizes) {
            *l = (*l).max(s);
        }
    }

    // Only the answers the product documents, and every table was pressed.
    assert!(
        signups.keys().all(|s| [201, 202, 429, 503].contains(s)),
        "{signups:?}"
    );
    assert!(
        resources.keys().all(|s| [200, 429, 503].contains(s)),
        "{resources:?}"
    );
    // A full accounts table, then only "table full": no limit was reached.
    let accounts = CAPACITY.accounts as u32;
    let expected = BTreeMap::from([(201, accounts), (503, SIGNUPS - accounts)]);
    assert_eq!(signups, expected);
    assert!(resources.get(&503).is_some_and(|n| *n > 0), "{resources:?}");
    let [accounts, keys_held, _, limiters, authorize_limiters] = largest;
    assert_eq!(accounts, CAPACITY.accounts);
    assert_eq!(keys_held, CAPACITY.accounts);
    assert_eq!(limiters, CAPACITY.limiters);
    assert_eq!(authorize_limiters, 2 * CAPACITY.authorize_limiters);
}
