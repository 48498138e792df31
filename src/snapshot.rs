//! Snapshots of limiter, policy and table state, with times stored relative to a wall-clock instant.
