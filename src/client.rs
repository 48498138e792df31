//! Client side: pacing from a known policy or from response headers, and polling authorization requests.
