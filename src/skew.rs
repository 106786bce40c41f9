//! Clock skew learned from servers: the offset of each origin's clock from this host's, read from
//! the `Date` header of its responses (RFC 9110 §6.6.1), and put into the `iat`, `nbf` and `exp`
//! of the JWTs made for that origin (client and grant assertions for the token endpoint, DPoP
//! proofs for the token endpoint and APIs). Cache expiry stays on this host's clock.
//!
//! A `Date` names a whole second, so a server's time is taken as the middle of that second
//! ([`server_time`]), and the response's transit makes it look a little behind. Only offsets over
//! [`THRESHOLD_MS`] count (smaller ones are noise, and inside every authority's window); a `Date`
//! more than [`CAP_MS`] away from this host's clock, or one that does not parse, is ignored, not
//! trusted. An origin's `Date` only ever changes the times of JWTs made for that origin.

use crate::dpop::origin;

/// Offsets at most this large (in either direction) read as "the clocks agree".
pub const THRESHOLD_MS: u64 = 5_000;

/// A `Date` further than this from this host's clock is absurd: ignored.
pub const CAP_MS: u64 = 3_600_000;

/// The most origins a [`ClockSkew`] keeps an offset for; past it, a new origin is not learned.
pub const SKEW_ORIGINS: usize = 32;

/// A server's time, in ms since the epoch, from the `Date` of its response received at `now_ms`:
/// the middle of the second it names. `None` when it does not parse or is more than [`CAP_MS`]
/// away from `now_ms`.
pub fn server_time(date: &str, now_ms: u64) -> Option<u64> {
    let at = crate::retry::http_date_ms(date, now_ms)? + 500;
    (at.abs_diff(now_ms) <= CAP_MS).then_some(at)
}

/// Whether a JWT whose time said `claimed_ms` was more than [`THRESHOLD_MS`] off the time of the
/// server that answered at `server_ms` ([`server_time`]): then a refusal of it may be the clock's
/// fault, and one retry with the corrected time is worth it. Never otherwise: a refusal of a JWT
/// with the right time is the answer.
pub fn was_off(claimed_ms: u64, server_ms: u64) -> bool {
    claimed_ms.abs_diff(server_ms) > THRESHOLD_MS
}

/// Token endpoint refusals a JWT's time can cause: a client assertion (`invalid_client`), a grant
/// assertion (`invalid_grant`) or a DPoP proof (`invalid_dpop_proof`) outside the server's window.
pub fn is_time_refusal(error: &str) -> bool {
    matches!(error, "invalid_client" | "invalid_grant" | "invalid_dpop_proof")
}

/// The offset of each origin's clock from this host's, for at most [`SKEW_ORIGINS`] origins whose
/// clock was off. A client talks to a handful of origins: a list is enough (and smaller in wasm
/// than a map); the bound holds when the URLs a caller sends to are many, or chosen by someone
/// else, and forgetting costs at most one retry per origin.
#[derive(Clone, Debug, Default)]
pub struct ClockSkew {
    /// In the order first learned; an offset of 0: the clocks agree again.
    by_origin: Vec<(String, i64)>,
}

impl ClockSkew {
    /// How far `url`'s origin's clock is ahead of this host's (negative: behind), in ms.
    pub fn offset_ms(&self, url: &str) -> i64 {
        let origin = origin(url);
        self.by_origin.iter().find(|(o, _)| o == origin).map_or(0, |(_, offset)| *offset)
    }

    /// The time on `url`'s origin's clock when it is `now_ms` here: what a JWT for it says.
    pub fn now_ms(&self, url: &str, now_ms: u64) -> u64 {
        now_ms.saturating_add_signed(self.offset_ms(url))
    }

    /// Learn `url`'s origin's clock from a response received at `now_ms` from a server whose time
    /// was `server_ms` ([`server_time`]). `Some(offset)` when the offset changed by more than
    /// [`THRESHOLD_MS`] (`Some(0)`: the clocks agree again), to report.
    pub fn learn(&mut self, url: &str, server_ms: u64, now_ms: u64) -> Option<i64> {
        let measured = server_ms as i64 - now_ms as i64;
        let offset = if measured.unsigned_abs() > THRESHOLD_MS { measured } else { 0 };
        let origin = origin(url);
        if let Some((_, known)) = self.by_origin.iter_mut().find(|(o, _)| o == origin) {
            let before = std::mem::replace(known, offset);
            return (offset.abs_diff(before) > THRESHOLD_MS).then_some(offset);
        }
        if offset == 0 || self.by_origin.len() >= SKEW_ORIGINS {
            return None;
        }
        self.by_origin.push((origin.to_owned(), offset));
        Some(offset)
    }

    /// Every origin whose clock is off and its offset (for inspection), in the order first learned.
    pub fn entries(&self) -> impl Iterator<Item = (&str, i64)> {
        self.by_origin.iter().filter(|(_, offset)| *offset != 0).map(|(o, offset)| (o.as_str(), *offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-01T00:00:00Z.
    const NOW: u64 = 1_767_225_600_000;
    const DATE: &str = "Thu, 01 Jan 2026 00:00:00 GMT";

    #[test]
    fn a_date_is_the_middle_of_its_second_in_any_http_date_form() {
        for date in [DATE, "Thursday, 01-Jan-26 00:00:00 GMT", "Thu Jan  1 00:00:00 2026"] {
            assert_eq!(server_time(date, NOW), Some(NOW + 500), "{date}");
        }
        assert_eq!(server_time("Thu, 01 Jan 2026 00:05:00 GMT", NOW), Some(NOW + 300_500));
    }

    #[test]
    fn an_absurd_or_unparseable_date_is_not_trusted() {
        let hour = 3_600_000;
        assert_eq!(server_time(DATE, NOW + hour + 500), Some(NOW + 500), "an hour behind: the cap");
        assert_eq!(server_time(DATE, NOW + hour + 501), None, "just over an hour behind");
        assert_eq!(server_time("Thu, 01 Jan 2026 03:00:00 GMT", NOW), None, "three hours ahead");
        for bad in ["", "soon", "1767225600", "Thu, 01 Jan 2026 00:00:00", "Thu, 01 Jan 2026 25:00:00 GMT"] {
            assert_eq!(server_time(bad, NOW), None, "{bad:?}");
        }
    }

    #[test]
    fn offsets_are_learned_per_origin_and_used_for_that_origin_only() {
        let mut skew = ClockSkew::default();
        assert_eq!(skew.learn("https://as.example/token", NOW + 300_000, NOW), Some(300_000));
        assert_eq!(skew.learn("https://api.example:8443/r?q", NOW - 120_000, NOW), Some(-120_000));
        assert_eq!(skew.offset_ms("https://as.example/other"), 300_000);
        assert_eq!(skew.now_ms("https://api.example:8443/x", NOW), NOW - 120_000);
        assert_eq!(skew.now_ms("https://api.example/x", NOW), NOW, "another origin (port)");
        assert_eq!(skew.now_ms("https://elsewhere.example/", NOW), NOW);
        let entries: Vec<_> = skew.entries().collect();
        assert_eq!(entries, [("https://as.example", 300_000), ("https://api.example:8443", -120_000)]);
    }

    #[test]
    fn offsets_within_the_threshold_are_noise_and_clear_a_learned_one() {
        let mut skew = ClockSkew::default();
        let url = "https://as.example/token";
        assert_eq!(skew.learn(url, NOW + 4_999, NOW), None);
        assert_eq!(skew.learn(url, NOW - 5_000, NOW), None);
        assert_eq!(skew.entries().count(), 0);
        assert_eq!(skew.learn(url, NOW + 5_001, NOW), Some(5_001));
        // Jitter of the same skew is kept without a report; a real change is reported.
        assert_eq!(skew.learn(url, NOW + 300_000, NOW), Some(300_000));
        assert_eq!(skew.learn(url, NOW + 301_200, NOW), None);
        assert_eq!(skew.offset_ms(url), 301_200);
        assert_eq!(skew.learn(url, NOW + 1_000, NOW), Some(0), "the clocks agree again");
        assert_eq!((skew.offset_ms(url), skew.entries().count()), (0, 0));
    }

    #[test]
    fn the_store_keeps_at_most_32_origins() {
        let mut skew = ClockSkew::default();
        let url = |n: usize| format!("https://o{n}.example/");
        for n in 0..SKEW_ORIGINS {
            skew.learn(&url(n), NOW + 60_000 + n as u64, NOW);
        }
        assert_eq!(skew.entries().count(), SKEW_ORIGINS);
        // Learning a known origin again takes no room, nor does one whose clock agrees.
        skew.learn(&url(0), NOW + 90_000, NOW);
        skew.learn(&url(1), NOW, NOW);
        skew.learn("https://right.example/", NOW, NOW);
        assert_eq!(skew.by_origin.len(), SKEW_ORIGINS);
        assert_eq!((skew.offset_ms(&url(0)), skew.offset_ms(&url(1))), (90_000, 0));
        // One more is not learned; the known ones still are.
        for n in 100..1000 {
            assert_eq!(skew.learn(&url(n), NOW + 60_000, NOW), None);
            assert_eq!(skew.by_origin.len(), SKEW_ORIGINS);
        }
        assert_eq!(skew.offset_ms(&url(100)), 0);
        assert_eq!(skew.learn(&url(1), NOW + 60_000, NOW), Some(60_000));
    }

    #[test]
    fn times_saturate_instead_of_wrapping() {
        let mut skew = ClockSkew::default();
        skew.learn("https://a.example/", 0, CAP_MS);
        assert_eq!(skew.now_ms("https://a.example/", 1_000), 0);
    }

    #[test]
    fn a_refusal_is_the_clocks_fault_only_beyond_the_threshold() {
        assert!(!was_off(NOW, NOW + 5_000) && !was_off(NOW + 5_000, NOW));
        assert!(was_off(NOW, NOW + 5_001) && was_off(NOW + 300_000, NOW));
        for error in ["invalid_client", "invalid_grant", "invalid_dpop_proof"] {
            assert!(is_time_refusal(error), "{error}");
        }
        for other in ["", "invalid_scope", "unauthorized_client", "use_dpop_nonce", "INVALID_CLIENT"] {
            assert!(!is_time_refusal(other), "{other:?}");
        }
    }
}
