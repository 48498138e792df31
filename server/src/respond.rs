//! Building responses: JSON bodies, problem details (RFC 9457) and the
//! header fields keyrate writes.

use axum::Json;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use keyrate::credential::bearer::Realm;
use keyrate::http::{HeaderOptions, RateLimitHeaders};
use keyrate::limit::{HeapSlots, Policy, PolicyDecision};
use keyrate::verify::Outcome;
use serde_json::{Value, json};

use crate::App;

/// The header fields keyrate chose, as a map axum can send.
#[derive(Debug, Default)]
pub struct Fields(pub HeaderMap);

impl Fields {
    /// Adds one field; values keyrate writes are always valid.
    pub fn push(&mut self, name: &'static str, value: &str) {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.0.append(HeaderName::from_static(lower(name)), v);
        }
    }
}

/// The lowercase form of the field names keyrate emits.
fn lower(name: &'static str) -> &'static str {
    match name {
        "RateLimit-Policy" => "ratelimit-policy",
        "RateLimit" => "ratelimit",
        "Retry-After" => "retry-after",
        "WWW-Authenticate" => "www-authenticate",
        "X-RateLimit-Limit" => "x-ratelimit-limit",
        "X-RateLimit-Remaining" => "x-ratelimit-remaining",
        "X-RateLimit-Reset" => "x-ratelimit-reset",
        _ => "x-keyrate-unknown",
    }
}

/// Header options from the configuration.
pub fn options(app: &App) -> HeaderOptions {
    HeaderOptions {
        draft: true,
        legacy: app.config.legacy_headers,
    }
}

/// The fields of a verification outcome.
pub fn outcome_fields<A>(app: &App, outcome: &Outcome<'_, HeapSlots, A>) -> Fields {
    let mut fields = Fields::default();
    if let Ok(realm) = Realm::new(&app.config.realm) {
        let _ = outcome.for_each_header(realm, options(app), |n, v| fields.push(n, v));
    }
    fields
}

/// The fields of a policy decision.
pub fn decision_fields(app: &App, policy: &Policy<HeapSlots>, decision: &PolicyDecision) -> Fields {
    let mut fields = Fields::default();
    let _ =
        RateLimitHeaders::new(policy, decision).for_each(options(app), |n, v| fields.push(n, v));
    fields
}

/// A JSON response.
pub fn json(status: StatusCode, fields: Fields, body: Value) -> Response {
    (status, fields.0, Json(body)).into_response()
}

/// A problem-details response (RFC 9457).
pub fn problem(status: StatusCode, fields: Fields, title: &str, detail: &str) -> Response {
    problem_with(status, fields, title, detail, json!({}))
}

/// A problem-details response with extra members.
pub fn problem_with(
    status: StatusCode,
    fields: Fields,
    title: &str,
    detail: &str,
    extra: Value,
) -> Response {
    let mut body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    let mut headers = fields.0;
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    (status, headers, body.to_string()).into_response()
}

/// The 429 body: the quota-exceeded problem type of the RateLimit fields
/// draft, listing the policy that refused.
pub fn too_many(fields: Fields, policy: &str, retry_after: u64) -> Response {
    let body = json!({
        "type": "https://iana.org/assignments/http-problem-types#quota-exceeded",
        "title": "Too Many Requests",
        "status": 429,
        "detail": format!("the \"{policy}\" limit is spent; retry after {retry_after} s"),
        "violated-policies": [policy],
    });
    let mut headers = fields.0;
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    (StatusCode::TOO_MANY_REQUESTS, headers, body.to_string()).into_response()
}
