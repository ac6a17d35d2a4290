//! Artifacts uploaded to the app (`docs/pod-protocol.md`, kind `app`): the pod posts a manifest,
//! PUTs each file, then confirms. Files are kept under `<artifacts dir>/<job>/<attempt>/files/`,
//! written to a temporary file of their own beside them (two uploads never share one, whatever
//! their names) and renamed once what is on disk matches their sha256, so a half-written or
//! mixed file is never taken for a finished one.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::deploy::VOLUME_ARTIFACTS;
use super::stored_plan::JobConfig;
use super::{Routes, Trainpod, blocking};
use crate::error::{Error, ErrorKind, Result};
use crate::staging::VolumeStaging;
use crate::staging::temp_file::{PersistError, TempFile};
use crate::store::JobRecord;
use crate::token::{Claims, Expect, Purpose};

/// The most files one job may upload.
pub const MAX_ARTIFACT_FILES: usize = 1000;
/// The largest manifest body, bytes.
pub const MAX_MANIFEST_BYTES: usize = 256 * 1024;

/// One artifact file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ArtifactFile {
    /// Path relative to the output directory (`adapter/adapter_model.safetensors`).
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// sha256, lowercase hex.
    pub sha256: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    job: String,
    attempt: u32,
    files: Vec<ArtifactFile>,
    #[serde(default)]
    complete: bool,
    /// A checkpoint's manifest, with the optimizer step it was saved at; absent for the final
    /// artifacts.
    #[serde(default)]
    checkpoint: Option<u64>,
}

/// Where a checkpoint's files are under the artifacts route: `checkpoints/<attempt>/<step>/`.
const CHECKPOINTS: &str = "checkpoints";

/// A checkpoint file the app keeps, for the pod of a later attempt to fetch
/// ([`Trainpod::checkpoint_file`]): serve `path` (a file on the app's disk) as the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointDownload {
    /// The file to send.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
}

/// The newest checkpoint an earlier attempt of a job kept whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeptCheckpoint {
    pub attempt: u32,
    pub step: u64,
    pub files: Vec<ArtifactFile>,
}

/// `checkpoints/<attempt>/<step>/<file>` split into its parts.
fn checkpoint_parts(path: &str) -> Option<(u32, u64, &str)> {
    let rest = path.strip_prefix(CHECKPOINTS)?.strip_prefix('/')?;
    let (attempt, rest) = rest.split_once('/')?;
    let (step, file) = rest.split_once('/')?;
    Some((attempt.parse().ok()?, step.parse().ok()?, file))
}

/// What the artifacts route answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactsAnswer {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

/// An artifact file being received: write its bytes, then `finish`. Dropped before `finish`
/// (the connection cut, the route thrown), it leaves no temporary file behind. Writing, syncing
/// and hashing run on tokio's blocking threads, so a binding's route thread never waits on the
/// disk.
#[derive(Debug)]
pub struct ArtifactUpload {
    file: Option<std::fs::File>,
    temp: TempFile,
    dest: PathBuf,
    expected: ArtifactFile,
    written: u64,
}

impl ArtifactUpload {
    /// Appends a chunk of the body.
    pub async fn write(&mut self, chunk: Vec<u8>) -> Result<()> {
        self.written += chunk.len() as u64;
        if self.written > self.expected.size {
            return Err(Error::invalid_input(format!(
                "artifact {} is larger than the {} bytes its manifest declared",
                self.expected.path, self.expected.size
            )));
        }
        let mut file = self.file.take().ok_or_else(interrupted)?;
        let file = blocking("writing an artifact", move || {
            file.write_all(&chunk).map_err(io_error)?;
            Ok(file)
        })
        .await?;
        self.file = Some(file);
        Ok(())
    }

    /// Checks the size and sha256 of what is on disk against the manifest and keeps the file.
    pub async fn finish(self) -> Result<ArtifactFile> {
        let ArtifactUpload {
            file,
            temp,
            dest,
            expected,
            ..
        } = self;
        let file = file.ok_or_else(interrupted)?;
        blocking("checking an artifact", move || {
            file.sync_all().map_err(io_error)?;
            drop(file);
            match temp.persist_checked(&dest, expected.size, &expected.sha256) {
                Ok(()) => Ok(expected),
                Err(PersistError::Mismatch { size, sha256 }) => Err(Error::invalid_input(format!(
                    "artifact {} arrived with {size} bytes and sha256 {sha256}, not what its \
                         manifest declared; upload it again",
                    expected.path
                ))),
                Err(PersistError::Io(e)) => Err(io_error(e)),
            }
        })
        .await
    }
}

/// A write that failed part-way (its task died) leaves no file to go on with.
fn interrupted() -> Error {
    Error::new(
        ErrorKind::Internal,
        "an earlier write of this artifact failed; upload the file again",
    )
}

fn io_error(e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Internal,
        "the artifacts directory could not be written; check its permissions and free space",
    )
    .with_source(e)
}

/// What an artifact path a pod names must be: relative, made of normal components of
/// `[A-Za-z0-9._-]`, so that it never leaves the artifacts directory.
pub fn check_artifact_path(path: &str) -> Result<()> {
    let components: Vec<Component<'_>> = Path::new(path).components().collect();
    let safe = !path.is_empty()
        && path.len() <= 512
        && components.iter().all(|c| matches!(c, Component::Normal(_)))
        && path.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if safe {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "artifact path {:?} is not allowed: use relative paths of letters, digits, '.', '_' and '-'",
            path.chars().take(80).collect::<String>()
        )))
    }
}

impl Trainpod {
    fn artifacts_root(&self) -> Result<&Path> {
        self.artifacts_dir.as_deref().ok_or_else(|| {
            Error::invalid_input(
                "artifacts need artifacts_dir(...) on the builder: where uploads are kept",
            )
        })
    }

    fn attempt_dir(&self, job: &str, attempt: u32) -> Result<PathBuf> {
        Ok(self.artifacts_root()?.join(job).join(attempt.to_string()))
    }

    /// Verifies the pod's `artifacts.write` token for this job, then the job: it exists, is the
    /// token's user's and attempt, and is live or ended less than
    /// [`super::ARTIFACT_UPLOAD_GRACE_SECS`] ago (`Trainpod::job_for_route`).
    async fn artifact_claims(
        &self,
        job_id: &str,
        authorization: Option<&str>,
    ) -> Result<(Claims, u32)> {
        let claims = self.tokens.verify_authorization(
            authorization,
            &Expect::purpose(Purpose::ArtifactsWrite).job(job_id),
        )?;
        let job = self.job_for_route(&claims, Purpose::ArtifactsWrite).await?;
        Ok((claims, job.attempt))
    }

    /// The artifacts route: a manifest answered with the uploads still needed, or (with
    /// `"complete": true`) whether every file is stored with its sha256.
    pub async fn artifact_manifest(
        &self,
        job_id: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<ArtifactsAnswer> {
        let (_, attempt) = self.artifact_claims(job_id, authorization).await?;
        if body.len() > MAX_MANIFEST_BYTES {
            return Err(Error::invalid_input(
                "the artifact manifest is over 256 KiB",
            ));
        }
        let manifest: Manifest = serde_json::from_slice(body).map_err(|e| {
            Error::invalid_input(format!("the artifact manifest is not valid: {e}"))
        })?;
        if manifest.job != job_id || manifest.attempt != attempt {
            return Err(Error::new(
                ErrorKind::TokenScopeMismatch,
                format!(
                    "the manifest is for job {} attempt {}",
                    manifest.job, manifest.attempt
                ),
            ));
        }
        if manifest.files.len() > MAX_ARTIFACT_FILES {
            return Err(Error::invalid_input(format!(
                "{} artifact files, more than {MAX_ARTIFACT_FILES}",
                manifest.files.len()
            )));
        }
        for f in &manifest.files {
            check_artifact_path(&f.path)?;
            if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::invalid_input(format!(
                    "artifact {}: sha256 must be 64 hex digits",
                    f.path
                )));
            }
        }
        let mut dir = self.attempt_dir(job_id, attempt)?;
        if let Some(step) = manifest.checkpoint {
            dir = dir.join(CHECKPOINTS).join(step.to_string());
        }
        std::fs::create_dir_all(dir.join("files")).map_err(io_error)?;
        // The manifest is what uploads are checked against; it is replaced only while incomplete.
        if !dir.join("complete.json").exists() {
            let listed = serde_json::to_vec(&manifest.files)
                .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
            std::fs::write(dir.join("manifest.json"), listed).map_err(io_error)?;
        }
        let stored = |f: &ArtifactFile| file_matches(&dir.join("files").join(&f.path), f);
        if manifest.complete {
            let complete = manifest.files.iter().all(stored);
            if complete {
                let listed = serde_json::to_vec(&manifest.files)
                    .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
                std::fs::write(dir.join("complete.json"), listed).map_err(io_error)?;
                if let Some(step) = manifest.checkpoint {
                    drop_older_checkpoints(&dir, step);
                }
            }
            return Ok(ArtifactsAnswer {
                status: 200,
                body: json!({ "complete": complete }).to_string(),
            });
        }
        let base = match &self.app_url {
            Some(app) => {
                let route = Routes::url(app, &self.routes.artifacts, job_id, "");
                match manifest.checkpoint {
                    Some(step) => format!("{route}/files/{CHECKPOINTS}/{attempt}/{step}"),
                    None => format!("{route}/files"),
                }
            }
            None => {
                return Err(Error::invalid_input(
                    "artifacts uploaded to the app need app_url(...)",
                ));
            }
        };
        let auth = authorization.unwrap_or_default();
        let uploads: Vec<_> = manifest
            .files
            .iter()
            .filter(|f| !stored(f))
            .map(|f| json!({"path": f.path, "url": format!("{base}/{}", f.path), "headers": {"Authorization": auth}}))
            .collect();
        Ok(ArtifactsAnswer {
            status: 200,
            body: json!({ "uploads": uploads }).to_string(),
        })
    }

    /// Starts receiving artifact `path` (a `PUT` to `<artifacts route>/files/<path>`): the token
    /// is checked and the path must be in the manifest.
    pub async fn begin_artifact(
        &self,
        job_id: &str,
        authorization: Option<&str>,
        path: &str,
    ) -> Result<ArtifactUpload> {
        let (_, attempt) = self.artifact_claims(job_id, authorization).await?;
        check_artifact_path(path)?;
        let mut dir = self.attempt_dir(job_id, attempt)?;
        let mut name = path;
        if let Some((of, step, file)) = checkpoint_parts(path) {
            if of != attempt {
                return Err(Error::new(
                    ErrorKind::TokenScopeMismatch,
                    format!("checkpoint files are sent by their own attempt, not attempt {of}"),
                ));
            }
            dir = dir.join(CHECKPOINTS).join(step.to_string());
            name = file;
        }
        let expected = read_list(&dir.join("manifest.json"))?
            .into_iter()
            .find(|f| f.path == name)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "artifact {path} is not in the job's manifest; post the manifest first"
                    ),
                )
            })?;
        let dest = dir.join("files").join(name);
        let (dest, temp, file) = blocking("starting an artifact", move || {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(io_error)?;
            }
            let (temp, file) = TempFile::create_beside(&dest).map_err(io_error)?;
            Ok((dest, temp, file))
        })
        .await?;
        Ok(ArtifactUpload {
            file: Some(file),
            temp,
            dest,
            expected,
            written: 0,
        })
    }

    /// A checkpoint file an earlier attempt of the job kept (a `GET` of
    /// `<artifacts route>/files/checkpoints/<attempt>/<step>/<file>`), for the pod of the
    /// current attempt, which resumes from it: its artifacts token is checked, and the file must
    /// be listed in that checkpoint's confirmed manifest.
    pub async fn checkpoint_file(
        &self,
        job_id: &str,
        authorization: Option<&str>,
        path: &str,
    ) -> Result<CheckpointDownload> {
        let (_, attempt) = self.artifact_claims(job_id, authorization).await?;
        check_artifact_path(path)?;
        let not_found = || {
            Error::new(
                ErrorKind::NotFound,
                format!("no confirmed checkpoint file {path} of an earlier attempt of this job"),
            )
        };
        let (of, step, file) = checkpoint_parts(path).ok_or_else(not_found)?;
        if of >= attempt {
            return Err(not_found());
        }
        let dir = self
            .attempt_dir(job_id, of)?
            .join(CHECKPOINTS)
            .join(step.to_string());
        let listed = read_list(&dir.join("complete.json")).map_err(|_| not_found())?;
        let entry = listed
            .iter()
            .find(|f| f.path == file)
            .ok_or_else(not_found)?;
        Ok(CheckpointDownload {
            path: dir.join("files").join(file),
            size: entry.size,
        })
    }

    /// The newest checkpoint that an attempt before `attempt` kept whole, when there is one.
    pub(crate) fn newest_checkpoint(&self, job_id: &str, attempt: u32) -> Option<KeptCheckpoint> {
        let mut best: Option<KeptCheckpoint> = None;
        for of in 1..attempt {
            let root = self.attempt_dir(job_id, of).ok()?.join(CHECKPOINTS);
            let Ok(entries) = std::fs::read_dir(&root) else {
                continue;
            };
            for entry in entries.flatten() {
                let step = entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<u64>().ok());
                let Some(step) = step.filter(|s| best.as_ref().is_none_or(|b| *s > b.step)) else {
                    continue;
                };
                if let Ok(files) = read_list(&entry.path().join("complete.json")) {
                    best = Some(KeptCheckpoint {
                        attempt: of,
                        step,
                        files,
                    });
                }
            }
        }
        best
    }

    /// The artifacts of the job's current attempt, once the pod confirmed them complete.
    pub async fn artifacts(&self, job_id: &str) -> Result<Vec<ArtifactFile>> {
        let job = self.job(job_id).await?;
        let dir = self.attempt_dir(job_id, job.attempt)?;
        let complete = dir.join("complete.json");
        if !complete.exists() {
            return Ok(Vec::new());
        }
        read_list(&complete)
    }

    /// Copies the job's artifacts to `dest` (from the app's artifacts directory, or from the
    /// network volume the pod left them on), checking each file's sha256; returns them.
    pub async fn download_artifacts(&self, job_id: &str, dest: &Path) -> Result<Vec<ArtifactFile>> {
        let job = self.job(job_id).await?;
        let to_app = self.app_url.is_some() && self.artifacts_dir.is_some();
        if let (false, Ok(config), Some(volume)) = (to_app, JobConfig::of(&job), &self.volume)
            && self.volume_mount(&config.plan).is_some()
        {
            return download_from_volume(volume, &job, dest).await;
        }
        let files = self.artifacts(job_id).await?;
        if files.is_empty() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("job {job_id} has no confirmed artifacts yet; wait until it succeeds"),
            ));
        }
        let src = self.attempt_dir(job_id, job.attempt)?.join("files");
        let dest = dest.to_owned();
        blocking("copying artifacts", move || {
            for f in &files {
                copy_checked(&src, &dest, f)?;
            }
            Ok(files)
        })
        .await
    }
}

/// Removes the checkpoints of the same attempt older than `step`, now that `dir` (step's) is
/// whole. A failure only leaves a stale copy behind.
fn drop_older_checkpoints(dir: &Path, step: u64) {
    let Some(Ok(entries)) = dir.parent().map(std::fs::read_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let older = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|s| s < step);
        if older {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Copies one artifact from `src` to `dest` and checks its sha256 there.
fn copy_checked(src: &Path, dest: &Path, f: &ArtifactFile) -> Result<()> {
    let to = dest.join(&f.path);
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    std::fs::copy(src.join(&f.path), &to).map_err(io_error)?;
    if file_matches(&to, f) {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::DatasetInvalid,
        format!(
            "artifact {} does not match its sha256 after copying; the store is damaged",
            f.path
        ),
    ))
}

/// The volume's copy of the attempt's output and its manifest (`upload.py`'s `to_volume`).
async fn download_from_volume(
    volume: &VolumeStaging,
    job: &JobRecord,
    dest: &Path,
) -> Result<Vec<ArtifactFile>> {
    let prefix = format!("{VOLUME_ARTIFACTS}/{}/{}/", job.id, job.attempt);
    let got = volume.download_artifacts(&prefix, dest).await?;
    if got.is_empty() {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "no artifacts of job {} on the network volume yet; wait until it succeeds",
                job.id
            ),
        ));
    }
    #[derive(Deserialize)]
    struct VolumeManifest {
        files: Vec<ArtifactFile>,
    }
    let bytes = std::fs::read(dest.join("manifest.json")).map_err(io_error)?;
    let manifest: VolumeManifest = serde_json::from_slice(&bytes).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("the volume's artifact manifest is unreadable: {e}"),
        )
    })?;
    for f in &manifest.files {
        check_artifact_path(&f.path)?;
        if !file_matches(&dest.join(&f.path), f) {
            return Err(Error::new(
                ErrorKind::DatasetInvalid,
                format!(
                    "artifact {} on the volume does not match its sha256; the upload was cut",
                    f.path
                ),
            ));
        }
    }
    Ok(manifest.files)
}

fn read_list(path: &Path) -> Result<Vec<ArtifactFile>> {
    let bytes = std::fs::read(path).map_err(|_| {
        Error::new(
            ErrorKind::NotFound,
            "the job's artifact manifest has not arrived; post the manifest first",
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("artifact manifest unreadable: {e}"),
        )
    })
}

fn file_matches(path: &Path, f: &ArtifactFile) -> bool {
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        match std::io::Read::read(&mut file, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                size += n as u64;
                hasher.update(&buf[..n]);
            }
            Err(_) => return false,
        }
    }
    size == f.size && crate::hex::encode(&hasher.finalize()) == f.sha256.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::check_artifact_path;

    #[test]
    fn artifact_paths_stay_beneath_the_directory() {
        for ok in [
            "adapter_model.safetensors",
            "final/adapter_config.json",
            "a-b_c.d/e",
        ] {
            assert!(check_artifact_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            ".hidden",
            "a/./b",
            "a\\b",
            "a b",
            "é",
        ] {
            assert!(check_artifact_path(bad).is_err(), "{bad}");
        }
    }
}
