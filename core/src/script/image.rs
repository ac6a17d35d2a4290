//! Which images can run the pod side, decided at plan time rather than on a billing pod.

use crate::error::{Error, Result};

/// The default image: Python 3.12 and torch 2.8, which the pinned training stack supports.
pub const DEFAULT_IMAGE: &str = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404";

/// What an image must provide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageNeeds {
    /// Python 3.11+ and torch 2.6+ (transformers 5 disables older torch).
    PythonAndTorch,
    /// Python 3.11+ only (custom commands bring their own stack).
    Python,
}

/// Accepts an image known to carry what the pod side needs, or one the caller vouches for.
/// `runpod/pytorch` tags of the current scheme name their torch version (`...-torch280-...`).
pub fn check_image(image: &str, needs: ImageNeeds, vouched: bool) -> Result<()> {
    if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid_input(
            "image: must be a non-empty image reference",
        ));
    }
    if vouched {
        return Ok(());
    }
    let (repo, tag) = image.rsplit_once(':').unwrap_or((image, "latest"));
    let repo = repo.strip_prefix("docker.io/").unwrap_or(repo);
    match (repo, torch_of(tag)) {
        ("runpod/pytorch", Some(torch)) if torch >= (2, 6) => Ok(()),
        ("runpod/pytorch", Some((major, minor))) if needs == ImageNeeds::PythonAndTorch => {
            Err(Error::invalid_input(format!(
                "image {image} has torch {major}.{minor}, which the pinned training stack \
                 disables (it needs torch 2.6 or newer): use {DEFAULT_IMAGE}"
            )))
        }
        ("runpod/pytorch", Some(_)) | ("runpod/base", _) if needs == ImageNeeds::Python => Ok(()),
        _ => Err(Error::invalid_input(format!(
            "image {image} is not known to carry Python 3.11+{}: use {DEFAULT_IMAGE}, or declare \
             that your image has them (vouch_for_image) if it does",
            if needs == ImageNeeds::PythonAndTorch {
                " and torch 2.6+"
            } else {
                ""
            }
        ))),
    }
}

/// torch's (major, minor) from a `runpod/pytorch` tag, in either naming scheme:
/// `1.0.2-cu1281-torch280-ubuntu2404` or the older `2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04`.
fn torch_of(tag: &str) -> Option<(u32, u32)> {
    if let Some(part) = tag.split('-').find_map(|p| p.strip_prefix("torch")) {
        let mut digits = part.chars().filter_map(|c| c.to_digit(10));
        return Some((digits.next()?, digits.next()?));
    }
    if tag.split('-').nth(1).is_some_and(|p| p.starts_with("py")) {
        let mut v = tag.split('-').next()?.split('.');
        return Some((v.next()?.parse().ok()?, v.next()?.parse().ok()?));
    }
    None
}

/// The lowest host CUDA version an image runs on (`12.8`), read from its tag: `cu1281`
/// (`runpod/pytorch`), `cuda1281` or `cuda12.4.1` (`runpod/base`, older `runpod/pytorch`), or an
/// `nvidia/cuda` version tag. An image built for a newer CUDA than the host's driver fails in
/// `nvidia-container-cli` and its container never starts, so the create asks for such a host.
/// `None` when the tag names no CUDA.
pub fn cuda_of_image(image: &str) -> Option<String> {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    let (repo, tag) = image.rsplit_once(':')?;
    if repo.contains('/') && repo.rsplit('/').next() == Some("cuda") && repo.contains("nvidia") {
        return cuda_version(tag.split('-').next()?);
    }
    tag.split('-').find_map(|part| {
        let rest = part
            .strip_prefix("cuda")
            .or_else(|| part.strip_prefix("cu"))?;
        cuda_version(rest)
    })
}

/// `12.4.1` or `1241`/`124` (two digits of major, one of minor) as `12.4`.
fn cuda_version(v: &str) -> Option<String> {
    let (major, minor) = match v.split_once('.') {
        Some((major, rest)) => (major, rest.split('.').next()?),
        None if v.len() >= 3 => (v.get(..2)?, v.get(2..3)?),
        None => return None,
    };
    let digits = |p: &str| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor)).then(|| format!("{major}.{minor}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cuda_an_image_needs_comes_from_its_tag() {
        for (image, cuda) in [
            (DEFAULT_IMAGE, Some("12.8")),
            (
                "runpod/pytorch:1.0.7-cu1290-torch291-ubuntu2204",
                Some("12.9"),
            ),
            (
                "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
                Some("12.4"),
            ),
            ("runpod/base:0.7.0-cuda1281-ubuntu2404", Some("12.8")),
            ("nvidia/cuda:11.8.0-base-ubuntu22.04", Some("11.8")),
            (
                "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404@sha256:ab",
                Some("12.8"),
            ),
            ("ubuntu:22.04", None),
            ("ghcr.io/me/trainer:1", None),
            ("ghcr.io/me/custom", None),
        ] {
            assert_eq!(cuda_of_image(image).as_deref(), cuda, "{image}");
        }
    }

    #[test]
    fn current_runpod_pytorch_tags_pass() {
        check_image(DEFAULT_IMAGE, ImageNeeds::PythonAndTorch, false).unwrap();
        check_image(
            "runpod/pytorch:1.0.3-cu1281-torch291-ubuntu2404",
            ImageNeeds::PythonAndTorch,
            false,
        )
        .unwrap();
    }

    #[test]
    fn legacy_torch_and_bare_images_are_refused_with_the_default_named() {
        for image in [
            "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
            "runpod/pytorch:2.1.0-py3.10-cuda11.8.0-devel-ubuntu22.04",
            "ubuntu:22.04",
            "nvidia/cuda:12.8.1-base-ubuntu24.04",
            "runpod/pytorch",
        ] {
            let err = check_image(image, ImageNeeds::PythonAndTorch, false).unwrap_err();
            assert!(err.to_string().contains(DEFAULT_IMAGE), "{image}: {err}");
        }
    }

    #[test]
    fn custom_commands_accept_runpod_base_and_vouched_images() {
        check_image(
            "runpod/base:0.7.0-cuda1281-ubuntu2404",
            ImageNeeds::Python,
            false,
        )
        .unwrap();
        check_image("ghcr.io/me/trainer:1", ImageNeeds::Python, true).unwrap();
        assert!(check_image("ghcr.io/me/trainer:1", ImageNeeds::Python, false).is_err());
        assert!(check_image("bad image", ImageNeeds::Python, true).is_err());
    }
}
