//! The reference server: the modelled product's API-key authentication over
//! HTTP, with every decision (parsing, lifecycle, limits, headers) made by
//! keyrate. The server itself only moves bytes and keeps the store.
//!
//! Routes:
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/authorize` | `{email, client_name}`: a pre-confirmation key (201) or an authorization request (202) |
//! | `GET /v1/authorize/poll/{id}` | RFC 8628-style poll: 400 errors, or 200 with the key, once |
//! | `GET /authorize/{id}` | the approval page (Approve / Deny) |
//! | `POST /authorize/{id}` | the page's form |
//! | `GET /v1/confirm/{token}` | the email confirmation link |
//! | `POST /v1/keys`, `GET /v1/keys`, `DELETE /v1/keys/{id}` | permanent keys |
//! | `GET /v1/feeds`, `GET /v1/me` | protected resources |

// Handlers answer early with a whole `Response` as their error: boxing it
// would only add an allocation per refused request.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod config;
pub mod page;
pub mod respond;
pub mod store;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use keyrate::credential::digest::Sha256;
use keyrate::limit::{HeapSlots, Policy};
use keyrate::policy::{PolicySet, policy_from_specs};
use keyrate::time::{Clock, Instant};

use crate::config::ServerConfig;
use crate::store::{Store, transact};

/// A source of randomness for keys, request ids and confirmation tokens.
pub type Entropy = dyn Fn(&mut [u8]) + Send + Sync;

/// Everything a handler needs.
pub struct App {
    /// The configuration.
    pub config: ServerConfig,
    /// The policy set built from it.
    pub policies: PolicySet<HeapSlots>,
    /// Limits of `POST /v1/authorize` per client address.
    pub per_address: Policy<HeapSlots>,
    /// Limits of `POST /v1/authorize` per email.
    pub per_email: Policy<HeapSlots>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The clock: monotonic in the binary, manual in tests.
    pub clock: Arc<dyn Clock + Send + Sync>,
    /// Randomness: the OS's in the binary, seeded in tests.
    pub entropy: Arc<Entropy>,
    /// How keys are digested at rest.
    pub hasher: Sha256,
}

impl App {
    /// Builds the app, validating the configuration.
    ///
    /// # Errors
    ///
    /// A message naming the invalid setting.
    pub fn new(
        config: ServerConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock + Send + Sync>,
        entropy: Arc<Entropy>,
    ) -> Result<App, String> {
        let policies = PolicySet::from_config(&config.policy).map_err(|e| format!("policy.{e}"))?;
        let per_address =
            policy_from_specs(&config.authorize.per_address, &"authorize.per_address")
                .map_err(|e| e.to_string())?;
        let per_email = policy_from_specs(&config.authorize.per_email, &"authorize.per_email")
            .map_err(|e| e.to_string())?;
        keyrate::credential::bearer::Realm::new(&config.realm)
            .map_err(|_| "realm: must be printable ASCII without quotes or backslashes")?;
        Ok(App {
            config,
            policies,
            per_address,
            per_email,
            store,
            clock,
            entropy,
            hasher: Sha256,
        })
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Fills `N` random bytes.
    pub fn random<const N: usize>(&self) -> [u8; N] {
        let mut bytes = [0u8; N];
        (self.entropy)(&mut bytes);
        bytes
    }

    /// Ends expired authorization requests, revoking keys approved but never
    /// picked up, and forgets requests that ended more than one request
    /// lifetime ago (until then a poll still answers `expired_token`).
    /// Returns how many requests ended now.
    pub fn sweep(&self) -> usize {
        let now = self.now();
        let grace = self.config.authorization.expires_in();
        transact(&*self.store, |tx| {
            let mut ended = 0;
            for poll_id in tx.request_ids() {
                let Some(row) = tx.request(&poll_id) else {
                    continue;
                };
                if now >= row.request.expires_at().saturating_add(grace) {
                    tx.remove_request(&poll_id);
                    continue;
                }
                let Ok(revoke) = row.request.expire(now) else {
                    continue;
                };
                ended += 1;
                if let Some(key) = revoke {
                    let digest = key.digest(&self.hasher);
                    if let Some(k) = tx.key(&digest) {
                        let _ = k.record.revoke(now);
                        tracing::info!(key = %digest.id(), "revoked a key approved but never picked up");
                    }
                }
            }
            ended
        })
        .unwrap_or(0)
    }
}

/// The server's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/authorize", post(api::authorize))
        .route("/v1/authorize/poll/{id}", get(api::poll))
        .route("/authorize/{id}", get(page::show).post(page::decide))
        .route("/v1/confirm/{token}", get(api::confirm))
        .route("/v1/keys", post(api::create_key).get(api::list_keys))
        .route("/v1/keys/{id}", axum::routing::delete(api::revoke_key))
        .route("/v1/feeds", get(api::feeds))
        .route("/v1/me", get(api::me))
        .with_state(app)
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
