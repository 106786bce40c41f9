//! When to try a token request again: on a network failure or a 5xx, after an exponential
//! backoff with full jitter; on 429 or 503 with `Retry-After` (RFC 9110 §10.2.3), after the time
//! the server asks for. Never past the deadline, never more than `max_retries` times.

/// The retry policy of one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`retries`, default 2; 0 disables).
    pub max_retries: u32,
    /// The first backoff ceiling; it doubles per retry.
    pub base_delay_ms: u64,
    /// The largest backoff ceiling.
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_retries: 2, base_delay_ms: 200, max_delay_ms: 5_000 }
    }
}

/// What went wrong with an attempt, as far as retrying goes.
#[derive(Clone, Copy, Debug)]
pub enum Failure<'a> {
    /// No response (connection refused, reset, DNS).
    Network,
    /// A response with this status and `Retry-After` header.
    Status(u16, Option<&'a str>),
}

impl RetryPolicy {
    /// The delay before retry number `retries_done + 1`, or `None` to give up. `random` is any
    /// random `u32` (for the jitter); `remaining_ms` is the time left before the deadline.
    pub fn delay(
        &self,
        retries_done: u32,
        failure: Failure<'_>,
        now_ms: u64,
        remaining_ms: u64,
        random: u32,
    ) -> Option<u64> {
        if retries_done >= self.max_retries {
            return None;
        }
        let asked = match failure {
            Failure::Network | Failure::Status(500 | 502 | 503 | 504, None) => None,
            Failure::Status(429 | 503, Some(value)) => Some(retry_after_ms(value, now_ms)?),
            Failure::Status(..) => return None,
        };
        let delay = asked.unwrap_or_else(|| {
            let ceiling = self.base_delay_ms.saturating_mul(1 << retries_done.min(20)).min(self.max_delay_ms);
            u64::from(random) % (ceiling + 1)
        });
        // A retry that cannot finish before the deadline is not worth starting.
        (delay < remaining_ms).then_some(delay)
    }
}

/// Whether a failed token request may succeed if asked again soon: no response (network), no
/// answer in time, a 5xx or a 429. Refusals (`invalid_client`, `invalid_grant`, any other 4xx)
/// and answers that make no sense are final. `staleIfErrorSeconds` serves a cached token only
/// after a transient failure.
pub fn is_transient(error: &crate::TokenError) -> bool {
    use crate::ErrorCode;
    match error.code {
        ErrorCode::Network | ErrorCode::Timeout => true,
        ErrorCode::OAuth | ErrorCode::HttpError => error.status.is_some_and(|s| s == 429 || s >= 500),
        _ => false,
    }
}

/// `Retry-After` as a delay: delta-seconds or an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn retry_after_ms(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.saturating_mul(1000));
    }
    let at = imf_fixdate_ms(value)?;
    Some(at.saturating_sub(now_ms))
}

fn imf_fixdate_ms(value: &str) -> Option<u64> {
    let parts: Vec<&str> = value.split(' ').collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    // Days from the civil date (Howard Hinnant's algorithm), proleptic Gregorian.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + m * 60 + s;
    u64::try_from(secs).ok().map(|s| s * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: RetryPolicy = RetryPolicy { max_retries: 2, base_delay_ms: 200, max_delay_ms: 5_000 };

    #[test]
    fn server_errors_and_network_failures_back_off_exponentially_with_jitter() {
        assert_eq!(P.delay(0, Failure::Network, 0, 10_000, 1_000), Some(1_000 % 201));
        assert_eq!(P.delay(1, Failure::Status(502, None), 0, 10_000, 1_000), Some(1_000 % 401));
        assert!(P.delay(1, Failure::Status(503, None), 0, 10_000, u32::MAX).unwrap() <= 400);
        assert_eq!(P.delay(2, Failure::Network, 0, 10_000, 7), None, "bounded count");
    }

    #[test]
    fn client_errors_are_not_retried() {
        for status in [400, 401, 403, 404, 501] {
            assert_eq!(P.delay(0, Failure::Status(status, None), 0, 10_000, 5), None, "{status}");
        }
    }

    #[test]
    fn too_many_requests_waits_as_long_as_the_server_asks_within_the_deadline() {
        assert_eq!(P.delay(0, Failure::Status(429, Some("2")), 0, 10_000, 5), Some(2_000));
        assert_eq!(P.delay(0, Failure::Status(429, Some("20")), 0, 10_000, 5), None, "past the deadline");
        assert_eq!(P.delay(0, Failure::Status(429, None), 0, 10_000, 5), None, "429 without Retry-After");
        assert_eq!(P.delay(0, Failure::Status(503, Some("1")), 0, 10_000, 5), Some(1_000));
    }

    #[test]
    fn retry_after_reads_delta_seconds_and_imf_fixdate() {
        assert_eq!(retry_after_ms("120", 0), Some(120_000));
        // RFC 9110 §5.6.7 example: Sun, 06 Nov 1994 08:49:37 GMT = 784111777 s.
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_770_000), Some(7_000));
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_780_000), Some(0));
        assert_eq!(retry_after_ms("soon", 0), None);
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49 GMT", 0), None);
    }
}
