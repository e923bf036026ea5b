//! The YouTube Data API's quota calendar and price list (`shared/specs/social.md` §5.2):
//! units per call, and the day they count against — midnight to midnight Pacific time, with
//! the US daylight-saving rule (from 2:00 on the second Sunday of March to 2:00 on the first
//! Sunday of November). Pure functions, no time-zone database.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};

/// `commentThreads.list`.
pub const COST_THREADS_LIST: u32 = 1;
/// `comments.list`.
pub const COST_COMMENTS_LIST: u32 = 1;
/// `channels.list`.
pub const COST_CHANNELS_LIST: u32 = 1;
/// `comments.insert` (a reply).
pub const COST_INSERT: u32 = 50;
/// `comments.setModerationStatus` (hide, unhide, remove).
pub const COST_MODERATE: u32 = 50;
/// Google's default daily allocation.
pub const DEFAULT_DAILY_QUOTA: u32 = 10_000;

/// The `n`th (1-based) `weekday` of `month` in `year`.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u32) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default();
    let shift = (7 + weekday.num_days_from_monday() - first.weekday().num_days_from_monday()) % 7;
    first + TimeDelta::days(i64::from(shift + 7 * (n - 1)))
}

fn utc_at(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(hour, 0, 0).unwrap_or_default())
}

/// Whether Pacific time is on daylight time (UTC−7) at `t`, else standard time (UTC−8).
pub fn pacific_is_daylight(t: DateTime<Utc>) -> bool {
    let year = t.year();
    // 2:00 PST = 10:00 UTC; 2:00 PDT = 09:00 UTC.
    let start = utc_at(nth_weekday(year, 3, Weekday::Sun, 2), 10);
    let end = utc_at(nth_weekday(year, 11, Weekday::Sun, 1), 9);
    start <= t && t < end
}

/// Pacific time's offset from UTC at `t`, in hours (−7 or −8).
pub fn pacific_offset_hours(t: DateTime<Utc>) -> i64 {
    if pacific_is_daylight(t) { -7 } else { -8 }
}

/// The Pacific calendar day `t` falls on: the quota day it is counted against.
pub fn quota_day(t: DateTime<Utc>) -> NaiveDate {
    (t + TimeDelta::hours(pacific_offset_hours(t))).date_naive()
}

/// The instant Pacific day `day` starts (its midnight, in UTC).
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    let daylight = utc_at(day, 7);
    if pacific_is_daylight(daylight) {
        daylight
    } else {
        utc_at(day, 8)
    }
}

/// When the quota counted at `t` resets: the next Pacific midnight.
pub fn next_reset(t: DateTime<Utc>) -> DateTime<Utc> {
    day_start(quota_day(t) + TimeDelta::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn daylight_time_follows_the_us_rule() {
        // 2026: second Sunday of March is the 8th, first Sunday of November the 1st.
        assert_eq!(
            nth_weekday(2026, 3, Weekday::Sun, 2),
            NaiveDate::from_ymd_opt(2026, 3, 8).expect("date")
        );
        assert_eq!(
            nth_weekday(2026, 11, Weekday::Sun, 1),
            NaiveDate::from_ymd_opt(2026, 11, 1).expect("date")
        );
        assert!(!pacific_is_daylight(at(2026, 3, 8, 9, 59)));
        assert!(pacific_is_daylight(at(2026, 3, 8, 10, 0)));
        assert!(pacific_is_daylight(at(2026, 11, 1, 8, 59)));
        assert!(!pacific_is_daylight(at(2026, 11, 1, 9, 0)));
        assert!(!pacific_is_daylight(at(2026, 1, 15, 12, 0)));
        assert!(pacific_is_daylight(at(2026, 7, 4, 12, 0)));
    }

    #[test]
    fn the_quota_day_is_the_pacific_calendar_day() {
        // Winter: UTC−8, so 07:59 UTC is still the previous day in California.
        assert_eq!(
            quota_day(at(2026, 1, 15, 7, 59)),
            NaiveDate::from_ymd_opt(2026, 1, 14).expect("date")
        );
        assert_eq!(
            quota_day(at(2026, 1, 15, 8, 0)),
            NaiveDate::from_ymd_opt(2026, 1, 15).expect("date")
        );
        // Summer: UTC−7.
        assert_eq!(
            quota_day(at(2026, 7, 4, 6, 59)),
            NaiveDate::from_ymd_opt(2026, 7, 3).expect("date")
        );
        assert_eq!(
            quota_day(at(2026, 7, 4, 7, 0)),
            NaiveDate::from_ymd_opt(2026, 7, 4).expect("date")
        );
    }

    #[test]
    fn the_reset_is_the_next_pacific_midnight_across_both_changes() {
        assert_eq!(next_reset(at(2026, 1, 15, 12, 0)), at(2026, 1, 16, 8, 0));
        assert_eq!(next_reset(at(2026, 7, 4, 12, 0)), at(2026, 7, 5, 7, 0));
        // The day daylight time starts begins on standard time; the next one on daylight.
        assert_eq!(next_reset(at(2026, 3, 7, 20, 0)), at(2026, 3, 8, 8, 0));
        assert_eq!(next_reset(at(2026, 3, 8, 20, 0)), at(2026, 3, 9, 7, 0));
        // The day it ends begins on daylight time; the next one on standard.
        assert_eq!(next_reset(at(2026, 10, 31, 20, 0)), at(2026, 11, 1, 7, 0));
        assert_eq!(next_reset(at(2026, 11, 1, 20, 0)), at(2026, 11, 2, 8, 0));
        // Just before and at midnight.
        assert_eq!(next_reset(at(2026, 1, 16, 7, 59)), at(2026, 1, 16, 8, 0));
        assert_eq!(next_reset(at(2026, 1, 16, 8, 0)), at(2026, 1, 17, 8, 0));
        // Across the year end.
        assert_eq!(next_reset(at(2026, 12, 31, 12, 0)), at(2027, 1, 1, 8, 0));
    }
}
