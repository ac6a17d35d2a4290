//! The pod's bundle as a person reads it before any pod exists: the same files the pod
//! unpacks, every credential in them replaced, with the real bundle's size and digest.

use serde::Serialize;

use super::bundle::{files, generate};
use super::config::{Artifacts, DatasetSource, PodScript, Secret};
use crate::error::Result;
use crate::staging::redact_url;

/// What stands in for a credential in a rendered file.
pub const REDACTED: &str = "<redacted>";

/// One file of the bundle, as the pod unpacks it, credentials replaced by [`REDACTED`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RenderedFile {
    /// Its name in the bundle directory.
    pub name: String,
    /// Unix permission bits.
    pub mode: u32,
    /// Its text.
    pub text: String,
}

/// What [`generate`] hands the pod, for reading: its start command, the env variables it
/// sets (names only: the bundle carries the job's tokens), the encoded bundle's real size and
/// sha256, and the files inside it with their credentials replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RenderedScript {
    /// The container start command (`args`).
    pub start_command: String,
    /// The env variables the bundle sets, by name.
    pub env: Vec<String>,
    /// Size of the encoded bundle in bytes (the real one, credentials included).
    pub bytes: usize,
    /// sha256 of the encoded bundle (the real one).
    pub sha256: String,
    /// The files, in the bundle's order.
    pub files: Vec<RenderedFile>,
}

/// Validates and bundles `script` exactly as [`generate`] does (so a script it refuses is
/// refused here with the same error), and renders its files with every credential hidden.
pub fn render(script: &PodScript) -> Result<RenderedScript> {
    let bundle = generate(script)?;
    let files = files(&redacted(script))?
        .into_iter()
        .map(|(name, mode, bytes)| RenderedFile {
            name: name.to_owned(),
            mode,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        })
        .collect();
    Ok(RenderedScript {
        start_command: bundle.start_command,
        env: bundle.env.into_keys().collect(),
        bytes: bundle.bytes,
        sha256: bundle.sha256,
        files,
    })
}

/// `script` with each token replaced and a URL's query (where a presigned signature lives)
/// hidden. Written as a match on every credential-bearing variant, so that a new one cannot
/// be added without deciding here how it shows.
fn redacted(script: &PodScript) -> PodScript {
    let hidden = || Secret::new(REDACTED);
    let mut s = script.clone();
    if let Some(telemetry) = &mut s.telemetry {
        telemetry.token = hidden();
    }
    for dataset in std::iter::once(&mut s.dataset).chain(s.eval_dataset.as_mut()) {
        match dataset {
            DatasetSource::Url { url, token, .. } => {
                *url = redact_url(url);
                if let Some(token) = token {
                    *token = hidden();
                }
            }
            DatasetSource::Path { .. } => {}
        }
    }
    match &mut s.artifacts {
        Artifacts::App { token, .. } | Artifacts::Hub { token, .. } => *token = hidden(),
        Artifacts::None | Artifacts::Volume { .. } => {}
    }
    s
}
