//! Random numbers for identifiers that must not repeat between checks: DNS
//! query ids, ICMP echo identifiers and payload tokens, SIP Call-ID, branch
//! and tag.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// 64 random bits from the standard library's per-process random keys
/// (each `RandomState` gets fresh keys), mixed with the current time.
/// Not for secrets: only to tell our packets from anybody else's.
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
