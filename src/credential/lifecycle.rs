//! The lifecycle of keys and accounts: issue, confirm, expire, revoke.
