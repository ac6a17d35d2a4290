//! What keeps a pod's container from starting while the pod reads RUNNING: a stuck host, an
//! image pull refused by Docker Hub's rate limit, a host whose CUDA is below the image's. Each
//! wait is decided at create; they pass in that order, each for its own seconds (or never), and
//! the pod's system log says what the host says, at once and every 10 s while the pod is live.

use std::collections::VecDeque;

use crate::cuda::{self, Version};
use crate::faults::Faults;

/// Seconds between two log lines of the same wait, as a host retrying the start would write.
const RETRY_SECS: u64 = 10;

#[derive(Clone, Debug)]
enum Wait {
    /// A stuck host: no container, nothing said.
    Host,
    /// Docker Hub's anonymous pull limit.
    Pull { image: String },
    /// `nvidia-container-cli` refuses an image built for a newer CUDA than the host's driver.
    Cuda { need: Version },
}

impl Wait {
    fn name(&self) -> &'static str {
        match self {
            Wait::Host => "host",
            Wait::Pull { .. } => "pull",
            Wait::Cuda { .. } => "cuda",
        }
    }

    /// The host's log line on try `n` (0 first); `None` for a wait that says nothing.
    fn line(&self, n: u64) -> Option<String> {
        match self {
            Wait::Host => None,
            Wait::Pull { image } if n == 0 => Some(format!(
                "error pulling image \"{image}\": toomanyrequests: You have reached your pull rate \
                 limit. You may increase the limit by authenticating and upgrading: \
                 https://www.docker.com/increase-rate-limit"
            )),
            Wait::Pull { image } => Some(format!("back-off pulling image \"{image}\"")),
            Wait::Cuda { need } => Some(format!(
                "error starting container: Error response from daemon: failed to create task for \
                 container: failed to create shim task: OCI runtime create failed: runc create \
                 failed: unable to start container process: error during container init: error \
                 running hook #0: error running hook: exit status 1, stdout: , stderr: \
                 nvidia-container-cli: requirement error: unsatisfied condition: cuda>={}, please \
                 update your driver to a newer version, or use an earlier cuda container: unknown",
                cuda::show(*need)
            )),
        }
    }
}

#[derive(Clone, Debug)]
struct Pending {
    wait: Wait,
    /// How long it lasts once it is the current wait; `None`: while the pod exists.
    secs: Option<u64>,
}

/// A pod's waits, the first one current.
#[derive(Clone, Debug, Default)]
pub(crate) struct Waits {
    queue: VecDeque<Pending>,
    /// When the current wait began.
    since: u64,
    /// When the current wait logs its next line.
    next_line: u64,
    /// Lines the current wait has logged.
    tries: u64,
}

impl Waits {
    /// The waits of a pod created now with these faults, this image and on this host.
    pub(crate) fn at_create(f: &Faults, image: &str, host: &str, now: u64) -> Waits {
        let mut queue = VecDeque::new();
        if let Some(secs) = f.no_container_secs {
            queue.push_back(Pending {
                wait: Wait::Host,
                secs: Some(secs),
            });
        }
        if let Some(p) = f.pull_backoff {
            let image = image.to_owned();
            queue.push_back(Pending {
                wait: Wait::Pull { image },
                secs: p.secs,
            });
        }
        let host = cuda::parse(host);
        if let Some(need) = cuda::image_need(image).filter(|n| host.is_some_and(|h| h < *n)) {
            queue.push_back(Pending {
                wait: Wait::Cuda { need },
                secs: None,
            });
        }
        Waits {
            queue,
            since: now,
            next_line: now,
            tries: 0,
        }
    }

    /// Whether the container cannot start now.
    pub(crate) fn blocked(&self) -> bool {
        !self.queue.is_empty()
    }

    /// What the container waits for: `host`, `pull`, `cuda`; `None` when nothing.
    pub(crate) fn waiting_for(&self) -> Option<&'static str> {
        self.queue.front().map(|p| p.wait.name())
    }

    /// Move to `now`: end the waits whose time is over, and return the lines the host logs now
    /// (only while the pod is live: a stopped pod tries nothing).
    pub(crate) fn step(&mut self, now: u64, live: bool) -> Vec<String> {
        while let Some(front) = self.queue.front() {
            match front.secs {
                Some(secs) if now >= self.since + secs => {
                    self.queue.pop_front();
                    self.since = now;
                    self.next_line = now;
                    self.tries = 0;
                }
                _ => break,
            }
        }
        let Some(front) = self.queue.front().filter(|_| live && now >= self.next_line) else {
            return Vec::new();
        };
        let line = front.wait.line(self.tries);
        self.tries += 1;
        self.next_line = now + RETRY_SECS;
        line.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::PullBackoff;

    #[test]
    fn waits_pass_in_order_and_log_every_ten_seconds() {
        let f = Faults {
            no_container_secs: Some(5),
            pull_backoff: Some(PullBackoff { secs: Some(20) }),
            ..Faults::default()
        };
        let mut w = Waits::at_create(&f, "img:cu1281", "12.4", 100);
        assert_eq!(w.waiting_for(), Some("host"));
        assert!(w.step(100, true).is_empty(), "a stuck host says nothing");
        let lines: Vec<(u64, String)> = (101..=140)
            .flat_map(|t| w.step(t, true).into_iter().map(move |l| (t, l)))
            .collect();
        let at: Vec<u64> = lines.iter().map(|(t, _)| *t).collect();
        assert_eq!(at, vec![105, 115, 125, 135]);
        assert!(lines[0].1.contains("toomanyrequests"));
        assert!(
            lines[1]
                .1
                .starts_with("back-off pulling image \"img:cu1281\"")
        );
        assert!(lines[2].1.contains("unsatisfied condition: cuda>=12.8"));
        assert_eq!(w.waiting_for(), Some("cuda"));
        assert!(w.step(200, false).is_empty(), "a stopped pod tries nothing");
        assert!(w.blocked());
    }

    #[test]
    fn a_host_at_or_above_the_image_need_starts_it() {
        let f = Faults::default();
        assert!(!Waits::at_create(&f, "img:cu1281", "12.8", 0).blocked());
        assert!(!Waits::at_create(&f, "img:latest", "12.4", 0).blocked());
        assert!(Waits::at_create(&f, "img:cu1281", "12.4", 0).blocked());
    }
}
