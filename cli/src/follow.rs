//! `trainpod follow`: a job to its end. At a terminal, one progress bar redrawn in place with
//! each stage on a line of its own; piped, a line per stage and per step; with `--json`, each
//! update core's `follow` gives as a JSON line (`{"kind":"status",...}` or `{"kind":"event",...}`).

use std::io::{IsTerminal, Write};

use trainpod::Result;
use trainpod::jobs::JobState;
use trainpod::sdk::{FollowUpdate, JobStatus, Trainpod};

use crate::output::{out, outln};
use crate::{exit, output};

const BAR_WIDTH: usize = 24;

/// Follows `job` until it ends: exit 0 when it succeeded, 7 otherwise.
pub async fn run(tp: &Trainpod, job: &str, json: bool) -> Result<u8> {
    let mut human = Human {
        tty: std::io::stdout().is_terminal(),
        drawn: false,
    };
    let mut follow = tp.follow(job);
    let mut last: Option<JobStatus> = None;
    while let Some(update) = follow.next().await? {
        if json {
            output::json(&update);
        } else {
            human.show(&update, last.as_ref());
        }
        if let FollowUpdate::Status(s) = update {
            last = Some(s);
        }
    }
    human.end();
    let last = match last {
        Some(s) => s,
        None => tp.status(job).await?,
    };
    if !json {
        summary(&last);
    }
    Ok(if last.state == JobState::Succeeded {
        exit::OK
    } else {
        exit::JOB_FAILED
    })
}

/// Text for a person: at a terminal one bar redrawn in place, stages on lines of their own;
/// piped, a line per stage and per change of state or step (a heartbeat alone is no news).
struct Human {
    tty: bool,
    /// The bar is on the current line.
    drawn: bool,
}

impl Human {
    fn show(&mut self, update: &FollowUpdate, last: Option<&JobStatus>) {
        let line = match update {
            FollowUpdate::Event(e) if e["type"] == "stage" => {
                Some(format!("stage {}", e["stage"].as_str().unwrap_or("?")))
            }
            FollowUpdate::Status(s) if !self.tty && last.is_none_or(|l| news(l, s)) => {
                Some(output::status_line(s))
            }
            _ => None,
        };
        if let Some(line) = line {
            self.end();
            outln!("{line}");
        }
        if let (true, FollowUpdate::Status(s)) = (self.tty, update) {
            out!(
                "\r\x1b[2K{} {}",
                output::bar(s.progress, BAR_WIDTH),
                output::status_line(s)
            );
            let _ = std::io::stdout().flush();
            self.drawn = true;
        }
    }

    /// Off the bar's line.
    fn end(&mut self) {
        if self.drawn {
            outln!();
            self.drawn = false;
        }
    }
}

fn news(last: &JobStatus, now: &JobStatus) -> bool {
    (last.state, last.attempt, last.step) != (now.state, now.attempt, now.step)
}

fn summary(s: &JobStatus) {
    if s.state == JobState::Succeeded {
        outln!("job {} succeeded; cost ${:.4}", s.job_id, s.cost_usd);
        return;
    }
    outln!(
        "job {} {} at stage {} (reason {}): {}",
        s.job_id,
        s.state,
        if s.stage.is_empty() { "-" } else { &s.stage },
        if s.reason.is_empty() { "-" } else { &s.reason },
        s.cause
    );
    outln!("see its log tail with: trainpod status {}", s.job_id);
}
