//! Process groups as the local provider sees them.

use rustix::process::{Pid, test_kill_process_group};

/// Whether a process group still has a member that is not a zombie. Orphans that die are
/// reparented to an init that may never reap them, so a zombie counts as gone.
pub(super) fn group_alive(pgid: Pid) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return test_kill_process_group(pgid).is_ok();
    };
    let want = pgid.as_raw_nonzero().get();
    dir.flatten().any(|entry| {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return false;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
        state != Some("Z") && pgrp == Some(want)
    })
}

/// SIGKILLs every process started for `pod_id`: everything in a container dies with it, also
/// what left the container's process group (`setsid`). They are known by the `RUNPOD_POD_ID`
/// every process of the pod inherits (`/proc/<pid>/environ` is the environment it started with).
pub(super) fn kill_container(pod_id: &str) {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    let marker = format!("RUNPOD_POD_ID={pod_id}");
    let me = std::process::id();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|p| *p != me)
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let ours = environ
            .split(|b| *b == 0)
            .any(|var| var == marker.as_bytes());
        if let Some(pid) = ours
            .then(|| i32::try_from(pid).ok().and_then(Pid::from_raw))
            .flatten()
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}
