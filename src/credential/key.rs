//! The API key format: prefix, base62 body and checksum.
