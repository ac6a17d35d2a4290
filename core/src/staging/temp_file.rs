//! A file written beside its destination under a name of its own, and renamed onto it only once
//! complete (and, where its digest is known, once what is on disk matches it).
//!
//! A name derived from the destination alone is shared: `with_extension` maps `adapter.bin` and
//! `adapter.json` to one `adapter.part-<pid>`, and two uploads of one path share `path.part`.
//! Two writers then truncate and interleave one file, and the first rename moves the other's
//! half-written bytes into place. Here each writer gets a fresh random name, created
//! exclusively (`O_EXCL`, so an existing file or link is never opened), and the file is removed
//! on every path that does not keep it.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The most bytes of the destination's name kept in the temporary one, so that the suffix
/// never pushes it past the 255-byte limit on a file name.
const NAME_PREFIX_BYTES: usize = 64;

/// A temporary file beside a destination; removed when dropped unless it was kept.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
    kept: bool,
}

/// Why [`TempFile::persist_checked`] did not keep the file.
#[derive(Debug)]
pub(crate) enum PersistError {
    /// Reading, syncing or renaming failed.
    Io(io::Error),
    /// What is on disk is not what was expected: its size and sha256 (lowercase hex).
    Mismatch { size: u64, sha256: String },
}

impl TempFile {
    /// Creates an empty file in `dest`'s directory, named after `dest` with a random suffix
    /// (`.<name>.<uuid>.part`), exclusively: no other writer, in this process or another,
    /// can have it open.
    pub(crate) fn create_beside(dest: &Path) -> io::Result<(TempFile, File)> {
        let dir = dest.parent().unwrap_or_else(|| Path::new("."));
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut cut = name.len().min(NAME_PREFIX_BYTES);
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut tries = 0;
        loop {
            let path = dir.join(format!(".{}.{}.part", &name[..cut], uuid::Uuid::new_v4()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((TempFile { path, kept: false }, file)),
                // A random 122-bit name already taken is a stale file from a crash at worst.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 3 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Renames the file onto `dest` without checking it.
    pub(crate) fn persist(mut self, dest: &Path) -> io::Result<()> {
        std::fs::rename(&self.path, dest)?;
        self.kept = true;
        Ok(())
    }

    /// Reads the file back from disk and renames it onto `dest` only if it holds `size` bytes
    /// with sha256 `sha256` (hex, any case): a digest of the bytes as they were written says
    /// nothing of what another writer or a full disk left in the file. Removed otherwise.
    pub(crate) fn persist_checked(
        self,
        dest: &Path,
        size: u64,
        sha256: &str,
    ) -> Result<(), PersistError> {
        let (on_disk, digest) = digest_of(&self.path).map_err(PersistError::Io)?;
        if on_disk != size || !digest.eq_ignore_ascii_case(sha256) {
            return Err(PersistError::Mismatch {
                size: on_disk,
                sha256: digest,
            });
        }
        self.persist(dest).map_err(PersistError::Io)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The size and sha256 (lowercase hex) of the file at `path`.
fn digest_of(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, crate::hex::encode(&hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Barrier};

    fn fresh_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("trainpod-temp-file-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        crate::hex::encode(&Sha256::digest(bytes))
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn two_names_that_differ_only_in_extension_are_written_side_by_side() {
        let dir = fresh_dir();
        let bin: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let json = br#"{"r": 16, "target_modules": ["q_proj", "v_proj"]}"#.repeat(2000);
        // Both writers hold their file open at once and write in turns, as two concurrent
        // uploads do.
        let barrier = Arc::new(Barrier::new(2));
        let writers: Vec<_> = [("adapter.bin", bin.clone()), ("adapter.json", json.clone())]
            .into_iter()
            .map(|(name, body)| {
                let (dir, barrier) = (dir.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let dest = dir.join(name);
                    let (temp, mut file) = TempFile::create_beside(&dest).unwrap();
                    barrier.wait();
                    for chunk in body.chunks(4096) {
                        file.write_all(chunk).unwrap();
                        std::thread::yield_now();
                    }
                    file.sync_all().unwrap();
                    barrier.wait();
                    let digest = sha256_hex(&body);
                    temp.persist_checked(&dest, body.len() as u64, &digest)
                        .unwrap();
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(std::fs::read(dir.join("adapter.bin")).unwrap(), bin);
        assert_eq!(std::fs::read(dir.join("adapter.json")).unwrap(), json);
        assert_eq!(listing(&dir), ["adapter.bin", "adapter.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_is_not_what_was_expected_is_never_kept_and_is_removed() {
        let dir = fresh_dir();
        let dest = dir.join("model.safetensors");
        let (temp, mut file) = TempFile::create_beside(&dest).unwrap();
        file.write_all(b"what another writer left").unwrap();
        let err = temp
            .persist_checked(&dest, 5, &sha256_hex(b"hello"))
            .unwrap_err();
        assert!(
            matches!(&err, PersistError::Mismatch { size: 24, sha256 } if *sha256 == sha256_hex(b"what another writer left")),
            "{err:?}"
        );
        assert!(!dest.exists());
        assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
        // Dropped midway (a connection cut): nothing is left either.
        let (temp, mut file) = TempFile::create_beside(&dest).unwrap();
        file.write_all(b"half").unwrap();
        assert_eq!(listing(&dir).len(), 1);
        drop(temp);
        assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
        // A rename that fails (its directory is gone) leaves nothing behind either.
        let (temp, mut file) = TempFile::create_beside(&dest).unwrap();
        file.write_all(b"hello").unwrap();
        let nowhere = dir.join("gone").join("model.safetensors");
        match temp.persist_checked(&nowhere, 5, &sha256_hex(b"hello")) {
            Err(PersistError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::NotFound),
            other => panic!("{other:?}"),
        }
        assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_long_name_keeps_the_temporary_one_within_the_limit() {
        let dir = fresh_dir();
        let dest = dir.join(format!("{}.bin", "é".repeat(120)));
        let (temp, _file) = TempFile::create_beside(&dest).unwrap();
        let name = temp
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(name.len() < 120, "{name}");
        assert!(name.starts_with(".é") && name.ends_with(".part"), "{name}");
        drop(temp);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
