//! Parsing the `Authorization: Bearer` header (RFC 6750), and the
//! `WWW-Authenticate` challenge that answers a request without a usable key.
//!
//! # Grammar
//!
//! RFC 6750 §2.1 defines the header value as
//!
//! ```text
//! b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! credentials = "Bearer" 1*SP b64token
//! ```
//!
//! [`parse_token`] follows it exactly: the scheme in any case (RFC 9110
//! §11.1), one or more spaces (a tab is not a space), the token, and nothing
//! after it. The value is taken as bytes, so a header that is not UTF-8 is
//! simply malformed.
//!
//! # Outcomes
//!
//! RFC 6750 §3 maps them to responses; [`Challenge`] writes them.
//!
//! - No header, or an empty one ([`BearerError::Missing`]), and another
//!   scheme such as `Basic …` ([`BearerError::OtherScheme`]): 401 with
//!   `WWW-Authenticate: Bearer realm="…"` and no error code.
//! - `Bearer` breaking the grammar ([`BearerError::MissingToken`],
//!   [`BearerError::BadCharacter`]): 400 with `error="invalid_request"`.
//! - A token that is not a key of the format ([`KeyError`]): 401 with
//!   `error="invalid_token"`.
//! - A key the lifecycle refuses (unknown, expired, revoked): 401 with
//!   `error="invalid_token"`, from [`Challenge::invalid_token`].
//!
//! Another scheme is treated as no credentials at all: §3.1 gives "attempted
//! using an unsupported authentication method" as an example of a request
//! that "lacks any authentication information", which gets no error code.
//! An empty value is treated the same way. A value that does not even start
//! with a scheme (such as one with a leading space) is malformed.
//!
//! # Examples
//!
//! ```
//! use keyrate::credential::bearer::{Realm, parse_key};
//! use keyrate::credential::key::KeyFormat;
//!
//! let realm = Realm::new("api")?;
//! let header = b"Bearer jcr_0000000000000000000000000000001yRlQ8";
//! let refusal = parse_key(Some(header), &KeyFormat::DEFAULT).unwrap_err();
//! let challenge = refusal.challenge(realm);
//!
//! let mut value = String::new();
//! challenge.write_www_authenticate(&mut value)?;
//! assert_eq!(challenge.status(), 401);
//! assert_eq!(
//!     value,
//!     concat!(
//!         r#"Bearer realm="api", error="invalid_token", "#,
//!         r#"error_description="key checksum does not match""#,
//!     ),
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt::{self, Write};

use super::key::{ApiKey, KeyError, KeyFormat};

/// `401 Unauthorized`.
pub const UNAUTHORIZED: u16 = 401;

/// `400 Bad Request`.
pub const BAD_REQUEST: u16 = 400;

/// Class bit: a `tchar` of RFC 9110 §5.6.2, a character of an auth-scheme.
const TCHAR: u8 = 1;

/// Class bit: a b64token character other than the trailing `=` (RFC 6750
/// §2.1).
const B64TOKEN: u8 = 2;

/// The class bits of every byte: one lookup per character on the hot path.
// Evaluated at compile time, where an out-of-bounds index fails the build.
#[allow(clippy::indexing_slicing)]
const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            table[b] = TCHAR | B64TOKEN;
        }
        b += 1;
    }
    let tchar_only = b"!#$%&'*^`|";
    let mut i = 0;
    while i < tchar_only.len() {
        table[tchar_only[i] as usize] = TCHAR;
        i += 1;
    }
    let both = b"-._~+";
    let mut i = 0;
    while i < both.len() {
        table[both[i] as usize] = TCHAR | B64TOKEN;
        i += 1;
    }
    table[b'/' as usize] = B64TOKEN;
    table
};

/// True if `b` has the class bit `class`.
fn is(class: u8, b: u8) -> bool {
    CLASSES.get(usize::from(b)).is_some_and(|c| c & class != 0)
}

/// Printable ASCII other than `"` and `\`: what may stand inside a quoted
/// realm or `error_description` without escaping (RFC 6750 §3).
fn is_quotable(text: &str) -> bool {
    text.bytes()
        .all(|b| (0x20..=0x7E).contains(&b) && b != b'"' && b != b'\\')
}

/// The token of an `Authorization` header value, per RFC 6750 §2.1.
///
/// `value` is the header's value, `None` if the request has no
/// `Authorization` header. The token is returned as it appears, trailing `=`
/// included; it is a secret.
///
/// # Errors
///
/// [`BearerError`]: see the [module docs](self) for which value gives which.
///
/// # Examples
///
/// ```
/// use keyrate::credential::bearer::{BearerError, parse_token};
///
/// assert_eq!(parse_token(Some(b"bEaReR   abc+/==")), Ok(&b"abc+/=="[..]));
/// assert_eq!(parse_token(None), Err(BearerError::Missing));
/// assert_eq!(parse_token(Some(b"Basic dXNlcg==")), Err(BearerError::OtherScheme));
/// assert_eq!(parse_token(Some(b"Bearer ")), Err(BearerError::MissingToken));
/// assert_eq!(parse_token(Some(b"Bearer\tabc")), Err(BearerError::BadCharacter));
/// assert_eq!(parse_token(Some(b"Bearer abc ")), Err(BearerError::BadCharacter));
/// ```
pub fn parse_token(value: Option<&[u8]>) -> Result<&[u8], BearerError> {
    let value = match value {
        None | Some([]) => return Err(BearerError::Missing),
        Some(value) => value,
    };

    // The auth-scheme is a token, compared without regard to case.
    let scheme_len = value.iter().take_while(|&&b| is(TCHAR, b)).count();
    let (scheme, rest) = value
        .split_at_checked(scheme_len)
        .ok_or(BearerError::BadCharacter)?;
    if scheme.is_empty() {
        return Err(BearerError::BadCharacter);
    }
    if !scheme.eq_ignore_ascii_case(b"Bearer") {
        return Err(BearerError::OtherScheme);
    }

    // One or more spaces, then a non-empty token.
    let spaces = rest.iter().take_while(|&&b| b == b' ').count();
    let token = rest.get(spaces..).unwrap_or_default();
    if token.is_empty() {
        return Err(BearerError::MissingToken);
    }
    if spaces == 0 {
        return Err(BearerError::BadCharacter);
    }

    // b64token: at least one token character, then only `=`, then the end.
    let chars = token.iter().take_while(|&&b| is(B64TOKEN, b)).count();
    let padding = token.iter().skip(chars).take_while(|&&b| b == b'=').count();
    if chars == 0 || chars + padding != token.len() {
        return Err(BearerError::BadCharacter);
    }
    Ok(token)
}

/// The key of an `Authorization` header value: [`parse_token`], then
/// [`KeyFormat::parse`] (prefix, length, characters, checksum).
///
/// This is everything that can be checked offline; whether the key exists
/// and is live is for the lifecycle to decide.
///
/// # Errors
///
/// [`CredentialError`], whose [`challenge`](CredentialError::challenge) is
/// the response to send.
///
/// # Examples
///
/// ```
/// use keyrate::credential::bearer::parse_key;
/// use keyrate::credential::key::KeyFormat;
///
/// let header = b"Bearer jcr_0000000000000000000000000000001yRlQ7";
/// let key = parse_key(Some(header), &KeyFormat::DEFAULT)?;
/// assert_eq!(key.to_string(), "jcr_0000…");
/// # Ok::<(), keyrate::credential::bearer::CredentialError>(())
/// ```
pub fn parse_key(value: Option<&[u8]>, format: &KeyFormat) -> Result<ApiKey, CredentialError> {
    let token = parse_token(value)?;
    Ok(format.parse(token)?)
}

/// Why an `Authorization` header value yields no Bearer token.
///
/// No variant carries any part of the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BearerError {
    /// No header, or an empty one: no credentials (401, no error code).
    Missing,
    /// A scheme other than `Bearer`: no credentials (401, no error code).
    OtherScheme,
    /// `Bearer` with no token after it: malformed (400).
    MissingToken,
    /// Anything else that breaks the grammar: a tab or other separator, a
    /// character outside b64token, `=` before the end, trailing data or a
    /// value that does not start with a scheme. Malformed (400).
    BadCharacter,
}

impl BearerError {
    /// A short lowercase description: the `Display` text. It is ASCII
    /// without `"` or `\`, so it can be an RFC 6750 `error_description`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            BearerError::Missing => "no authorization header",
            BearerError::OtherScheme => "authorization scheme is not bearer",
            BearerError::MissingToken => "bearer token is missing",
            BearerError::BadCharacter => {
                "authorization header is not bearer, spaces and a b64token"
            }
        }
    }

    /// True when the request carries no credentials at all (RFC 6750
    /// §3.1): the answer is 401 without an error code.
    pub const fn is_no_credentials(&self) -> bool {
        matches!(self, BearerError::Missing | BearerError::OtherScheme)
    }

    /// The response to send: 401 with a bare challenge when there are no
    /// credentials, 400 `invalid_request` when they are malformed.
    pub fn challenge<'r>(&self, realm: Realm<'r>) -> Challenge<'r> {
        if self.is_no_credentials() {
            Challenge::no_credentials(realm)
        } else {
            Challenge::invalid_request(realm).described(self.as_str())
        }
    }
}

impl fmt::Display for BearerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::error::Error for BearerError {}

/// Why [`parse_key`] found no usable key in a header value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialError {
    /// No Bearer token: absent, another scheme, or malformed.
    Bearer(BearerError),
    /// A well-formed token that is not a key of the format.
    Key(KeyError),
}

impl CredentialError {
    /// The response to send: see [`BearerError::challenge`]; a token that is
    /// not a key gets 401 `invalid_token`, described by the [`KeyError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::credential::bearer::{ErrorCode, Realm, parse_key};
    /// use keyrate::credential::key::KeyFormat;
    ///
    /// let realm = Realm::new("api")?;
    /// let format = KeyFormat::DEFAULT;
    /// let no_auth = parse_key(None, &format).unwrap_err().challenge(realm);
    /// assert_eq!((no_auth.status(), no_auth.error()), (401, None));
    /// let bad = parse_key(Some(b"Bearer a b"), &format).unwrap_err().challenge(realm);
    /// assert_eq!((bad.status(), bad.error()), (400, Some(ErrorCode::InvalidRequest)));
    /// let typo = parse_key(Some(b"Bearer jcr_x"), &format).unwrap_err().challenge(realm);
    /// assert_eq!((typo.status(), typo.error()), (401, Some(ErrorCode::InvalidToken)));
    /// # Ok::<(), keyrate::credential::bearer::RealmError>(())
    /// ```
    pub fn challenge<'r>(&self, realm: Realm<'r>) -> Challenge<'r> {
        match self {
            CredentialError::Bearer(e) => e.challenge(realm),
            CredentialError::Key(e) => Challenge::invalid_token(realm).described(e.as_str()),
        }
    }
}

impl From<BearerError> for CredentialError {
    fn from(e: BearerError) -> Self {
        CredentialError::Bearer(e)
    }
}

impl From<KeyError> for CredentialError {
    fn from(e: KeyError) -> Self {
        CredentialError::Key(e)
    }
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialError::Bearer(e) => fmt::Display::fmt(e, f),
            CredentialError::Key(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl core::error::Error for CredentialError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            CredentialError::Bearer(e) => Some(e),
            CredentialError::Key(e) => Some(e),
        }
    }
}

/// The protection space named in a challenge: printable ASCII without `"`
/// or `\`, so it is written inside quotes as it is.
///
/// # Examples
///
/// ```
/// use keyrate::credential::bearer::Realm;
///
/// assert_eq!(Realm::new("api.example.com")?.as_str(), "api.example.com");
/// assert!(Realm::new("a\"b").is_err());
/// assert!(Realm::new("line\nbreak").is_err());
/// # Ok::<(), keyrate::credential::bearer::RealmError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Realm<'a>(&'a str);

impl<'a> Realm<'a> {
    /// Validates `realm`.
    ///
    /// # Errors
    ///
    /// [`RealmError`] if it holds `"`, `\`, a control character or a
    /// character outside ASCII.
    pub fn new(realm: &'a str) -> Result<Realm<'a>, RealmError> {
        if is_quotable(realm) {
            Ok(Realm(realm))
        } else {
            Err(RealmError)
        }
    }

    /// The realm.
    pub const fn as_str(&self) -> &'a str {
        self.0
    }
}

/// A realm that [`Realm::new`] rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealmError;

impl fmt::Display for RealmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("realm must be printable ASCII without '\"' or '\\'")
    }
}

impl core::error::Error for RealmError {}

/// The `error` attribute of a Bearer challenge (RFC 6750 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `invalid_request`: the request is malformed (400).
    InvalidRequest,
    /// `invalid_token`: the token is malformed, unknown, expired or revoked
    /// (401).
    InvalidToken,
}

impl ErrorCode {
    /// The code as written in the header.
    pub const fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidToken => "invalid_token",
        }
    }

    /// The status code RFC 6750 §3.1 gives it.
    pub const fn status(&self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => BAD_REQUEST,
            ErrorCode::InvalidToken => UNAUTHORIZED,
        }
    }
}

/// A refusal of a request's credentials: its status and its
/// `WWW-Authenticate` value, written without allocation.
///
/// The `error_description` is a `&'static str`, so it cannot be (or contain)
/// the token a request carried; [`with_description`](Challenge::with_description)
/// also checks its characters.
///
/// # Examples
///
/// ```
/// use keyrate::credential::bearer::{Challenge, Realm};
///
/// // The lifecycle found the key expired.
/// let challenge = Challenge::invalid_token(Realm::new("api")?)
///     .with_description("the key has expired")?;
/// let mut value = heapless::String::<128>::new();
/// challenge.write_www_authenticate(&mut value)?;
/// assert_eq!(
///     value.as_str(),
///     concat!(
///         r#"Bearer realm="api", error="invalid_token", "#,
///         r#"error_description="the key has expired""#,
///     ),
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Challenge<'r> {
    realm: Realm<'r>,
    error: Option<ErrorCode>,
    description: Option<&'static str>,
}

impl<'r> Challenge<'r> {
    /// 401 with no error code: the request carried no credentials.
    pub const fn no_credentials(realm: Realm<'r>) -> Self {
        Challenge {
            realm,
            error: None,
            description: None,
        }
    }

    /// 400 `invalid_request`: the credentials are malformed.
    pub const fn invalid_request(realm: Realm<'r>) -> Self {
        Challenge {
            realm,
            error: Some(ErrorCode::InvalidRequest),
            description: None,
        }
    }

    /// 401 `invalid_token`: the key is not well formed, or it is unknown,
    /// expired or revoked.
    pub const fn invalid_token(realm: Realm<'r>) -> Self {
        Challenge {
            realm,
            error: Some(ErrorCode::InvalidToken),
            description: None,
        }
    }

    /// The same challenge with an `error_description`, replacing any.
    ///
    /// # Errors
    ///
    /// [`DescriptionError`] if the challenge has no error code (RFC 6750
    /// §3.1 asks for no error information then), or if `description` holds
    /// `"`, `\`, a control character or a character outside ASCII.
    pub fn with_description(self, description: &'static str) -> Result<Self, DescriptionError> {
        if self.error.is_none() {
            return Err(DescriptionError::NoErrorCode);
        }
        if !is_quotable(description) {
            return Err(DescriptionError::BadCharacter);
        }
        Ok(self.described(description))
    }

    /// The same challenge with a description known to be valid.
    fn described(self, description: &'static str) -> Self {
        Challenge {
            description: Some(description),
            ..self
        }
    }

    /// The realm.
    pub const fn realm(&self) -> Realm<'r> {
        self.realm
    }

    /// The error code, if any.
    pub const fn error(&self) -> Option<ErrorCode> {
        self.error
    }

    /// The error description, if any.
    pub const fn description(&self) -> Option<&'static str> {
        self.description
    }

    /// The response status: 401, or 400 for `invalid_request`.
    pub const fn status(&self) -> u16 {
        match self.error {
            Some(code) => code.status(),
            None => UNAUTHORIZED,
        }
    }

    /// Writes the `WWW-Authenticate` value: `Bearer realm="…"`, then
    /// `error` and `error_description` when present.
    ///
    /// # Errors
    ///
    /// Whatever `w` returns.
    pub fn write_www_authenticate(&self, w: &mut impl Write) -> fmt::Result {
        write!(w, "Bearer realm=\"{}\"", self.realm.0)?;
        if let Some(code) = self.error {
            write!(w, ", error=\"{}\"", code.as_str())?;
        }
        if let Some(description) = self.description {
            write!(w, ", error_description=\"{description}\"")?;
        }
        Ok(())
    }
}

/// Why [`Challenge::with_description`] refused a description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescriptionError {
    /// The challenge has no error code to describe.
    NoErrorCode,
    /// The text holds `"`, `\`, a control character or non-ASCII.
    BadCharacter,
}

impl fmt::Display for DescriptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DescriptionError::NoErrorCode => "challenge without an error code has no description",
            DescriptionError::BadCharacter => {
                "error description must be printable ASCII without '\"' or '\\'"
            }
        })
    }
}

impl core::error::Error for DescriptionError {}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    fn header(c: &Challenge<'_>) -> heapless::String<256> {
        let mut out = heapless::String::new();
        c.write_www_authenticate(&mut out).unwrap();
        out
    }

    #[test]
    fn no_credentials_challenge_has_no_error_code() {
        let realm = Realm::new("api").unwrap();
        for e in [BearerError::Missing, BearerError::OtherScheme] {
            let c = e.challenge(realm);
            assert_eq!(c.status(), UNAUTHORIZED);
            assert_eq!(header(&c).as_str(), r#"Bearer realm="api""#);
        }
    }

    #[test]
    fn malformed_credentials_get_invalid_request() {
        let realm = Realm::new("api").unwrap();
        let c = BearerError::MissingToken.challenge(realm);
        assert_eq!(c.status(), BAD_REQUEST);
        assert_eq!(
            header(&c).as_str(),
            concat!(
                r#"Bearer realm="api", error="invalid_request", "#,
                r#"error_description="bearer token is missing""#
            )
        );
    }

    #[test]
    fn every_built_in_description_is_quotable() {
        let bearer = [
            BearerError::Missing,
            BearerError::OtherScheme,
            BearerError::MissingToken,
            BearerError::BadCharacter,
        ];
        for e in bearer {
            assert!(is_quotable(e.as_str()), "{e:?}");
            assert_eq!(e.as_str(), e.as_str().to_lowercase());
        }
    }

    #[test]
    fn descriptions_are_validated() {
        let realm = Realm::new("api").unwrap();
        assert_eq!(
            Challenge::no_credentials(realm).with_description("x"),
            Err(DescriptionError::NoErrorCode)
        );
        for bad in ["say \"no\"", "back\\slash", "tab\there", "caf\u{e9}"] {
            assert_eq!(
                Challenge::invalid_token(realm).with_description(bad),
                Err(DescriptionError::BadCharacter),
                "{bad:?}"
            );
        }
        let ok = Challenge::invalid_request(realm)
            .with_description("missing!")
            .unwrap();
        assert_eq!(ok.description(), Some("missing!"));
    }

    #[test]
    fn realm_rejects_what_would_need_escaping() {
        for bad in ["\"", "\\", "\u{7f}", "a\rb", "é"] {
            assert_eq!(Realm::new(bad), Err(RealmError), "{bad:?}");
        }
        assert_eq!(Realm::new("").map(|r| r.as_str()), Ok(""));
    }

    #[test]
    fn character_classes_match_the_rfc_lists() {
        for b in 0..=u8::MAX {
            let tchar = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            let b64 = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is(TCHAR, b), tchar, "tchar {b}");
            assert_eq!(is(B64TOKEN, b), b64, "b64token {b}");
        }
    }

    #[test]
    fn scheme_is_a_whole_token() {
        assert_eq!(
            parse_token(Some(b"Bearerx abc")),
            Err(BearerError::OtherScheme)
        );
        assert_eq!(
            parse_token(Some(b"Bear abc")),
            Err(BearerError::OtherScheme)
        );
        assert_eq!(
            parse_token(Some(b"Bearer=abc")),
            Err(BearerError::BadCharacter)
        );
        assert_eq!(
            parse_token(Some(b" Bearer abc")),
            Err(BearerError::BadCharacter)
        );
    }
}
