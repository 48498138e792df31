//! Credentials: the key format, Bearer header parsing, key lifecycle and
//! authorization requests.

pub mod authorization;
pub mod bearer;
pub mod digest;
pub mod key;
pub mod lifecycle;
