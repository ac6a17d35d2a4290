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
    std::fs::write(&path, crate::runpodctl::script(control_url))?;
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
