//! Limiters shared between threads through `&self`.
