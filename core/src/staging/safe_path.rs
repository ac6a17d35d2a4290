//! Opening a dataset file beneath the staging root, never outside it.
//!
//! The root is opened once as a directory handle; each dataset is then opened relative to that
//! handle with Linux `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
//! RESOLVE_NO_XDEV)`: the kernel refuses `..`, absolute paths, every symlink and mount crossings
//! while it resolves, so there is no check-then-open race. Where `openat2` is unavailable
//! (kernels before 5.6, seccomp filters that deny it, other Unixes) the fallback is `openat` with
//! `O_NOFOLLOW`, which is as strict here because a valid id is exactly one path component.
//!
//! Before and after opening, the entry must be a regular file with one link: a hard link inside
//! the root to a file elsewhere is the one escape that path resolution cannot see, so files with
//! more than one link are refused unless the app allows them.

use super::id::check_dataset_id;
use crate::error::{Error, ErrorKind, Result};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// A directory handle to the staging root, opened once.
#[derive(Debug)]
pub(crate) struct RootDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// A dataset file opened beneath the root, with the `fstat` of the open handle.
#[derive(Debug)]
pub(crate) struct OpenedFile {
    pub file: File,
    pub stat: Stat,
}

impl RootDir {
    /// Open `path` as the root. The path itself is trusted configuration and may be a symlink;
    /// what matters is that every later open is relative to this handle.
    pub fn open(path: &Path) -> Result<RootDir> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| {
            Error::invalid_input(format!(
                "the staging root {} cannot be opened as a directory ({e}); create it or fix the path",
                path.display()
            ))
        })?;
        Ok(RootDir {
            fd,
            path: path.to_owned(),
        })
    }

    /// The root's path, as configured (for messages and the bindings).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open dataset `id` for reading, beneath the root, refusing anything but a plain file.
    ///
    /// The entry is first looked at without following it (`fstatat(AT_SYMLINK_NOFOLLOW)`), so a
    /// symlink, hard link, FIFO or device is refused without ever being opened; then it is
    /// opened beneath the root and the open handle's `fstat` must show the same plain file,
    /// which closes the race of the entry being swapped in between.
    pub fn open_dataset(&self, id: &str, allow_hardlinks: bool) -> Result<OpenedFile> {
        let id = check_dataset_id(id)?;
        let seen = rustix::fs::statat(&self.fd, id, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| open_error(id, e))?;
        check_plain(id, &seen, allow_hardlinks)?;
        let fd = self.open_beneath(id).map_err(|e| open_error(id, e))?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| io_error(id, e))?;
        check_plain(id, &stat, allow_hardlinks)?;
        if (stat.st_dev, stat.st_ino) != (seen.st_dev, seen.st_ino) {
            return Err(unsafe_path(id, "was replaced while it was being opened"));
        }
        Ok(OpenedFile {
            file: File::from(fd),
            stat,
        })
    }

    // O_NONBLOCK: opening a FIFO planted in the root must not hang the request; it is then
    // refused as not a regular file. O_NOCTTY: a terminal device must never become ours.
    fn flags() -> OFlags {
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn open_beneath(&self, id: &str) -> rustix::io::Result<OwnedFd> {
        use rustix::fs::ResolveFlags;
        let resolve = ResolveFlags::BENEATH
            | ResolveFlags::NO_SYMLINKS
            | ResolveFlags::NO_MAGICLINKS
            | ResolveFlags::NO_XDEV;
        match rustix::fs::openat2(&self.fd, id, Self::flags(), Mode::empty(), resolve) {
            // No openat2 here (old kernel, or a sandbox that denies it): fall back, see above.
            Err(Errno::NOSYS | Errno::PERM) => self.open_one_component(id),
            other => other,
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn open_beneath(&self, id: &str) -> rustix::io::Result<OwnedFd> {
        self.open_one_component(id)
    }

    fn open_one_component(&self, id: &str) -> rustix::io::Result<OwnedFd> {
        debug_assert!(!id.contains('/') && id != "." && id != "..");
        rustix::fs::openat(&self.fd, id, Self::flags(), Mode::empty())
    }
}

/// A regular file with one link (unless hard links are allowed).
fn check_plain(id: &str, stat: &Stat, allow_hardlinks: bool) -> Result<()> {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => {}
        FileType::Symlink => return Err(unsafe_path(id, "is a symbolic link")),
        _ => return Err(unsafe_path(id, "is not a regular file")),
    }
    if stat.st_nlink > 1 && !allow_hardlinks {
        return Err(unsafe_path(
            id,
            "has more than one hard link (it may be a file from outside the root)",
        ));
    }
    Ok(())
}

fn open_error(id: &str, e: Errno) -> Error {
    match e {
        Errno::NOENT | Errno::NOTDIR => Error::new(
            ErrorKind::DatasetNotFound,
            format!(
                "no dataset {id} is staged (it may have been deleted after its URL was issued); \
                 stage it again and issue a new URL"
            ),
        ),
        // ELOOP: a symlink (RESOLVE_NO_SYMLINKS / O_NOFOLLOW); EXDEV: a mount crossing or an
        // escape attempt (RESOLVE_NO_XDEV / RESOLVE_BENEATH); ENXIO: a socket or unready device.
        Errno::LOOP | Errno::XDEV | Errno::NXIO => {
            unsafe_path(id, "is a symbolic link, another mount or a special file")
        }
        e => io_error(id, e),
    }
}

fn io_error(id: &str, e: Errno) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!(
            "the dataset file {id} could not be opened ({e}); check the staging root's permissions"
        ),
    )
}

fn unsafe_path(id: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::DatasetPathUnsafe,
        format!(
            "the dataset file {id} {why}; trainpod serves only plain files beneath the staging root"
        ),
    )
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::symlink;

    /// The kernel layer alone, as if the id check were bypassed: multi-component paths that
    /// leave the root are refused by `openat2` itself.
    #[test]
    fn openat2_refuses_every_escape_even_without_the_id_check() {
        let base = std::env::temp_dir().join(format!("trainpod-beneath-{}", uuid::Uuid::new_v4()));
        let (root, outside) = (base.join("root"), base.join("outside"));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), b"secret").unwrap();
        std::fs::write(root.join("sub/f"), b"ok").unwrap();
        symlink("../outside", root.join("dirlink")).unwrap();
        symlink(outside.join("secret"), root.join("abslink")).unwrap();
        let dir = RootDir::open(&root).unwrap();
        assert!(dir.open_beneath("sub/f").is_ok());
        let secret = outside.join("secret");
        for path in [
            "../outside/secret",
            "sub/../../outside/secret",
            secret.to_str().unwrap(),
            "/etc/passwd",
            "dirlink/secret",
            "abslink",
            "/proc/self/root/etc/passwd",
        ] {
            let err = dir.open_beneath(path).unwrap_err();
            assert!(matches!(err, Errno::XDEV | Errno::LOOP), "{path}: {err}");
        }
        std::fs::remove_dir_all(base).unwrap();
    }
}
