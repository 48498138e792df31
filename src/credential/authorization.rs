//! Authorization requests, modelled on OAuth device authorization (RFC 8628).
