//! Exit codes, by what a script would do next: one per group of core's error kinds.

use std::process::ExitCode;

use trainpod::{ErrorGroup, ErrorKind};

/// Done.
pub const OK: u8 = 0;
/// A bug or a broken install (core's `INTERNAL`, `STORE_SCHEMA`).
pub const INTERNAL: u8 = 1;
/// The command line was wrong (unknown flag, missing argument).
pub const USAGE: u8 = 2;
/// Something given is invalid: a flag's value, the job spec, the dataset, the config file.
pub const INVALID_INPUT: u8 = 3;
/// The RunPod key or account: refused, too little access, no balance.
pub const AUTH: u8 = 4;
/// No such job, or not in a state that allows it (deploy an ended job, cancel a gone one).
pub const STATE: u8 = 5;
/// RunPod or the store is busy, out of capacity or out of reach: the same command may work
/// later.
pub const UNAVAILABLE: u8 = 6;
/// `follow` (or `deploy --follow`) saw the job end other than succeeded.
pub const JOB_FAILED: u8 = 7;

/// The table `--help` and docs/cli.md show.
pub const TABLE: &str = "\
Exit codes:
  0  ok
  1  internal error (a bug, or a store of another version)
  2  usage: unknown flag or missing argument
  3  invalid input: a flag's value, the job spec, the dataset, the config file
  4  auth: the RunPod key is missing, refused or lacks access; no balance
  5  not found or wrong state: no such job, or it cannot do that now
  6  unavailable: RunPod capacity, rate limit, server, network or store; try again
  7  the followed job ended without succeeding (failed, cancelled, ...)";

/// The exit code of an error of `kind`.
pub fn code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::StoreSchema | ErrorKind::Internal => INTERNAL,
        ErrorKind::NotFound | ErrorKind::InvalidState | ErrorKind::SequenceConflict => STATE,
        ErrorKind::AuthInvalid
        | ErrorKind::CredentialsUnavailable
        | ErrorKind::InsufficientBalance
        | ErrorKind::Forbidden => AUTH,
        k if k.is_retryable() => UNAVAILABLE,
        k => match k.group() {
            ErrorGroup::Token => AUTH,
            ErrorGroup::InvalidInput | ErrorGroup::Dataset | ErrorGroup::Webhook => INVALID_INPUT,
            _ => INTERNAL,
        },
    }
}

pub fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_documented_code_and_none_is_usage_or_success() {
        for &kind in ErrorKind::ALL {
            let c = code(kind);
            assert!(TABLE.contains(&format!("\n  {c}  ")), "{kind:?} -> {c}");
            assert!(![OK, USAGE, JOB_FAILED].contains(&c), "{kind:?} -> {c}");
        }
        assert_eq!(code(ErrorKind::CapacityUnavailable), UNAVAILABLE);
        assert_eq!(code(ErrorKind::StoreUnavailable), UNAVAILABLE);
        assert_eq!(code(ErrorKind::DatasetNotFound), INVALID_INPUT);
        assert_eq!(code(ErrorKind::TokenExpired), AUTH);
    }
}
