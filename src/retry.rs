//! When to try a token request again: on a network failure or a 5xx, after an exponential
//! backoff with full jitter; on 429 or 503 with `Retry-After` (RFC 9110 §10.2.3: seconds or an
//! HTTP-date in any of its three forms), after the time the server asks for. Never past the
//! deadline, never more than `max_retries` times.

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

/// `Retry-After` as a delay: delta-seconds or an HTTP-date ([`http_date_ms`]).
pub fn retry_after_ms(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    if let Some(seconds) = crate::text::digits(value) {
        return Some(seconds.saturating_mul(1000));
    }
    let at = http_date_ms(value, now_ms)?;
    Some(at.saturating_sub(now_ms))
}

/// An HTTP-date (RFC 9110 §5.6.7) in milliseconds since the epoch, in any of the three forms a
/// recipient must accept: IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, the obsolete rfc850-date
/// `Sunday, 06-Nov-94 08:49:37 GMT` and the obsolete asctime-date `Sun Nov  6 08:49:37 1994`.
/// A two-digit rfc850 year that would be more than 50 years after `now_ms` is the most recent
/// past year with those digits.
pub fn http_date_ms(value: &str, now_ms: u64) -> Option<u64> {
    let (mut words, mut count) = ([""; 6], 0);
    for word in value.split_ascii_whitespace() {
        *words.get_mut(count)? = word;
        count += 1;
    }
    let (day, month, year, time) = match words[..count] {
        [_, day, month, year, time, "GMT"] => (day, month, number(year, 4)?, time),
        [_, date, time, "GMT"] => {
            let mut parts = date.splitn(3, '-');
            let (day, month, yy) = (parts.next()?, parts.next()?, parts.next()?);
            (day, month, two_digit_year(number(yy, 2)?, now_ms), time)
        }
        [_, month, day, time, year] => (day, month, number(year, 4)?, time),
        _ => return None,
    };
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let day = number(day, 1).or_else(|| number(day, 2)).filter(|d| (1..=31).contains(d))?;
    // `hh:mm:ss`, two digits each.
    let colons = time.len() == 8 && time.as_bytes()[2] == b':' && time.as_bytes()[5] == b':';
    let [h, m, s] = [0, 3, 6].map(|at| time.get(at..at + 2).and_then(|p| number(p, 2)));
    let (true, Some(h @ 0..=23), Some(m @ 0..=59), Some(s @ 0..=60)) = (colons, h, m, s) else {
        return None;
    };
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    u64::try_from(secs).ok().map(|s| s * 1000)
}

/// `digits` as a number when it is exactly `len` ASCII digits.
fn number(digits: &str, len: usize) -> Option<i64> {
    (digits.len() == len && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.bytes().fold(0, |n, b| n * 10 + i64::from(b - b'0')))
}

/// RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
fn two_digit_year(yy: i64, now_ms: u64) -> i64 {
    let now = civil_year((now_ms / 86_400_000) as i64);
    let year = now - now.rem_euclid(100) + yy;
    if year > now + 50 {
        year - 100
    } else {
        year
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of the day `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_year(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let march_based_month = (5 * doy + 2) / 153;
    yoe + era * 400 + i64::from(march_based_month >= 10)
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

    /// RFC 9110 §5.6.7: the same instant in the three forms (784111777 s after the epoch).
    #[test]
    fn http_dates_in_the_two_obsolete_forms_are_understood() {
        const NOW_1994: u64 = 784_111_770_000;
        for date in
            ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"]
        {
            assert_eq!(http_date_ms(date, NOW_1994), Some(784_111_777_000), "{date}");
            assert_eq!(retry_after_ms(date, NOW_1994), Some(7_000), "{date}");
        }
        assert_eq!(http_date_ms("Thu Jan  1 00:00:00 1970", 0), Some(0));
        assert_eq!(http_date_ms("Mon Feb 29 12:00:00 2016", 0), Some(1_456_747_200_000));
        for bad in [
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 UTC",
            "Sunday, 06 Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 94",
            "Sun Nov 32 08:49:37 1994",
            "Sun Nov  6 24:49:37 1994",
            "Sun Nov  6 08:49 1994",
            "Sun Foo  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37",
        ] {
            assert_eq!(http_date_ms(bad, NOW_1994), None, "{bad}");
        }
    }

    #[test]
    fn a_two_digit_year_more_than_50_years_ahead_is_in_the_past_century() {
        let jan_2026 = http_date_ms("Thu, 01 Jan 2026 00:00:00 GMT", 0).unwrap();
        let year = |date: &str| civil_year((http_date_ms(date, jan_2026).unwrap() / 86_400_000) as i64);
        assert_eq!(year("Sunday, 06-Nov-94 08:49:37 GMT"), 1994);
        assert_eq!(year("Friday, 01-Jan-27 00:00:00 GMT"), 2027);
        assert_eq!(year("Wednesday, 01-Jan-76 00:00:00 GMT"), 2076, "50 years ahead: still ahead");
        assert_eq!(year("Friday, 01-Jan-77 00:00:00 GMT"), 1977, "51 years ahead: the past");
        assert_eq!(year("Monday, 01-Jan-00 00:00:00 GMT"), 2000);
        assert_eq!(civil_year(-1), 1969);
        assert_eq!(civil_year(days_from_civil(2000, 2, 29)), 2000);
        assert_eq!(civil_year(days_from_civil(1999, 12, 31)), 1999);
    }
}
