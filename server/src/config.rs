//! The server's configuration: a TOML file, then command-line flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use keyrate::credential::authorization::AuthorizationConfig;
use keyrate::credential::lifecycle::Lifetimes;
use keyrate::policy::{Config as PolicyConfig, LimitKind, LimitSpec, Limits};
use serde::Deserialize;

/// Command-line flags. Each overrides the same setting of the file.
#[derive(Debug, Parser)]
#[command(
    name = "keyrate-server",
    version,
    about = "Reference server for keyrate: \
    the modelled product's API-key authentication over HTTP, every decision made by keyrate."
)]
pub struct Flags {
    /// A TOML configuration file (see server/keyrate-server.toml for every setting).
    #[arg(long, short)]
    pub config: Option<PathBuf>,

    /// Address to listen on. Only loopback addresses are sensible for a reference server.
    #[arg(long)]
    pub listen: Option<SocketAddr>,

    /// The URL clients reach the server at, used in confirmation, authorization and poll URLs.
    #[arg(long)]
    pub public_url: Option<String>,

    /// Development mode: /v1/authorize also returns the confirmation link in its response.
    #[arg(long)]
    pub dev: bool,

    /// Serve /v1/feeds without any keyrate check (for measuring what enforcement costs).
    #[arg(long)]
    pub no_enforce: bool,

    /// The most limiter states kept at once (accounts or keys being limited).
    #[arg(long)]
    pub limiter_capacity: Option<usize>,

    /// The most accounts kept at once.
    #[arg(long)]
    pub account_capacity: Option<usize>,

    /// The most keys kept at once.
    #[arg(long)]
    pub key_capacity: Option<usize>,
}

/// Everything the server needs to know, with the product's defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on (default 127.0.0.1:8080).
    pub listen: SocketAddr,
    /// The URL clients reach the server at (default `http://<listen>`).
    pub public_url: Option<String>,
    /// The realm of `WWW-Authenticate` challenges.
    pub realm: String,
    /// Development mode (confirmation links in responses).
    pub dev: bool,
    /// Whether /v1/feeds is checked by keyrate (default true).
    pub enforce: bool,
    /// Also send legacy `X-RateLimit-*` fields.
    pub legacy_headers: bool,
    /// Table capacities.
    pub capacity: Capacity,
    /// Limits of `POST /v1/authorize` itself.
    pub authorize: AuthorizeLimits,
    /// Key lifetimes and the live pre-confirmation cap.
    pub lifetimes: Lifetimes,
    /// Authorization request expiry and poll interval.
    pub authorization: AuthorizationConfig,
    /// Tiers, plans, key prefix, scope and failure mode.
    pub policy: PolicyConfig,
}

/// Bounds on what the server keeps in memory.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Capacity {
    /// Limiter states (per account or per key).
    pub limiters: usize,
    /// Accounts.
    pub accounts: usize,
    /// Keys.
    pub keys: usize,
    /// Open authorization requests.
    pub requests: usize,
    /// Limiter states of `POST /v1/authorize` (per address and per email).
    pub authorize_limiters: usize,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            limiters: 100_000,
            accounts: 100_000,
            keys: 200_000,
            requests: 10_000,
            authorize_limiters: 100_000,
        }
    }
}

/// Limits of `POST /v1/authorize`, so that keys cannot be minted, or
/// confirmation mail sent, without bound.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthorizeLimits {
    /// Per client address.
    pub per_address: Limits,
    /// Per email.
    pub per_email: Limits,
}

fn spec(name: &str, quota: u32, window: u64) -> LimitSpec {
    LimitSpec {
        name: name.try_into().unwrap_or_default(),
        kind: LimitKind::Sliding,
        quota,
        window,
        burst: None,
    }
}

impl Default for AuthorizeLimits {
    fn default() -> Self {
        let mut per_address = Limits::new();
        let _ = per_address.push(spec("hourly", 30, 3600));
        let _ = per_address.push(spec("burst", 10, 60));
        let mut per_email = Limits::new();
        let _ = per_email.push(spec("hourly", 5, 3600));
        AuthorizeLimits {
            per_address,
            per_email,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            realm: "keyrate".to_owned(),
            dev: false,
            enforce: true,
            legacy_headers: false,
            capacity: Capacity::default(),
            authorize: AuthorizeLimits::default(),
            lifetimes: Lifetimes::DEFAULT,
            authorization: AuthorizationConfig::DEFAULT,
            policy: PolicyConfig::default(),
        }
    }
}

impl ServerConfig {
    /// The file's settings (or the defaults), then the flags'.
    ///
    /// # Errors
    ///
    /// A message naming the file and what is wrong in it.
    pub fn load(flags: &Flags) -> Result<ServerConfig, String> {
        let mut config = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => ServerConfig::default(),
        };
        if let Some(listen) = flags.listen {
            config.listen = listen;
        }
        if let Some(url) = &flags.public_url {
            config.public_url = Some(url.clone());
        }
        config.dev |= flags.dev;
        config.enforce &= !flags.no_enforce;
        if let Some(n) = flags.limiter_capacity {
            config.capacity.limiters = n;
        }
        if let Some(n) = flags.account_capacity {
            config.capacity.accounts = n;
        }
        if let Some(n) = flags.key_capacity {
            config.capacity.keys = n;
        }
        Ok(config)
    }

    /// The public URL, defaulting to `http://<listen>`.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}
