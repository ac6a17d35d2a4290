//! The local provider's directories: its own temporary ones, the `runpodctl` stand-in, and the
//! wipe of a workspace, which stands in for the container disk.

use std::path::{Path, PathBuf};

use super::LOG_FILE;

/// A fresh directory of this process under the system temporary directory.
pub(super) fn temp_dir(kind: &str) -> std::io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let name = format!(
        "trainpod-emulator-{kind}{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let dir = std::env::temp_dir().join(name);
    // A leftover of an earlier process with the same id.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Write the `runpodctl` stand-in, calling the emulator at `control_url`, into `bin`.
pub(super) fn install_runpodctl(bin: &Path, control_url: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = bin.join("runpodctl");
    std::fs::write(&path, runpodctl_script(control_url))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
}

/// The container disk does not survive a new start: everything in the workspace goes but the
/// emulator's own log file.
pub(super) fn wipe(workspace: &Path) {
    let Ok(entries) = std::fs::read_dir(workspace) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name() == LOG_FILE {
            continue;
        }
        // A link is removed, not followed.
        let _ = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(entry.path())
        } else {
            std::fs::remove_file(entry.path())
        };
    }
}

/// The stand-in, for a pod's `PATH`: POSIX `sh` and curl. It prints the answer's `out:` lines on
/// stdout and `err:` lines on stderr, and exits 0 only when the emulator says the command
/// succeeded.
fn runpodctl_script(url: &str) -> String {
    format!(
        r#"#!/bin/sh
# runpodctl, as the trainpod emulator's local provider puts it on every pod's PATH: the
# arguments go, with the pod's RUNPOD_API_KEY, to the emulator, which acts as RunPod would.
json='{{"args":['
sep=
for arg in "$@"; do
  esc=$(printf '%s' "$arg" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
  json="$json$sep\"$esc\""
  sep=,
done
json="$json]}}"
reply=$(curl -sS -w '\n%{{http_code}}' -X POST -H "Authorization: Bearer ${{RUNPOD_API_KEY:-}}" \
  -H 'Content-Type: application/json' --data "$json" '{url}') || {{
  echo 'runpodctl: the RunPod API could not be reached' >&2
  exit 1
}}
code=$(printf '%s\n' "$reply" | tail -n 1)
body=$(printf '%s\n' "$reply" | sed '$d')
printf '%s\n' "$body" | sed -n 's/^out://p'
printf '%s\n' "$body" | sed -n 's/^err://p' >&2
[ "$code" = 200 ]
"#
    )
}
