//! Zalo's consultation reply rule (`shared/specs/social.md` §4.3, §9), checked before any call:
//! an OA may answer a customer with consultation messages ("tin Tư vấn") only within 48 hours
//! of the customer's last message; the first 8 of those answers are free, further ones spend
//! the OA's paid quota. Both numbers come from third-party write-ups of Zalo's docs and are
//! UNVERIFIED: the platform stays the judge (its window and quota errors map to
//! [`crate::ConnectorError::OutsideWindow`] too).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// How long after a customer's last message consultation replies may be sent (48 h).
pub const REPLY_WINDOW: TimeDelta = TimeDelta::hours(48);
/// Replies after a customer's message that cost nothing (8).
pub const FREE_REPLIES: u32 = 8;

/// Why a Zalo reply may not be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZaloClosedReason {
    /// The customer never wrote to the OA.
    NoCustomerMessage,
    /// The customer's last message is more than 48 hours old.
    Expired,
    /// The 8 free replies are used and the OA's last known paid quota is spent.
    QuotaSpent,
}

/// Whether a consultation reply may be sent now, and under which quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZaloWindow {
    /// One of the free replies: `left` of them remain (this one included), until `until`.
    Free {
        /// Free replies left, this one included.
        left: u32,
        /// When the window closes.
        until: DateTime<Utc>,
    },
    /// Beyond the free replies: the OA's paid quota pays, `remain` messages of it left
    /// (`None`: not known yet — Zalo reports it only in answers to paid sends — so Zalo
    /// decides).
    Paid {
        /// The OA's last known remaining paid quota.
        remain: Option<i64>,
        /// When the window closes.
        until: DateTime<Utc>,
    },
    /// Nothing may be sent.
    Closed {
        /// Why.
        reason: ZaloClosedReason,
        /// When the window closed (48 h after the customer's last message), when it did.
        since: Option<DateTime<Utc>>,
    },
}

impl ZaloWindow {
    /// Whether a reply may go out.
    pub fn is_open(&self) -> bool {
        !matches!(self, ZaloWindow::Closed { .. })
    }

    /// Why not, in plain English, when closed.
    pub fn refusal(&self) -> Option<String> {
        let ZaloWindow::Closed { reason, .. } = self else {
            return None;
        };
        Some(
            match reason {
                ZaloClosedReason::NoCustomerMessage => {
                    "the customer has not written to the Official Account: Zalo allows no \
                     consultation message first"
                }
                ZaloClosedReason::Expired => {
                    "the customer last wrote more than 48 hours ago: Zalo allows no consultation \
                     reply until they write again"
                }
                ZaloClosedReason::QuotaSpent => {
                    "the 8 free replies since the customer's last message are used and the \
                     Official Account has no paid message quota left"
                }
            }
            .to_owned(),
        )
    }
}

/// The window for a Zalo reply at `now` in a conversation whose customer last wrote at
/// `last_inbound` (`None`: never), after `replies_since` replies were sent since that message,
/// with `paid_remain` the OA's last known remaining paid quota (`None`: never seen). Open up to
/// 48 h after the customer's message (inclusive); the first [`FREE_REPLIES`] free, then paid:
/// refused when the last known quota is spent, left to Zalo when no quota is known yet (Zalo
/// reports it only in answers to paid sends, and refuses itself when there is none). A
/// `last_inbound` in the future (clock skew) counts as now.
pub fn reply_window(
    last_inbound: Option<DateTime<Utc>>,
    replies_since: u32,
    paid_remain: Option<i64>,
    now: DateTime<Utc>,
) -> ZaloWindow {
    let Some(last) = last_inbound else {
        return ZaloWindow::Closed {
            reason: ZaloClosedReason::NoCustomerMessage,
            since: None,
        };
    };
    let until = last + REPLY_WINDOW;
    if now > until {
        return ZaloWindow::Closed {
            reason: ZaloClosedReason::Expired,
            since: Some(until),
        };
    }
    if replies_since < FREE_REPLIES {
        return ZaloWindow::Free {
            left: FREE_REPLIES - replies_since,
            until,
        };
    }
    match paid_remain {
        Some(remain) if remain <= 0 => ZaloWindow::Closed {
            reason: ZaloClosedReason::QuotaSpent,
            since: None,
        },
        remain => ZaloWindow::Paid { remain, until },
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0)
            .single()
            .expect("valid")
            + TimeDelta::hours(h)
    }

    #[test]
    fn the_first_eight_replies_within_48_hours_are_free() {
        assert_eq!(
            reply_window(Some(t(0)), 0, None, t(1)),
            ZaloWindow::Free {
                left: 8,
                until: t(48)
            }
        );
        assert_eq!(
            reply_window(Some(t(0)), 7, None, t(48)),
            ZaloWindow::Free {
                left: 1,
                until: t(48)
            }
        );
        assert!(reply_window(Some(t(0)), 7, None, t(48)).refusal().is_none());
    }

    #[test]
    fn a_ninth_reply_needs_paid_quota() {
        // Not known yet: Zalo decides.
        assert_eq!(
            reply_window(Some(t(0)), 8, None, t(1)),
            ZaloWindow::Paid {
                remain: None,
                until: t(48)
            }
        );
        assert_eq!(
            reply_window(Some(t(0)), 8, Some(0), t(1)),
            ZaloWindow::Closed {
                reason: ZaloClosedReason::QuotaSpent,
                since: None
            }
        );
        assert_eq!(
            reply_window(Some(t(0)), 20, Some(3), t(1)),
            ZaloWindow::Paid {
                remain: Some(3),
                until: t(48)
            }
        );
        let why = reply_window(Some(t(0)), 8, Some(0), t(1))
            .refusal()
            .expect("closed");
        assert!(why.contains("8 free replies"), "{why}");
    }

    #[test]
    fn after_48_hours_nothing_may_be_sent_whatever_the_quota() {
        let w = reply_window(Some(t(0)), 0, Some(100), t(48) + TimeDelta::seconds(1));
        assert_eq!(
            w,
            ZaloWindow::Closed {
                reason: ZaloClosedReason::Expired,
                since: Some(t(48))
            }
        );
        assert!(!w.is_open());
        assert!(w.refusal().expect("closed").contains("48 hours"));
    }

    #[test]
    fn without_a_customer_message_nothing_may_be_sent() {
        assert_eq!(
            reply_window(None, 0, Some(5), t(0)),
            ZaloWindow::Closed {
                reason: ZaloClosedReason::NoCustomerMessage,
                since: None
            }
        );
    }

    #[test]
    fn a_last_message_in_the_future_counts_as_now() {
        assert!(reply_window(Some(t(3)), 0, None, t(0)).is_open());
    }
}
