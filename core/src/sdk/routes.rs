//! Where the app's routes are, as a pod sees them: paths under the app URL, with `{job}` and
//! `{dataset}` standing for the ids.

use crate::error::{Error, Result};

/// The app's route paths. The defaults are those [`super::server::router`] serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routes {
    /// The dataset download route, with `{dataset}`.
    pub dataset: String,
    /// The metrics route, with `{job}`.
    pub metrics: String,
    /// The artifacts route, with `{job}`; files are PUT to `<route>/files/<path>`.
    pub artifacts: String,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            dataset: "/trainpod/datasets/{dataset}".into(),
            metrics: "/trainpod/jobs/{job}/metrics".into(),
            artifacts: "/trainpod/jobs/{job}/artifacts".into(),
        }
    }
}

impl Routes {
    /// Checks that each path starts with `/` and holds its placeholder.
    pub fn check(&self) -> Result<()> {
        for (name, path, hole) in [
            ("dataset", &self.dataset, "{dataset}"),
            ("metrics", &self.metrics, "{job}"),
            ("artifacts", &self.artifacts, "{job}"),
        ] {
            if !path.starts_with('/') || !path.contains(hole) || path.contains(['?', '#']) {
                return Err(Error::invalid_input(format!(
                    "the {name} route {} must be a path starting with / that contains {hole}",
                    crate::error::quote(path)
                )));
            }
        }
        Ok(())
    }

    /// The full URL of a route for the ids (which are `[A-Za-z0-9._-]`, safe in a path).
    pub(crate) fn url(app_url: &str, template: &str, job: &str, dataset: &str) -> String {
        format!(
            "{app_url}{}",
            template.replace("{job}", job).replace("{dataset}", dataset)
        )
    }
}
