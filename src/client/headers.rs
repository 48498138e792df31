//! Reading `RateLimit-Policy`, `RateLimit` and `Retry-After` field values
//! without allocating.
//!
//! The two RateLimit fields follow the IETF httpapi RateLimit header fields
//! draft (draft-ietf-httpapi-ratelimit-headers, §3 and §4): each is a
//! structured-field List (RFC 9651 §3.1) of Items whose value is a String,
//! the limit's name, with Integer parameters:
//!
//! ```text
//! RateLimit-Policy: "hourly";q=300;w=3600, "burst";q=60;w=60
//! RateLimit: "hourly";r=299;t=3600, "burst";r=59;t=60
//! ```
//!
//! # Leniency
//!
//! The draft (§7) asks clients to ignore malformed fields. This reader is
//! finer grained: a malformed *member* is skipped and the others are kept,
//! so that one bad entry does not hide the limits that are well formed.
//! A member is skipped, and counted by [`Field::ignored`], when:
//!
//! - it is not a String with parameters (a token, a number, an inner list);
//! - the String holds a byte outside printable ASCII (any non-ASCII byte),
//!   or is longer than [`MAX_NAME_LEN`] bytes;
//! - a required parameter (`q`, `r`) is missing;
//! - `q`, `r`, `w` or `t` is not an Integer, is negative, or has more than
//!   15 digits (RFC 9651 allows no more; such a member is skipped, never
//!   saturated), or `w` is zero (§3.1.3);
//! - its name repeats an earlier kept member's;
//! - [`MAX_ITEMS`] members are already kept.
//!
//! Parameters the draft defines but the pacer does not need (`qu`, `pk`) and
//! unknown parameters are read for their syntax and otherwise ignored; when
//! a key repeats, the last value wins (RFC 9651 §4.2.3.2). Whitespace (SP
//! or HTAB) is accepted around commas and around `;`; empty members are
//! ignored. A field sent as several lines may be joined with `,` before
//! parsing (RFC 9110 §5.3).
//!
//! # Retry-After
//!
//! [`parse_retry_after`] reads the delay-seconds form (RFC 9110 §10.2.3).
//! The HTTP-date form yields `None`: turning it into a delay needs a wall
//! clock, and keyrate reads none. A caller that has one may convert the date
//! and hand the delay to the pacer itself.

use core::fmt;
use core::time::Duration;

use super::sf::{self, Bare, Cursor, Malformed};

/// The most members a [`Field`] keeps; later ones are ignored.
pub const MAX_ITEMS: usize = 4;

/// The longest name a [`Field`] keeps, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// A limit's name as a server sent it: 0 to [`MAX_NAME_LEN`] printable
/// ASCII characters, unescaped.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ItemName(heapless::String<MAX_NAME_LEN>);

impl ItemName {
    /// `name` as an item name.
    ///
    /// # Errors
    ///
    /// [`ItemNameError`] if `name` is longer than [`MAX_NAME_LEN`] bytes or
    /// holds a character outside printable ASCII.
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::client::headers::ItemName;
    ///
    /// assert_eq!(ItemName::new("burst")?.as_str(), "burst");
    /// assert!(ItemName::new("caf\u{e9}").is_err());
    /// # Ok::<(), keyrate::client::headers::ItemNameError>(())
    /// ```
    pub fn new(name: &str) -> Result<ItemName, ItemNameError> {
        if !name.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(ItemNameError);
        }
        heapless::String::try_from(name)
            .map(ItemName)
            .map_err(|_| ItemNameError)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads the String that starts a list member.
    fn read(cur: &mut Cursor<'_>) -> Result<ItemName, Malformed> {
        let mut name = heapless::String::new();
        sf::string(cur, |b| name.push(char::from(b)).map_err(|_| Malformed))?;
        Ok(ItemName(name))
    }
}

impl fmt::Debug for ItemName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ItemName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ItemName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ItemName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A name that [`ItemName::new`] rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemNameError;

impl fmt::Display for ItemNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "item name must be at most {MAX_NAME_LEN} printable ASCII characters"
        )
    }
}

impl core::error::Error for ItemNameError {}

/// One member of `RateLimit-Policy`: a quota policy (draft §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyItem {
    /// The policy's name.
    pub name: ItemName,
    /// `q`: the quota, in quota units (at most 15 digits).
    pub quota: u64,
    /// `w`: the window, in whole seconds, if given.
    pub window: Option<Duration>,
}

/// One member of `RateLimit`: a service limit (draft §4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitItem {
    /// The name of the policy it describes.
    pub name: ItemName,
    /// `r`: quota units remaining (at most 15 digits).
    pub remaining: u64,
    /// `t`: time until more quota is available, in whole seconds, if given.
    pub reset: Option<Duration>,
}

/// A kind of list member a [`Field`] holds: [`PolicyItem`] or
/// [`RateLimitItem`].
pub trait FieldItem: sealed::Sealed + Clone + fmt::Debug {
    /// The member's name.
    fn name(&self) -> &ItemName;
}

mod sealed {
    use super::{Cursor, Malformed};

    pub trait Sealed: Sized {
        /// Reads one list member, from its String to its last parameter.
        fn read(cur: &mut Cursor<'_>) -> Result<Self, Malformed>;
    }
}

impl FieldItem for PolicyItem {
    fn name(&self) -> &ItemName {
        &self.name
    }
}

impl sealed::Sealed for PolicyItem {
    fn read(cur: &mut Cursor<'_>) -> Result<Self, Malformed> {
        let name = ItemName::read(cur)?;
        let (mut quota, mut window) = (None, None);
        sf::parameters(cur, |key, value| {
            match key {
                b"q" => quota = Some(non_negative(value)?),
                b"w" => window = Some(seconds(value).filter(|w| !w.is_zero()).ok_or(Malformed)?),
                _ => {}
            }
            Ok(())
        })?;
        Ok(PolicyItem {
            name,
            quota: quota.ok_or(Malformed)?,
            window,
        })
    }
}

impl FieldItem for RateLimitItem {
    fn name(&self) -> &ItemName {
        &self.name
    }
}

impl sealed::Sealed for RateLimitItem {
    fn read(cur: &mut Cursor<'_>) -> Result<Self, Malformed> {
        let name = ItemName::read(cur)?;
        let (mut remaining, mut reset) = (None, None);
        sf::parameters(cur, |key, value| {
            match key {
                b"r" => remaining = Some(non_negative(value)?),
                b"t" => reset = Some(seconds(value).ok_or(Malformed)?),
                _ => {}
            }
            Ok(())
        })?;
        Ok(RateLimitItem {
            name,
            remaining: remaining.ok_or(Malformed)?,
            reset,
        })
    }
}

/// A non-negative Integer parameter.
fn non_negative(value: Bare) -> Result<u64, Malformed> {
    sf::integer(value)
        .and_then(|i| u64::try_from(i).ok())
        .ok_or(Malformed)
}

/// A non-negative Integer parameter, as whole seconds.
fn seconds(value: Bare) -> Option<Duration> {
    non_negative(value).ok().map(Duration::from_secs)
}

/// A parsed `RateLimit-Policy` or `RateLimit` value: up to [`MAX_ITEMS`]
/// well-formed members, in the order sent.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::client::headers::{PolicyField, RateLimitField};
///
/// let policy = PolicyField::parse(br#""hourly";q=300;w=3600, "burst";q=60;w=60"#);
/// assert_eq!(policy.get("burst").map(|p| p.quota), Some(60));
///
/// // The second member lacks `r` and is skipped; the others are kept.
/// let now = RateLimitField::parse(br#""hourly";r=12;t=40, "burst";t=3, "x";r=1"#);
/// assert_eq!(now.items().len(), 2);
/// assert_eq!(now.ignored(), 1);
/// assert_eq!(now.get("hourly").and_then(|r| r.reset), Some(Duration::from_secs(40)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field<T> {
    items: heapless::Vec<T, MAX_ITEMS>,
    ignored: usize,
}

/// A parsed `RateLimit-Policy` value.
pub type PolicyField = Field<PolicyItem>;

/// A parsed `RateLimit` value.
pub type RateLimitField = Field<RateLimitItem>;

impl<T: FieldItem> Default for Field<T> {
    fn default() -> Self {
        Field {
            items: heapless::Vec::new(),
            ignored: 0,
        }
    }
}

impl<T: FieldItem> Field<T> {
    /// Parses a field value. Never fails: what cannot be read is skipped
    /// (see the [module docs](self)); an empty or wholly malformed value
    /// gives an empty field.
    pub fn parse(value: &[u8]) -> Self {
        let mut field = Field::default();
        let malformed = sf::for_each_member(value, T::read, |item| field.keep(item));
        field.ignored += malformed;
        field
    }

    /// Keeps `item` unless its name is taken or the field is full.
    fn keep(&mut self, item: T) {
        let taken = self.get(item.name().as_str()).is_some();
        if taken || self.items.push(item).is_err() {
            self.ignored += 1;
        }
    }

    /// The members kept, in the order sent.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// The member named `name`.
    pub fn get(&self, name: &str) -> Option<&T> {
        self.items.iter().find(|i| i.name() == name)
    }

    /// The number of members skipped: malformed, repeating a name, or past
    /// [`MAX_ITEMS`]. Empty members are not counted.
    pub fn ignored(&self) -> usize {
        self.ignored
    }

    /// True if no member was kept.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Reads a `Retry-After` value in delay-seconds (RFC 9110 §10.2.3).
///
/// Surrounding whitespace is allowed. A number too large for a `u64`
/// saturates at `u64::MAX` seconds: a delay longer than any the pacer could
/// wait out. An HTTP-date, an empty value or anything else is `None`.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::client::headers::parse_retry_after;
///
/// assert_eq!(parse_retry_after(b" 12 "), Some(Duration::from_secs(12)));
/// assert_eq!(parse_retry_after(b"Fri, 31 Dec 1999 23:59:59 GMT"), None);
/// assert_eq!(parse_retry_after(b"-1"), None);
/// ```
pub fn parse_retry_after(value: &[u8]) -> Option<Duration> {
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let secs = value.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_parameter_keeps_its_last_value() {
        let f = RateLimitField::parse(br#""a";r=1;r=2"#);
        assert_eq!(f.get("a").map(|i| i.remaining), Some(2));
    }

    #[test]
    fn a_repeated_name_keeps_the_first_member() {
        let f = PolicyField::parse(br#""a";q=1, "a";q=2"#);
        assert_eq!(f.get("a").map(|i| i.quota), Some(1));
        assert_eq!(f.ignored(), 1);
    }

    #[test]
    fn escapes_are_removed_from_names() {
        let f = PolicyField::parse(br#""a\"b\\c";q=1"#);
        assert_eq!(f.items()[0].name, r#"a"b\c"#);
    }
}
