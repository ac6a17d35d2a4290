//! The pod start script: a short constant start command plus a bundle it unpacks (the bash
//! bootstrap, the Python trainer, reporter and uploader, and one config holding every user
//! value). Templates are constant; values travel only as data. See `docs/pod-protocol.md`.

mod bundle;
mod config;
mod image;
mod render;
mod validate;

pub use bundle::{BUNDLE_ENV, Bundle, MAX_BUNDLE_BYTES, START_COMMAND, generate};
pub use config::{
    Artifacts, CheckpointFile, DatasetSource, Endpoint, Hyperparameters, LoraTargetModules, Method,
    PINNED_STACK, PodRuntime, PodScript, Precision, QLORA_EXTRA, Resume, Secret, Training,
    UV_VERSION,
};
pub use image::{DEFAULT_IMAGE, ImageNeeds, check_image, cuda_of_image};
pub use render::{REDACTED, RenderedFile, RenderedScript, render};
pub(crate) use validate::is_hub_id;
pub use validate::{job_id as validate_job_id, validate};

/// The pod-side templates, as shipped in every bundle: (file name, mode, text).
pub const TEMPLATES: [(&str, u32, &str); 9] = [
    ("bootstrap.sh", 0o755, include_str!("pod/bootstrap.sh")),
    ("reporter.py", 0o644, include_str!("pod/reporter.py")),
    ("trainer.py", 0o644, include_str!("pod/trainer.py")),
    ("upload.py", 0o644, include_str!("pod/upload.py")),
    ("checkpoint.py", 0o644, include_str!("pod/checkpoint.py")),
    ("deps.py", 0o644, include_str!("pod/deps.py")),
    ("model.py", 0o644, include_str!("pod/model.py")),
    ("command.py", 0o644, include_str!("pod/command.py")),
    (
        "README",
        0o644,
        "Unpacked by the trainpod start command; bootstrap.sh is the entry point.\n",
    ),
];
