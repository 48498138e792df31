//! The JSON API: authorization, polling, confirmation, keys and the
//! protected resources.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header::AUTHORIZATION};
use axum::response::{IntoResponse, Response};
use keyrate::credential::authorization::{Authorization, PollAnswer, authorize as decide};
use keyrate::credential::digest::{KeyDigest, KeyId};
use keyrate::credential::key::{ApiKey, ENTROPY_LEN};
use keyrate::credential::lifecycle::{KeyKind, KeyRecord, KeyStatus};
use keyrate::limit::{HeapSlots, PolicyDecision};
use keyrate::policy::PolicySet;
use keyrate::time::Instant;
use keyrate::verify::{KeyView, LimiterSlot, Outcome, ScopeId, StoreError, Verifier, VerifyStore};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::respond::{Fields, decision_fields, json, outcome_fields, problem, too_many};
use crate::store::{AuthorizeTable, KeyRow, RequestRow, Tx, transact};
use crate::{App, hex};

/// The verification pipeline's view of one transaction.
struct TxStore<'a> {
    tx: &'a mut dyn Tx,
    policies: &'a PolicySet<HeapSlots>,
    now: Instant,
}

impl VerifyStore<HeapSlots> for TxStore<'_> {
    type Account = u64;

    fn key(&mut self, digest: &KeyDigest) -> Result<Option<KeyView<u64>>, StoreError> {
        let Some(row) = self.tx.key(digest) else {
            return Ok(None);
        };
        let (record, account) = (row.record, row.account_id);
        let plan = self.tx.account_by_id(account).and_then(|a| a.plan.clone());
        Ok(Some(KeyView {
            record,
            account,
            plan,
        }))
    }

    fn with_limiter<R>(
        &mut self,
        scope: &ScopeId<u64>,
        f: impl FnOnce(&mut LimiterSlot<HeapSlots>) -> R,
    ) -> Result<R, StoreError> {
        let slot = self.tx.limiter(scope, self.policies, self.now)?;
        Ok(f(slot))
    }
}

/// An authenticated caller, and the fields its response carries.
pub struct Caller {
    /// The key's digest.
    pub digest: KeyDigest,
    /// The key's kind.
    pub kind: KeyKind,
    /// Its account.
    pub account: u64,
    /// When it expires.
    pub expires_at: Option<Instant>,
    /// The rate-limit fields of the response.
    pub fields: Fields,
}

/// Authenticates and charges one request, or answers for it.
fn authenticate(app: &App, headers: &HeaderMap) -> Result<Caller, Response> {
    let header = headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    let now = app.now();
    let verifier = Verifier::new(&app.policies, app.hasher);

    // Parse and digest the key before taking the store's lock.
    let digest = verifier.credential(header);
    let outcome = transact(&*app.store, |tx| {
        let mut store = TxStore {
            tx,
            policies: &app.policies,
            now,
        };
        match &digest {
            Ok(digest) => verifier.decide(digest, now, 1, &mut store),
            Err(refusal) => Ok(Outcome::Refused(*refusal)),
        }
    });
    let outcome = match outcome {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) | Err(_) => {
            let fields = Fields::default();
            let detail = "the limiter store is unavailable";
            return Err(problem(
                StatusCode::SERVICE_UNAVAILABLE,
                fields,
                "Unavailable",
                detail,
            ));
        }
    };
    let fields = outcome_fields(app, &outcome);
    match outcome {
        Outcome::Allowed(v) => Ok(Caller {
            digest: v.digest,
            kind: v.kind,
            account: v.account,
            expires_at: v.expires_at,
            fields,
        }),
        Outcome::Limited(v) => {
            let PolicyDecision::Denied(d) = v.decision else {
                return Err(problem(
                    StatusCode::TOO_MANY_REQUESTS,
                    fields,
                    "Too Many Requests",
                    "",
                ));
            };
            let name = v.policy.name(d.limit).unwrap_or("limit");
            let secs = keyrate::time::ceil_secs(d.retry_after).max(1);
            tracing::debug!(key = %v.digest.id(), limit = name, retry_after = secs, "limited");
            Err(too_many(fields, name, secs))
        }
        Outcome::Refused(r) => {
            let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            let title = if status == StatusCode::BAD_REQUEST {
                "Bad Request"
            } else {
                "Unauthorized"
            };
            Err(problem(status, fields, title, &r.to_string()))
        }
        Outcome::StoreFailed { error, .. } => {
            tracing::warn!(%error, "store failed");
            Err(problem(
                StatusCode::SERVICE_UNAVAILABLE,
                fields,
                "Unavailable",
                &error.to_string(),
            ))
        }
    }
}

/// Seconds from `now` to `at`, rounded up.
fn secs_until(now: Instant, at: Instant) -> u64 {
    keyrate::time::ceil_secs(at.saturating_duration_since(now))
}

/// Mints a key: fresh entropy, the configured format.
fn mint(app: &App) -> (ApiKey, KeyDigest) {
    let key = app
        .policies
        .key_format()
        .generate(&app.random::<ENTROPY_LEN>());
    let digest = key.digest(&app.hasher);
    (key, digest)
}

/// The JSON describing a key just issued: the only place its secret shows.
fn issued(key: &ApiKey, digest: &KeyDigest, record: &KeyRecord, now: Instant) -> Value {
    let mut body = json!({
        "api_key": key.expose_secret(),
        "key_id": digest.id().to_string(),
        "kind": record.kind().as_str(),
    });
    if let (Some(at), Some(map)) = (record.expires_at(), body.as_object_mut()) {
        map.insert("expires_in".into(), json!(secs_until(now, at)));
    }
    body
}

/// The body of `POST /v1/authorize`.
#[derive(Debug, Deserialize)]
pub struct AuthorizeBody {
    email: String,
    client_name: String,
}

/// True for an email this server accepts: one `@`, a dotted domain, no
/// spaces or controls, at most 254 bytes.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.chars().all(|c| c.is_ascii_graphic())
}

/// `POST /v1/authorize`.
pub async fn authorize(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let bad = |detail: &str| {
        problem(
            StatusCode::BAD_REQUEST,
            Fields::default(),
            "Bad Request",
            detail,
        )
    };
    let Ok(body) = serde_json::from_slice::<AuthorizeBody>(&body) else {
        return bad("the body must be JSON: {\"email\": \"…\", \"client_name\": \"…\"}");
    };
    let email = body.email.trim().to_ascii_lowercase();
    if !valid_email(&email) {
        return bad("email is not a valid address");
    }
    let client_name = body.client_name.trim();
    if client_name.is_empty()
        || client_name.len() > 100
        || client_name.chars().any(char::is_control)
    {
        return bad("client_name must be 1 to 100 printable characters");
    }
    let now = app.now();
    let address = peer.ip().to_string();
    let entropy = app.random::<32>();
    let token = hex(&app.random::<16>());
    let (key, digest) = mint(&app);

    let result = transact(&*app.store, |tx| {
        // The endpoint's own limits, all-or-nothing across address and email.
        authorize_limits(&app, tx, &address, &email, now, false)?;

        // What the lifecycle decides for this email.
        let account_id = tx.account(&email).map(|a| a.id);
        let records: Vec<KeyRecord> = account_id
            .map(|id| tx.account_keys(id))
            .unwrap_or_default()
            .iter()
            .filter_map(|d| tx.key(d).map(|k| k.record))
            .collect();
        let account = account_id
            .and_then(|id| tx.account_by_id(id))
            .map(|a| a.account);
        let decision = decide::<ApiKey, _>(
            &app.config.lifetimes,
            &app.config.authorization,
            account.as_ref(),
            &records,
            entropy,
            now,
        );
        match decision {
            Err(cap) => Err(problem(
                StatusCode::CONFLICT,
                Fields::default(),
                "Conflict",
                &format!("{cap}"),
            )),
            Ok(Authorization::PreConfirmationKey(record)) => {
                let id = match account_id {
                    Some(id) => id,
                    None => tx.create_account(&email, &token).map_err(full)?,
                };
                let row = KeyRow {
                    account_id: id,
                    record,
                    hint: key.hint(),
                    client_name: client_name.to_owned(),
                };
                tx.insert_key(digest, row).map_err(full)?;
                let token = tx
                    .account_by_id(id)
                    .map(|a| a.confirm_token.clone())
                    .unwrap_or_default();
                authorize_limits(&app, tx, &address, &email, now, true)?;
                Ok((
                    StatusCode::CREATED,
                    issued(&key, &digest, &record, now),
                    Some(token),
                ))
            }
            Ok(Authorization::Request(request)) => {
                let poll_id = id_hex(request.poll_id());
                let approval_id = id_hex(request.approval_id());
                let row = RequestRow {
                    account_id: account_id.unwrap_or_default(),
                    client_name: client_name.to_owned(),
                    request,
                };
                let interval = row.request.interval().as_secs();
                let expires_in = secs_until(now, row.request.expires_at());
                tx.insert_request(poll_id.clone(), approval_id.clone(), row)
                    .map_err(full)?;
                let base = app.config.public_url();
                let body = json!({
                    "authorization_url": format!("{base}/authorize/{approval_id}"),
                    "poll_url": format!("{base}/v1/authorize/poll/{poll_id}"),
                    "interval": interval,
                    "expires_in": expires_in,
                });
                authorize_limits(&app, tx, &address, &email, now, true)?;
                Ok((StatusCode::ACCEPTED, body, None))
            }
        }
    });
    let (status, mut body, token) = match result {
        Ok(Ok(answer)) => answer,
        Ok(Err(response)) => return response,
        Err(e) => return full(e),
    };

    // The confirmation "mail": a log line, and the response in dev mode.
    if let Some(token) = token {
        let link = format!("{}/v1/confirm/{token}", app.config.public_url());
        tracing::info!(key = %digest.id(), confirmation_link = %link, "issued a pre-confirmation key; confirmation link sent");
        if let (true, Some(map)) = (app.config.dev, body.as_object_mut()) {
            map.insert("confirmation_url".into(), json!(link));
        }
    } else {
        tracing::info!("opened an authorization request");
    }
    json(status, Fields::default(), body)
}

/// A full table or failed store, as a 503.
fn full(e: StoreError) -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        Fields::default(),
        "Unavailable",
        &e.to_string(),
    )
}

/// Lowercase hex of a request id.
fn id_hex(id: &keyrate::credential::authorization::RequestId) -> String {
    let mut s = String::new();
    let _ = id.write_hex(&mut s);
    s
}

/// Asks `POST /v1/authorize`'s limits for the caller's address and the
/// email, and with `charge` charges both; a refusal by either charges
/// neither. The handler asks first and charges only once the request has
/// succeeded, so a refused or failed request charges nothing.
fn authorize_limits(
    app: &App,
    tx: &mut dyn Tx,
    address: &str,
    email: &str,
    now: Instant,
    charge: bool,
) -> Result<(), Response> {
    let tables = [
        (AuthorizeTable::Address, address, &app.per_address),
        (AuthorizeTable::Email, email, &app.per_email),
    ];

    // Ask both first; a refusal by one charges neither.
    for (table, who, policy) in tables {
        let state = tx
            .authorize_limiter(table, who, policy, now)
            .map_err(full)?;
        match policy.peek(state, now, 1) {
            Ok(d @ PolicyDecision::Denied(denied)) => {
                let fields = decision_fields(app, policy, &d);
                let name = policy.name(denied.limit).unwrap_or("limit");
                let secs = keyrate::time::ceil_secs(denied.retry_after).max(1);
                return Err(too_many(fields, name, secs));
            }
            Ok(PolicyDecision::Allowed(_)) => {}
            Err(_) => return Err(full(StoreError::Unavailable)),
        }
    }
    if !charge {
        return Ok(());
    }
    for (table, who, policy) in tables {
        let state = tx
            .authorize_limiter(table, who, policy, now)
            .map_err(full)?;
        let _ = policy.check(state, now, 1);
    }
    Ok(())
}

/// `GET /v1/authorize/poll/{id}`.
pub async fn poll(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let now = app.now();
    let answer = transact(&*app.store, |tx| {
        let row = tx.request(&id)?;
        let account_id = row.account_id;
        let answer = row.request.poll(now);
        Some((answer, account_id))
    });
    let Ok(Some((answer, account_id))) = answer else {
        return oauth_error("invalid_grant", None);
    };
    match answer {
        PollAnswer::Issued(key) => {
            let digest = key.digest(&app.hasher);
            let record = transact(&*app.store, |tx| tx.key(&digest).map(|k| k.record));
            let Ok(Some(record)) = record else {
                return oauth_error("invalid_grant", None);
            };
            tracing::info!(key = %digest.id(), account = account_id, "delivered an approved key");
            json(
                StatusCode::OK,
                Fields::default(),
                issued(&key, &digest, &record, now),
            )
        }
        PollAnswer::Expired { revoke: Some(key) } => {
            let digest = key.digest(&app.hasher);
            let _ = transact(&*app.store, |tx| {
                if let Some(k) = tx.key(&digest) {
                    let _ = k.record.revoke(now);
                }
            });
            tracing::info!(key = %digest.id(), "revoked a key approved but never picked up");
            oauth_error("expired_token", None)
        }
        PollAnswer::SlowDown { interval } => oauth_error("slow_down", Some(interval.as_secs())),
        other => oauth_error(other.error_code().unwrap_or("invalid_grant"), None),
    }
}

/// An RFC 8628 §3.5 error response.
fn oauth_error(code: &str, interval: Option<u64>) -> Response {
    let mut body = json!({ "error": code });
    if let (Some(i), Some(map)) = (interval, body.as_object_mut()) {
        map.insert("interval".into(), json!(i));
    }
    json(StatusCode::BAD_REQUEST, Fields::default(), body)
}

/// `GET /v1/confirm/{token}`: the confirmation link.
pub async fn confirm(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    let now = app.now();
    let result = transact(&*app.store, |tx| {
        let id = tx.account_by_token(&token)?;
        let digests = tx.account_keys(id);
        let mut records: Vec<KeyRecord> = digests
            .iter()
            .filter_map(|d| tx.key(d).map(|k| k.record))
            .collect();
        let account = tx.account_by_id(id)?;
        let upgraded = app
            .config
            .lifetimes
            .confirm(&mut account.account, records.iter_mut(), now);
        for (d, r) in digests.iter().zip(records) {
            if let Some(k) = tx.key(d) {
                k.record = r;
            }
        }
        Some(upgraded)
    });
    match result {
        Ok(Some(Ok(upgraded))) => {
            tracing::info!(upgraded, "confirmed an email");
            json(
                StatusCode::OK,
                Fields::default(),
                json!({ "confirmed": true, "upgraded_keys": upgraded }),
            )
        }
        Ok(Some(Err(_))) => json(
            StatusCode::OK,
            Fields::default(),
            json!({ "confirmed": true, "upgraded_keys": 0 }),
        ),
        _ => problem(
            StatusCode::NOT_FOUND,
            Fields::default(),
            "Not Found",
            "unknown confirmation link",
        ),
    }
}

/// `POST /v1/keys`: a permanent key, for a caller with a confirmed key.
pub async fn create_key(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let caller = match authenticate(&app, &headers) {
        Ok(c) => c,
        Err(response) => return response,
    };
    if caller.kind == KeyKind::PreConfirmation {
        let detail = "confirm the account's email before creating permanent keys";
        return problem(StatusCode::FORBIDDEN, caller.fields, "Forbidden", detail);
    }
    let now = app.now();
    let (key, digest) = mint(&app);
    let result = transact(&*app.store, |tx| {
        let account = tx.account_by_id(caller.account)?.account;
        let record = app.config.lifetimes.issue_permanent(&account, now).ok()?;
        let row = KeyRow {
            account_id: caller.account,
            record,
            hint: key.hint(),
            client_name: "dashboard".to_owned(),
        };
        Some(tx.insert_key(digest, row).map(|()| record))
    });
    match result {
        Ok(Some(Ok(record))) => {
            tracing::info!(key = %digest.id(), account = caller.account, "created a permanent key");
            json(
                StatusCode::CREATED,
                caller.fields,
                issued(&key, &digest, &record, now),
            )
        }
        Ok(Some(Err(e))) | Err(e) => full(e),
        Ok(None) => problem(
            StatusCode::FORBIDDEN,
            caller.fields,
            "Forbidden",
            "account not confirmed",
        ),
    }
}

/// `GET /v1/keys`: the account's keys, by prefix only.
pub async fn list_keys(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let caller = match authenticate(&app, &headers) {
        Ok(c) => c,
        Err(response) => return response,
    };
    let now = app.now();
    let keys = transact(&*app.store, |tx| {
        tx.account_keys(caller.account)
            .iter()
            .filter_map(|d| tx.key(d).map(|k| describe(d, k, now)))
            .collect::<Vec<Value>>()
    })
    .unwrap_or_default();
    json(StatusCode::OK, caller.fields, json!({ "keys": keys }))
}

/// A key in a listing: never its secret.
fn describe(digest: &KeyDigest, row: &KeyRow, now: Instant) -> Value {
    let status = match row.record.status(now) {
        KeyStatus::Valid { .. } => "valid",
        KeyStatus::Expired { .. } => "expired",
        KeyStatus::Revoked { .. } => "revoked",
    };
    json!({
        "key_id": digest.id().to_string(),
        "prefix": row.hint.to_string(),
        "kind": row.record.kind().as_str(),
        "status": status,
        "client_name": row.client_name,
        "expires_in": row.record.expires_at().map(|at| secs_until(now, at)),
    })
}

/// `DELETE /v1/keys/{id}`: revokes one of the account's keys.
pub async fn revoke_key(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let caller = match authenticate(&app, &headers) {
        Ok(c) => c,
        Err(response) => return response,
    };
    let now = app.now();
    let not_found = |fields| problem(StatusCode::NOT_FOUND, fields, "Not Found", "no such key");
    let Ok(id) = id.parse::<KeyId>() else {
        return not_found(caller.fields);
    };
    let result = transact(&*app.store, |tx| {
        let digest = tx.key_by_id(&id)?;
        let row = tx.key(&digest)?;
        if row.account_id != caller.account {
            return None;
        }
        Some(row.record.revoke(now))
    });
    match result {
        Ok(Some(Ok(()))) => {
            tracing::info!(key = %id, account = caller.account, "revoked a key");
            (StatusCode::NO_CONTENT, caller.fields.0).into_response()
        }
        Ok(Some(Err(e))) => problem(
            StatusCode::CONFLICT,
            caller.fields,
            "Conflict",
            &e.to_string(),
        ),
        _ => not_found(caller.fields),
    }
}

/// `GET /v1/feeds`: a sample protected resource.
pub async fn feeds(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let body = json!({ "feeds": [
        { "id": 1, "title": "Release notes" },
        { "id": 2, "title": "Status" },
    ]});
    if !app.config.enforce {
        return json(StatusCode::OK, Fields::default(), body);
    }
    match authenticate(&app, &headers) {
        Ok(caller) => json(StatusCode::OK, caller.fields, body),
        Err(response) => response,
    }
}

/// `GET /v1/me`: the caller's key and limits.
pub async fn me(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let caller = match authenticate(&app, &headers) {
        Ok(c) => c,
        Err(response) => return response,
    };
    let now = app.now();
    let plan = transact(&*app.store, |tx| {
        tx.account_by_id(caller.account)
            .and_then(|a| a.plan.clone())
    })
    .ok()
    .flatten();
    let limits: Vec<Value> = app
        .policies
        .policy(caller.kind, plan.as_ref().map(|p| p.as_str()))
        .map(|p| {
            p.iter()
                .map(|(name, l)| {
                    let info = l.info();
                    json!({ "name": name, "quota": info.quota, "window": keyrate::time::ceil_secs(info.window) })
                })
                .collect()
        })
        .unwrap_or_default();
    let body = json!({
        "key_id": caller.digest.id().to_string(),
        "kind": caller.kind.as_str(),
        "expires_in": caller.expires_at.map(|at| secs_until(now, at)),
        "plan": plan.as_ref().map(|p| p.as_str()),
        "limits": limits,
    });
    json(StatusCode::OK, caller.fields, body)
}
