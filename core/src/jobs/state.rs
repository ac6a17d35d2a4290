//! The job lifecycle: queued → provisioning → starting → downloading → training → uploading →
//! succeeded, or failed / cancelled / timed_out / over_budget. Progress only moves forward, and a
//! final state is final: a late or replayed event can never reopen a job.

use std::fmt;

use crate::error::{Error, ErrorKind, Result};

/// Where a job is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Recorded, no pod asked for yet.
    Queued,
    /// The pod is being created or its image pulled.
    Provisioning,
    /// The pod runs its preflight and installs dependencies.
    Starting,
    /// The pod fetches the dataset.
    Downloading,
    /// Training.
    Training,
    /// Uploading artifacts.
    Uploading,
    /// Done, artifacts confirmed.
    Succeeded,
    /// Ended by an error.
    Failed,
    /// Ended on request.
    Cancelled,
    /// Ended at its deadline.
    TimedOut,
    /// Ended because its cost reached the budget.
    OverBudget,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 11] = [
        JobState::Queued,
        JobState::Provisioning,
        JobState::Starting,
        JobState::Downloading,
        JobState::Training,
        JobState::Uploading,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
        JobState::TimedOut,
        JobState::OverBudget,
    ];

    /// The stable name: `queued`, `training`, `timed_out`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Provisioning => "provisioning",
            JobState::Starting => "starting",
            JobState::Downloading => "downloading",
            JobState::Training => "training",
            JobState::Uploading => "uploading",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::TimedOut => "timed_out",
            JobState::OverBudget => "over_budget",
        }
    }

    /// Parses a stable name.
    pub fn parse(name: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the job has ended.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded
                | JobState::Failed
                | JobState::Cancelled
                | JobState::TimedOut
                | JobState::OverBudget
        )
    }

    /// Whether `self → next` is legal: forward along the lifecycle (staying put is a no-op), or
    /// to any final state from any live one. Nothing leaves a final state.
    pub fn can_move_to(self, next: JobState) -> bool {
        if self.is_final() {
            return false;
        }
        next.is_final() || next >= self
    }

    /// `next` when the move is legal, else `INVALID_STATE` naming both states.
    pub fn move_to(self, next: JobState) -> Result<JobState> {
        if self.can_move_to(next) {
            Ok(next)
        } else {
            Err(Error::new(
                ErrorKind::InvalidState,
                format!(
                    "a job cannot move from {self} to {next}{}",
                    if self.is_final() {
                        "; it has ended (retry starts a new attempt)"
                    } else {
                        ""
                    }
                ),
            ))
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::JobState::{self, *};

    #[test]
    fn names_round_trip() {
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobState::parse("running"), None);
    }

    #[test]
    fn the_lifecycle_moves_forward_and_ends_once() {
        let path = [
            Queued,
            Provisioning,
            Starting,
            Downloading,
            Training,
            Uploading,
            Succeeded,
        ];
        for pair in path.windows(2) {
            assert_eq!(pair[0].move_to(pair[1]).unwrap(), pair[1]);
        }
        assert!(
            Training.can_move_to(Training),
            "a repeated stage is a no-op"
        );
        assert!(
            !Training.can_move_to(Downloading),
            "progress never goes back"
        );
        for end in [Failed, Cancelled, TimedOut, OverBudget] {
            assert!(Provisioning.can_move_to(end));
            for next in JobState::ALL {
                let err = end.move_to(next).unwrap_err();
                assert_eq!(err.kind(), crate::ErrorKind::InvalidState);
                assert!(err.to_string().contains("retry"), "{err}");
            }
        }
    }
}
