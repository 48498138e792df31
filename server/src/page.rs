//! The approval page a user opens from `authorization_url`: it names the
//! client and offers Approve and Deny, as a plain HTML form.

use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use keyrate::credential::lifecycle::KeyRecord;
use serde::Deserialize;

use crate::App;
use crate::store::{KeyRow, transact};

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page around `body`.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;\
         padding:0 1rem;line-height:1.5}}button{{font-size:1rem;padding:.5rem 1.5rem;\
         margin-right:1rem}}.approve{{background:#1a7f37;color:#fff;border:0}}\
         .deny{{background:#fff;border:1px solid #999}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>\n",
        title = escape(title),
    );
    (status, Html(html)).into_response()
}

/// `GET /authorize/{id}`: the approval page.
pub async fn show(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let now = app.now();
    let found = transact(&*app.store, |tx| {
        let poll_id = tx.request_by_approval(&id)?;
        let row = tx.request(&poll_id)?;
        let decidable = row.request.decidable(now);
        let client = row.client_name.clone();
        let account = row.account_id;
        let email = tx.account_by_id(account).map(|a| a.email.clone());
        Some((client, email.unwrap_or_default(), decidable))
    });
    let Ok(Some((client, email, decidable))) = found else {
        return page(
            StatusCode::NOT_FOUND,
            "Unknown request",
            "<p>This authorization request does not exist.</p>",
        );
    };
    if let Err(e) = decidable {
        let body = format!(
            "<p>This request can no longer be decided: {}.</p>",
            escape(&e.to_string())
        );
        return page(StatusCode::GONE, "Request closed", &body);
    }
    let body = format!(
        "<p><strong>{client}</strong> asks for an API key for <strong>{email}</strong>.</p>\
         <p>Approve only if you started this from that application.</p>\
         <form method=\"post\" action=\"/authorize/{id}\">\
         <button class=\"approve\" type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
         <button class=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
         </form>",
        client = escape(&client),
        email = escape(&email),
        id = escape(&id),
    );
    page(StatusCode::OK, "Authorize an application", &body)
}

/// The page's form.
#[derive(Debug, Deserialize)]
pub struct Decision {
    decision: String,
}

/// `POST /authorize/{id}`: approves or denies.
pub async fn decide(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Form(form): Form<Decision>,
) -> Response {
    let now = app.now();
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => {
            return page(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "<p>Choose Approve or Deny.</p>",
            );
        }
    };
    let key = app.policies.key_format().generate(&app.random());
    let digest = key.digest(&app.hasher);
    let result = transact(&*app.store, |tx| -> Result<&'static str, String> {
        let poll_id = tx.request_by_approval(&id).ok_or("unknown request")?;
        let row = tx.request(&poll_id).ok_or("unknown request")?;
        row.request.decidable(now).map_err(|e| e.to_string())?;
        let (account_id, client) = (row.account_id, row.client_name.clone());
        if !approve {
            row.request.deny(now).map_err(|e| e.to_string())?;
            return Ok("denied");
        }

        // Mint the key first, then hand it to the request for delivery.
        let account = tx
            .account_by_id(account_id)
            .ok_or("unknown account")?
            .account;
        let record: KeyRecord = app
            .config
            .lifetimes
            .issue_confirmed(&account, now)
            .map_err(|e| e.to_string())?;
        let hint = key.hint();
        let key_row = KeyRow {
            account_id,
            record,
            hint,
            client_name: client,
        };
        tx.insert_key(digest, key_row).map_err(|e| e.to_string())?;
        let row = tx.request(&poll_id).ok_or("unknown request")?;
        if let Err(e) = row.request.approve(key.clone(), now) {
            if let Some(k) = tx.key(&digest) {
                let _ = k.record.revoke(now);
            }
            return Err(e.reason.to_string());
        }
        Ok("approved")
    });
    match result {
        Ok(Ok(what)) => {
            tracing::info!(decision = what, "an authorization request was decided");
            let body = format!(
                "<p>Request {what}. You can close this page and return to the application.</p>"
            );
            page(
                StatusCode::OK,
                if approve { "Approved" } else { "Denied" },
                &body,
            )
        }
        Ok(Err(e)) => page(
            StatusCode::CONFLICT,
            "Request closed",
            &format!("<p>{}.</p>", escape(&e)),
        ),
        Err(e) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            &format!("<p>{}.</p>", escape(&e.to_string())),
        ),
    }
}
