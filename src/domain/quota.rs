//! Quota budgets of polled platforms that count units per day (YouTube Data API: 10,000 units
//! per channel per Pacific-time day by default). Pure rules: what one day's use is, whether a
//! poll or a write may spend more, and how far apart polls go so polling lasts the whole day.
//!
//! A share of the day, the *reserve* (a fifth of the allocation, at most 2,000 units), is kept
//! for what agents do — replies and moderation cost 50 units each on YouTube — so polling never
//! leaves them without quota. Polling stops at `daily − reserve`; writes may use the whole
//! allocation. When the platform itself says the quota is used up (`quotaExceeded`), nothing
//! is spent until the time it gave (the next Pacific midnight).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tongdai_connectors::youtube::quota::{next_reset, quota_day};

/// The reserve is this share of the daily allocation …
pub const RESERVE_DIVISOR: u32 = 5;
/// … but never more than this many units.
pub const MAX_RESERVE: u32 = 2_000;

/// One account's use of its daily quota, as stored in its poll state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaUse {
    /// The (Pacific) day `used` counts against.
    #[serde(default)]
    pub day: Option<NaiveDate>,
    /// Units spent that day.
    #[serde(default)]
    pub used: u32,
    /// The platform said the quota is used up; nothing is spent before this instant.
    #[serde(default)]
    pub exhausted_until: Option<DateTime<Utc>>,
}

impl QuotaUse {
    /// Bring the record to `now`: a new day starts from zero, a passed exhaustion is over.
    pub fn roll(&mut self, now: DateTime<Utc>) {
        let today = quota_day(now);
        if self.day != Some(today) {
            self.day = Some(today);
            self.used = 0;
        }
        if self.exhausted_until.is_some_and(|t| t <= now) {
            self.exhausted_until = None;
        }
    }

    /// Count `units` spent at `now`.
    pub fn spend(&mut self, units: u32, now: DateTime<Utc>) {
        self.roll(now);
        self.used = self.used.saturating_add(units);
    }

    /// The platform refused for quota until `until`.
    pub fn exhaust(&mut self, until: DateTime<Utc>, now: DateTime<Utc>) {
        self.roll(now);
        self.exhausted_until = Some(self.exhausted_until.map_or(until, |t| t.max(until)));
    }
}

/// Why a call may not spend units now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// When spending may resume.
    pub until: DateTime<Utc>,
    /// For the agent or the channel's health.
    pub reason: String,
}

/// One account's daily allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Units per day.
    pub daily: u32,
    /// The shortest time between two polling passes.
    pub min_interval: Duration,
}

impl Budget {
    /// Units kept for replies and moderation.
    pub fn reserve(&self) -> u32 {
        (self.daily / RESERVE_DIVISOR).min(MAX_RESERVE)
    }

    /// Units polling may spend in a day.
    pub fn polling_allowance(&self) -> u32 {
        self.daily - self.reserve()
    }

    /// Whether a poll costing `units` may run at `now` (roll `q` first).
    pub fn may_poll(&self, q: &QuotaUse, units: u32, now: DateTime<Utc>) -> Result<(), Refusal> {
        if let Some(until) = q.exhausted_until.filter(|t| *t > now) {
            return Err(Refusal {
                until,
                reason: "the platform reported the daily quota used up".into(),
            });
        }
        if q.used.saturating_add(units) > self.polling_allowance() {
            return Err(Refusal {
                until: next_reset(now),
                reason: format!(
                    "polling used its share of today's quota ({} of {} units; {} are kept for replies and moderation)",
                    q.used,
                    self.daily,
                    self.reserve()
                ),
            });
        }
        Ok(())
    }

    /// Whether a reply or moderation costing `units` may run at `now` (roll `q` first).
    pub fn may_write(&self, q: &QuotaUse, units: u32, now: DateTime<Utc>) -> Result<(), Refusal> {
        if let Some(until) = q.exhausted_until.filter(|t| *t > now) {
            return Err(Refusal {
                until,
                reason: format!(
                    "the platform refused further calls for quota until {}",
                    until.format("%Y-%m-%d %H:%M UTC")
                ),
            });
        }
        if q.used.saturating_add(units) > self.daily {
            let until = next_reset(now);
            return Err(Refusal {
                until,
                reason: format!(
                    "this would overdraw the daily quota ({} of {} units used, this costs {units}); it resets at {} (midnight Pacific time)",
                    q.used,
                    self.daily,
                    until.format("%Y-%m-%d %H:%M UTC")
                ),
            });
        }
        Ok(())
    }

    /// When the next polling pass should start, after one costing about `units_per_pass`:
    /// what polling may still spend today, spread evenly over the time left until the reset,
    /// never sooner than `min_interval`; the reset itself when nothing is left.
    pub fn next_poll(
        &self,
        q: &QuotaUse,
        units_per_pass: u32,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let reset = next_reset(now);
        if let Some(until) = q.exhausted_until.filter(|t| *t > now) {
            return until;
        }
        let left = self.polling_allowance().saturating_sub(q.used);
        let passes = left / units_per_pass.max(1);
        if passes == 0 {
            return reset;
        }
        let secs_left = (reset - now).num_seconds().max(0).unsigned_abs();
        let spread = Duration::from_secs(secs_left / u64::from(passes));
        let wait = spread.max(self.min_interval);
        std::cmp::min(
            now + chrono::Duration::from_std(wait).unwrap_or_default(),
            reset,
        )
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        // 2026-01-15: Pacific standard time, the day resets at 08:00 UTC.
        Utc.with_ymd_and_hms(2026, 1, 15, h, m, 0)
            .single()
            .expect("valid")
    }

    fn budget(daily: u32) -> Budget {
        Budget {
            daily,
            min_interval: Duration::from_secs(60),
        }
    }

    #[test]
    fn the_reserve_is_a_fifth_capped_at_two_thousand() {
        assert_eq!(budget(10_000).reserve(), 2_000);
        assert_eq!(budget(50_000).reserve(), 2_000);
        assert_eq!(budget(1_000).reserve(), 200);
        assert_eq!(budget(10_000).polling_allowance(), 8_000);
    }

    #[test]
    fn a_new_pacific_day_starts_from_zero() {
        let mut q = QuotaUse::default();
        q.spend(100, t(7, 0));
        assert_eq!(q.used, 100);
        q.spend(1, t(7, 59));
        assert_eq!(q.used, 101);
        // 08:00 UTC is midnight in California.
        q.spend(1, t(8, 0));
        assert_eq!(q.used, 1);
    }

    #[test]
    fn polling_stops_at_the_reserve_and_writes_may_use_it() {
        let b = budget(1_000);
        let mut q = QuotaUse::default();
        q.spend(799, t(12, 0));
        assert!(b.may_poll(&q, 1, t(12, 0)).is_ok());
        q.spend(1, t(12, 0));
        let r = b.may_poll(&q, 1, t(12, 0)).expect_err("reserve reached");
        assert_eq!(
            r.until,
            Utc.with_ymd_and_hms(2026, 1, 16, 8, 0, 0)
                .single()
                .expect("valid")
        );
        assert!(b.may_write(&q, 50, t(12, 0)).is_ok());
        q.spend(150, t(12, 0));
        assert!(b.may_write(&q, 50, t(12, 0)).is_ok());
        q.spend(50, t(12, 0));
        let r = b.may_write(&q, 50, t(12, 0)).expect_err("would overdraw");
        assert!(r.reason.contains("overdraw"), "{}", r.reason);
        // The next day everything is allowed again.
        let tomorrow = t(12, 0) + chrono::Duration::days(1);
        q.roll(tomorrow);
        assert!(b.may_poll(&q, 1, tomorrow).is_ok());
        assert!(b.may_write(&q, 50, tomorrow).is_ok());
    }

    #[test]
    fn a_quota_exceeded_answer_stops_everything_until_the_time_given() {
        let b = budget(10_000);
        let mut q = QuotaUse::default();
        let reset = next_reset(t(12, 0));
        q.exhaust(reset, t(12, 0));
        assert_eq!(
            b.may_poll(&q, 1, t(12, 0)).expect_err("paused").until,
            reset
        );
        let r = b.may_write(&q, 50, t(13, 0)).expect_err("refused");
        assert!(r.reason.contains("refused further calls"), "{}", r.reason);
        assert_eq!(b.next_poll(&q, 1, t(12, 0)), reset);
        q.roll(reset);
        assert_eq!(q.exhausted_until, None);
        assert_eq!(q.used, 0);
        assert!(b.may_poll(&q, 1, reset).is_ok());
    }

    #[test]
    fn polls_spread_what_is_left_over_the_rest_of_the_day() {
        let mut q = QuotaUse::default();
        // 20 hours to the reset, 8,000 units: every 9 s in theory, so the 60 s floor.
        assert_eq!(budget(10_000).next_poll(&q, 1, t(12, 0)), t(12, 1));
        // 1,000 units a day, 200 kept: 800 passes over 20 h = every 90 s.
        assert_eq!(
            budget(1_000).next_poll(&q, 1, t(12, 0)),
            t(12, 1) + chrono::Duration::seconds(30)
        );
        // Passes costing 4 units: 200 passes = every 6 min.
        assert_eq!(budget(1_000).next_poll(&q, 4, t(12, 0)), t(12, 6));
        // Nothing left for polling: the reset.
        q.spend(800, t(12, 0));
        assert_eq!(
            budget(1_000).next_poll(&q, 1, t(12, 0)),
            next_reset(t(12, 0))
        );
        // Never past the reset.
        let q = QuotaUse::default();
        assert_eq!(budget(1_000).next_poll(&q, 1, t(7, 59)), t(8, 0));
    }
}
