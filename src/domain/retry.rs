//! The retry schedule of outbound work (replies, fulfillment pushes): immediately, 5 s, 5 min,
//! 30 min, 2 h, 5 h, 10 h, 10 h, then dead.

use std::time::Duration;

/// Delay before attempt `n + 2` after attempt `n + 1` failed; the first attempt runs at once.
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// Total attempts before a job is dead.
pub const MAX_ATTEMPTS: i32 = RETRY_DELAYS.len() as i32 + 1;

/// After `attempts` failed attempts, how long to wait before the next one; `None` = give up.
pub fn next_delay(attempts: i32) -> Option<Duration> {
    let idx = usize::try_from(attempts.checked_sub(1)?).ok()?;
    RETRY_DELAYS.get(idx).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_follows_the_documented_delays_then_gives_up() {
        let secs: Vec<u64> = (1..=8)
            .filter_map(next_delay)
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(secs, vec![5, 300, 1800, 7200, 18000, 36000, 36000]);
        assert_eq!(next_delay(8), None);
        assert_eq!(MAX_ATTEMPTS, 8);
    }
}
