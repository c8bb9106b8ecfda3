//! The states an application passes through and which moves between them are legal.

use std::fmt;

/// A state of an application, as stored and as shown in `ApplicationStatus/State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Accepted,
    Queued,
    Leased,
    IinFormed,
    Rejected,
    Refused,
    DeadLettered,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Accepted,
        State::Queued,
        State::Leased,
        State::IinFormed,
        State::Rejected,
        State::Refused,
        State::DeadLettered,
    ];

    /// The contract's name of the state (`ACCEPTED`, `IIN_FORMED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Accepted => "ACCEPTED",
            State::Queued => "QUEUED",
            State::Leased => "LEASED",
            State::IinFormed => "IIN_FORMED",
            State::Rejected => "REJECTED",
            State::Refused => "REFUSED",
            State::DeadLettered => "DEAD_LETTERED",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// Whether the application is finished: no further transition is possible
    /// except an operator re-queueing a dead letter.
    pub fn is_final(self) -> bool {
        matches!(self, State::IinFormed | State::Rejected | State::Refused)
    }

    /// Whether moving from `self` to `next` is a legal transition.
    pub fn can_go_to(self, next: State) -> bool {
        use State::*;
        matches!(
            (self, next),
            (Accepted, Queued)
                | (Queued, Leased)
                | (Leased, Queued)
                | (Leased, IinFormed)
                | (Leased, Rejected)
                | (Leased, DeadLettered)
                | (Queued, DeadLettered)
                | (DeadLettered, Queued)
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in State::ALL {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
        assert_eq!(State::parse("accepted"), None);
    }

    #[test]
    fn final_states_have_no_way_out() {
        for from in State::ALL.into_iter().filter(|s| s.is_final()) {
            for to in State::ALL {
                assert!(!from.can_go_to(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn the_happy_path_is_legal() {
        use State::*;
        for pair in [Accepted, Queued, Leased, IinFormed].windows(2) {
            assert!(pair[0].can_go_to(pair[1]));
        }
        assert!(
            Leased.can_go_to(Queued),
            "an expired lease is handed out again"
        );
        assert!(!Accepted.can_go_to(IinFormed));
    }
}
