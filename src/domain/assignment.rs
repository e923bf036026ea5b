//! Distribution of work: who gets the next lead or conversation. Round-robin among the agents
//! on shift who are under their cap, the one served longest ago first.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An agent who might take the next item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The agent.
    pub user_id: Uuid,
    /// Open items (leads + conversations) they hold now.
    pub open: u64,
    /// The most they may hold.
    pub cap: u64,
    /// When distribution last handed them something (`None`: never).
    pub last_assigned_at: Option<DateTime<Utc>>,
}

impl Candidate {
    /// Room for one more item.
    pub fn is_free(&self) -> bool {
        self.open < self.cap
    }
}

/// The next agent: among those under their cap, the least recently assigned (never assigned
/// first; ties broken by id so the choice is stable). `None`: nobody is free, the item waits.
pub fn pick(candidates: &[Candidate]) -> Option<Uuid> {
    candidates
        .iter()
        .filter(|c| c.is_free())
        .min_by_key(|c| (c.last_assigned_at, c.user_id))
        .map(|c| c.user_id)
}

/// Hand `items` out one at a time to `candidates` (updating their counts and turns as it
/// goes, `now` being the time of each hand-out). Returns the agent of each item handed out, in
/// order; items beyond everyone's cap stay in the queue (absent from the result).
pub fn distribute(candidates: &mut [Candidate], items: usize, now: DateTime<Utc>) -> Vec<Uuid> {
    let mut out = Vec::new();
    for _ in 0..items {
        let Some(who) = pick(candidates) else { break };
        if let Some(c) = candidates.iter_mut().find(|c| c.user_id == who) {
            c.open += 1;
            // Later hand-outs in the same round must come after this one.
            c.last_assigned_at = Some(now + chrono::Duration::microseconds(out.len() as i64));
        }
        out.push(who);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(n: u128, open: u64, cap: u64, last: Option<i64>) -> Candidate {
        Candidate {
            user_id: Uuid::from_u128(n),
            open,
            cap,
            last_assigned_at: last.map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        }
    }

    #[test]
    fn never_assigned_goes_first_then_least_recent() {
        let c = [
            cand(1, 0, 5, Some(100)),
            cand(2, 0, 5, None),
            cand(3, 0, 5, Some(50)),
        ];
        assert_eq!(pick(&c), Some(Uuid::from_u128(2)));
        let c = [cand(1, 0, 5, Some(100)), cand(3, 0, 5, Some(50))];
        assert_eq!(pick(&c), Some(Uuid::from_u128(3)));
    }

    #[test]
    fn agents_at_their_cap_are_skipped_and_nobody_free_means_queue() {
        let c = [cand(1, 2, 2, None), cand(2, 0, 1, Some(10))];
        assert_eq!(pick(&c), Some(Uuid::from_u128(2)));
        let c = [cand(1, 2, 2, None), cand(2, 1, 1, Some(10))];
        assert_eq!(pick(&c), None);
        assert_eq!(pick(&[]), None);
    }

    #[test]
    fn round_robin_over_two_with_a_cap_of_one_queues_the_third() {
        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        let mut c = [cand(1, 0, 1, Some(5)), cand(2, 0, 1, None)];
        let got = distribute(&mut c, 3, now);
        assert_eq!(got, vec![Uuid::from_u128(2), Uuid::from_u128(1)]);
        // One frees up: the queued item goes to them.
        c[1].open = 0;
        assert_eq!(distribute(&mut c, 1, now), vec![Uuid::from_u128(2)]);
    }

    #[test]
    fn turns_alternate_when_caps_allow() {
        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        let mut c = [cand(1, 0, 9, None), cand(2, 0, 9, None)];
        let got = distribute(&mut c, 4, now);
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        assert_eq!(got, vec![a, b, a, b]);
    }
}
