//! The sha256 of each staged file, computed once from the open handle and remembered in memory
//! and, when there is one, in the store.
//!
//! The key is the file's identity and version as `fstat` reports them: device, inode, size,
//! modification time and change time (all to the nanosecond). Rewriting a file changes `mtime`
//! and `ctime`; `touch -d` can set `mtime` back but never `ctime`, so a stale digest is never
//! served for changed bytes. There is no sidecar file beside the dataset: a sidecar can go
//! stale or be planted by whoever writes the staging directory, while the store is the app's
//! own. The store keeps the digest for the next process: a fresh serverless instance serves a
//! dataset's first download without reading the whole file first.

use super::safe_path::OpenedFile;
use crate::blocking::blocking;
use crate::error::{Error, ErrorKind, Result};
use crate::store::Store;
use rustix::fs::Stat;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

/// Entries kept in memory before the map is cleared; each is about 100 bytes.
const MAX_ENTRIES: usize = 4096;
const CHUNK: usize = 1 << 20;

/// A file's identity and version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FileKey {
    dev: u64,
    ino: u64,
    size: i64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileKey {
    // The field types of `struct stat` differ between architectures (and backends); widening
    // every one to 64 bits is lossless on all of them.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    pub(crate) fn of(stat: &Stat) -> FileKey {
        FileKey {
            dev: stat.st_dev as u64,
            ino: stat.st_ino as u64,
            size: stat.st_size as i64,
            mtime: (stat.st_mtime as i64, stat.st_mtime_nsec as i64),
            ctime: (stat.st_ctime as i64, stat.st_ctime_nsec as i64),
        }
    }

    /// The store's key: every field, in a fixed order.
    pub(crate) fn text(&self) -> String {
        let FileKey {
            dev,
            ino,
            size,
            mtime,
            ctime,
        } = self;
        format!(
            "{dev}:{ino}:{size}:{}.{:09}:{}.{:09}",
            mtime.0, mtime.1, ctime.0, ctime.1
        )
    }
}

/// Digests by file version.
#[derive(Debug, Default)]
pub(crate) struct DigestCache {
    map: Mutex<HashMap<FileKey, [u8; 32]>>,
    store: Option<Arc<dyn Store>>,
}

impl DigestCache {
    /// A cache that keeps what it computes in `store` too, and looks there before reading.
    pub fn with_store(store: Arc<dyn Store>) -> DigestCache {
        DigestCache {
            map: Mutex::default(),
            store: Some(store),
        }
    }

    /// The sha256 of `opened`: from memory, from the store, or read once on the blocking pool
    /// (then kept in both). The file comes back with it.
    pub async fn get_or_compute(&self, opened: OpenedFile) -> Result<(OpenedFile, [u8; 32])> {
        let key = FileKey::of(&opened.stat);
        if let Some(d) = self.get(&key) {
            return Ok((opened, d));
        }
        if let Some(store) = &self.store
            && let Some(d) = store.dataset_digest(&key.text()).await?
        {
            self.insert(key, d);
            return Ok((opened, d));
        }
        let size = u64::try_from(key.size).unwrap_or(0);
        let (opened, digest) = blocking("hashing the dataset", move || {
            let digest = sha256_of(&opened.file, size)?;
            Ok((opened, digest))
        })
        .await?;
        self.keep(key, digest).await;
        Ok((opened, digest))
    }

    /// The sha256 of `opened` from memory, else read here, on the calling thread (for the pod
    /// script, made synchronously once its caller warmed the digest).
    pub fn get_or_hash_here(&self, opened: &OpenedFile) -> Result<[u8; 32]> {
        let key = FileKey::of(&opened.stat);
        if let Some(d) = self.get(&key) {
            return Ok(d);
        }
        let digest = sha256_of(&opened.file, u64::try_from(key.size).unwrap_or(0))?;
        self.insert(key, digest);
        Ok(digest)
    }

    /// Keeps `digest`, hashed from `file`'s start by another reader (plan's inspection), when
    /// the file is still at `stat`'s version, taken when it was opened: a file changed while it
    /// was read is simply hashed again when it is next needed.
    pub async fn seed(&self, file: &File, stat: &Stat, digest: [u8; 32]) {
        let Ok(now) = rustix::fs::fstat(file) else {
            return;
        };
        if FileKey::of(&now) == FileKey::of(stat) {
            self.keep(FileKey::of(stat), digest).await;
        }
    }

    fn get(&self, key: &FileKey) -> Option<[u8; 32]> {
        self.lock().get(key).copied()
    }

    /// Remembers a digest in memory and in the store. A store that fails to keep it costs only
    /// a hash in some later process, so the failure does not fail the download.
    async fn keep(&self, key: FileKey, digest: [u8; 32]) {
        self.insert(key, digest);
        if let Some(store) = &self.store {
            let _ = store.keep_dataset_digest(&key.text(), &digest).await;
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
    use crate::store::MemoryStore;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (std::path::PathBuf, OpenedFile) {
        let path = std::env::temp_dir().join(format!("trainpod-digest-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, bytes).unwrap();
        let file = File::open(&path).unwrap();
        let stat = rustix::fs::fstat(&file).unwrap();
        (path, OpenedFile { file, stat })
    }

    #[tokio::test]
    async fn a_seeded_digest_is_served_without_reading_the_file() {
        let (path, opened) = file_with(b"rows");
        let cache = DigestCache::default();
        // A digest the file does not have: served as it was seeded, so the file was not read.
        cache.seed(&opened.file, &opened.stat, [7; 32]).await;
        assert_eq!(cache.get_or_compute(opened).await.unwrap().1, [7; 32]);
        std::fs::remove_file(path).unwrap();
    }

    #[tokio::test]
    async fn a_digest_for_an_earlier_version_is_not_kept() {
        let (path, opened) = file_with(b"rows");
        let before = opened.stat;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b" more")
            .unwrap();
        let cache = DigestCache::default();
        cache.seed(&opened.file, &before, [7; 32]).await;
        let now = OpenedFile {
            stat: rustix::fs::fstat(&opened.file).unwrap(),
            file: opened.file,
        };
        let digest: [u8; 32] = Sha256::digest(b"rows more").into();
        assert_eq!(cache.get_or_compute(now).await.unwrap().1, digest);
        std::fs::remove_file(path).unwrap();
    }

    #[tokio::test]
    async fn a_new_process_finds_the_digest_in_the_store() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let (path, opened) = file_with(b"rows");
        let key = FileKey::of(&opened.stat).text();
        let first = DigestCache::with_store(store.clone());
        let (opened, digest) = first.get_or_compute(opened).await.unwrap();
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(b"rows")));
        assert_eq!(store.dataset_digest(&key).await.unwrap(), Some(digest));
        // A digest the file does not have, planted in another store: a fresh cache over it
        // serves it, so it read the store, not the file.
        let planted: Arc<dyn Store> = Arc::new(MemoryStore::new());
        planted.keep_dataset_digest(&key, &[9; 32]).await.unwrap();
        let fresh = DigestCache::with_store(planted);
        assert_eq!(fresh.get_or_compute(opened).await.unwrap().1, [9; 32]);
        std::fs::remove_file(path).unwrap();
    }
}
