//! The sha256 of each staged file, computed once from the open handle and cached in memory.
//!
//! The cache key is the file's identity and version as `fstat` reports them: device, inode,
//! size, modification time and change time (all to the nanosecond). Rewriting a file changes
//! `mtime` and `ctime`; `touch -d` can set `mtime` back but never `ctime`, so a stale digest is
//! never served for changed bytes. There is no sidecar file: a sidecar can go stale or be
//! planted, while the cache is rebuilt by one read after a restart (or warmed at upload time
//! with [`super::AppStaging::digest`]).

use crate::error::{Error, ErrorKind, Result};
use rustix::fs::Stat;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

/// Entries kept before the cache is cleared; each is about 100 bytes.
const MAX_ENTRIES: usize = 4096;
const CHUNK: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FileKey {
    dev: u64,
    ino: u64,
    size: i64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

// The field types of `struct stat` differ between architectures (and backends); widening every
// one to 64 bits is lossless on all of them.
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn key(stat: &Stat) -> FileKey {
    FileKey {
        dev: stat.st_dev as u64,
        ino: stat.st_ino as u64,
        size: stat.st_size as i64,
        mtime: (stat.st_mtime as i64, stat.st_mtime_nsec as i64),
        ctime: (stat.st_ctime as i64, stat.st_ctime_nsec as i64),
    }
}

/// Digests by file version.
#[derive(Debug, Default)]
pub(crate) struct DigestCache {
    map: Mutex<HashMap<FileKey, [u8; 32]>>,
}

impl DigestCache {
    /// The sha256 of `file` (whose `fstat` is `stat`), from the cache or read once.
    pub fn get_or_compute(&self, file: &File, stat: &Stat) -> Result<[u8; 32]> {
        let key = key(stat);
        if let Some(d) = self.lock().get(&key) {
            return Ok(*d);
        }
        // Hashed outside the lock: a first request for a large file must not stall the others.
        let digest = sha256_of(file, u64::try_from(key.size).unwrap_or(0))?;
        self.insert(key, digest);
        Ok(digest)
    }

    /// Keeps `digest`, hashed from `file`'s start by another reader (plan's inspection), when
    /// the file is still at `stat`'s version, taken when it was opened: a file changed while it
    /// was read is simply hashed again when it is next needed.
    pub fn seed(&self, file: &File, stat: &Stat, digest: [u8; 32]) {
        let Ok(now) = rustix::fs::fstat(file) else {
            return;
        };
        if key(&now) == key(stat) {
            self.insert(key(stat), digest);
        }
    }

    fn insert(&self, key: FileKey, digest: [u8; 32]) {
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, digest);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FileKey, [u8; 32]>> {
        // A panic while holding the lock cannot leave the map inconsistent: keep using it.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// sha256 of the first `size` bytes of `file`, read with `pread` in 1 MiB chunks (constant
/// memory; the shared file offset is never moved).
fn sha256_of(file: &File, size: u64) -> Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut pos = 0u64;
    while pos < size {
        let want = usize::try_from(size - pos).map_or(CHUNK, |r| r.min(CHUNK));
        let n = file.read_at(&mut buf[..want], pos).map_err(read_error)?;
        if n == 0 {
            return Err(Error::new(
                ErrorKind::DatasetNotFound,
                "the dataset file shrank while it was hashed; stage it again",
            ));
        }
        hasher.update(&buf[..n]);
        pos += n as u64;
    }
    Ok(hasher.finalize().into())
}

pub(crate) fn read_error(e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Internal,
        "the dataset file could not be read; check the staging disk",
    )
    .with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (std::path::PathBuf, File) {
        let path = std::env::temp_dir().join(format!("trainpod-digest-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, bytes).unwrap();
        let file = File::open(&path).unwrap();
        (path, file)
    }

    #[test]
    fn a_seeded_digest_is_served_without_reading_the_file() {
        let (path, file) = file_with(b"rows");
        let stat = rustix::fs::fstat(&file).unwrap();
        let cache = DigestCache::default();
        // A digest the file does not have: served as it was seeded, so the file was not read.
        cache.seed(&file, &stat, [7; 32]);
        assert_eq!(cache.get_or_compute(&file, &stat).unwrap(), [7; 32]);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_digest_for_an_earlier_version_is_not_kept() {
        let (path, file) = file_with(b"rows");
        let before = rustix::fs::fstat(&file).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b" more")
            .unwrap();
        let cache = DigestCache::default();
        cache.seed(&file, &before, [7; 32]);
        let now = rustix::fs::fstat(&file).unwrap();
        let digest: [u8; 32] = Sha256::digest(b"rows more").into();
        assert_eq!(cache.get_or_compute(&file, &now).unwrap(), digest);
        std::fs::remove_file(path).unwrap();
    }
}
