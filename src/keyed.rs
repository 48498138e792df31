//! Tables of per-key limiter state with fixed or growable capacity.
