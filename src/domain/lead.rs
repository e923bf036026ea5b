//! Leads: a contact's phone number on its way to an order. Stages move
//! new → contacted → qualified → won | lost; a call's outcome may move it along.

use serde::{Deserialize, Serialize};

/// Where a lead is in the sales funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Just arrived; nobody has called yet.
    New,
    /// Someone talked to the customer.
    Contacted,
    /// The customer wants to buy.
    Qualified,
    /// Became an order.
    Won,
    /// Will not buy (with a reason).
    Lost,
}

impl Stage {
    /// Every stage, in funnel order.
    pub const ALL: [Stage; 5] = [
        Stage::New,
        Stage::Contacted,
        Stage::Qualified,
        Stage::Won,
        Stage::Lost,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::New => "new",
            Stage::Contacted => "contacted",
            Stage::Qualified => "qualified",
            Stage::Won => "won",
            Stage::Lost => "lost",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Still being worked (not won or lost).
    pub fn is_open(self) -> bool {
        !matches!(self, Stage::Won | Stage::Lost)
    }

    /// Whether a lead may move from `self` to `to`. Open leads move forward (skipping is fine:
    /// a customer may order on the first call) or are lost; a lost lead may be reopened as new
    /// or contacted (the customer came back); a won lead stays won.
    pub fn can_move_to(self, to: Stage) -> bool {
        if self == to {
            return false;
        }
        match self {
            Stage::New | Stage::Contacted | Stage::Qualified => {
                to == Stage::Lost || (to.is_open() && to.rank() > self.rank()) || to == Stage::Won
            }
            Stage::Lost => matches!(to, Stage::New | Stage::Contacted),
            Stage::Won => false,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Stage::New => 0,
            Stage::Contacted => 1,
            Stage::Qualified => 2,
            Stage::Won => 3,
            Stage::Lost => 4,
        }
    }
}

/// How a telesales call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Không nghe máy.
    NoAnswer,
    /// Máy bận.
    Busy,
    /// Sai số.
    WrongNumber,
    /// Hẹn gọi lại (needs `next_call_at`).
    CallBack,
    /// Quan tâm.
    Interested,
    /// Chốt đơn.
    ConfirmedOrder,
    /// Từ chối.
    Refused,
}

impl CallOutcome {
    /// Every outcome.
    pub const ALL: [CallOutcome; 7] = [
        CallOutcome::NoAnswer,
        CallOutcome::Busy,
        CallOutcome::WrongNumber,
        CallOutcome::CallBack,
        CallOutcome::Interested,
        CallOutcome::ConfirmedOrder,
        CallOutcome::Refused,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::NoAnswer => "no_answer",
            CallOutcome::Busy => "busy",
            CallOutcome::WrongNumber => "wrong_number",
            CallOutcome::CallBack => "call_back",
            CallOutcome::Interested => "interested",
            CallOutcome::ConfirmedOrder => "confirmed_order",
            CallOutcome::Refused => "refused",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<CallOutcome> {
        CallOutcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The stage a lead in `current` moves to after this call, if any: a call that reached the
    /// customer makes a new lead contacted; interest qualifies it; a refusal or a wrong number
    /// loses it (with the outcome as the reason). A confirmed order qualifies the lead; it is
    /// won when the order is confirmed. Never moves a lead backwards.
    pub fn next_stage(self, current: Stage) -> Option<(Stage, Option<&'static str>)> {
        let target = match self {
            CallOutcome::NoAnswer | CallOutcome::Busy => return None,
            CallOutcome::CallBack => Stage::Contacted,
            CallOutcome::Interested | CallOutcome::ConfirmedOrder => Stage::Qualified,
            CallOutcome::WrongNumber => return lost(current, "wrong_number"),
            CallOutcome::Refused => return lost(current, "refused"),
        };
        (current.is_open() && current.can_move_to(target)).then_some((target, None))
    }
}

fn lost(current: Stage, reason: &'static str) -> Option<(Stage, Option<&'static str>)> {
    current
        .can_move_to(Stage::Lost)
        .then_some((Stage::Lost, Some(reason)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_leads_move_forward_or_are_lost_and_won_is_final() {
        assert!(Stage::New.can_move_to(Stage::Contacted));
        assert!(Stage::New.can_move_to(Stage::Qualified));
        assert!(Stage::New.can_move_to(Stage::Won));
        assert!(Stage::Contacted.can_move_to(Stage::Lost));
        assert!(!Stage::Qualified.can_move_to(Stage::Contacted));
        assert!(!Stage::Won.can_move_to(Stage::Lost));
        assert!(Stage::Lost.can_move_to(Stage::New));
        assert!(!Stage::Lost.can_move_to(Stage::Won));
        assert!(!Stage::New.can_move_to(Stage::New));
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn call_outcomes_move_the_lead_along_never_back() {
        use CallOutcome::*;
        assert_eq!(NoAnswer.next_stage(Stage::New), None);
        assert_eq!(
            CallBack.next_stage(Stage::New),
            Some((Stage::Contacted, None))
        );
        assert_eq!(CallBack.next_stage(Stage::Qualified), None);
        assert_eq!(
            Interested.next_stage(Stage::Contacted),
            Some((Stage::Qualified, None))
        );
        assert_eq!(
            Refused.next_stage(Stage::Qualified),
            Some((Stage::Lost, Some("refused")))
        );
        assert_eq!(WrongNumber.next_stage(Stage::Won), None);
        for o in CallOutcome::ALL {
            assert_eq!(CallOutcome::parse(o.as_str()), Some(o));
        }
    }
}
