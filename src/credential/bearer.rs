//! Parsing the `Authorization: Bearer` header (RFC 6750).
