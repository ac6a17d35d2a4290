//! A dataset file inspected before it is staged or planned.

use std::path::Path;

use super::{Trainpod, blocking};
use crate::dataset::{DatasetReport, InspectOptions, convert_alpaca, inspect};
use crate::error::Result;

impl Trainpod {
    /// Inspects the dataset file at `path`, as `plan` inspects an app-served one: its
    /// container and row format, valid rows, size, sha256, longest row, and the first
    /// `max_errors` invalid rows with their line numbers (all are counted). Reads it once, in
    /// constant memory, on a blocking thread (about a second per GB). Invalid rows are in the
    /// report, not an error: only a file that cannot be read at all is.
    pub async fn inspect_dataset(&self, path: &Path, max_errors: usize) -> Result<DatasetReport> {
        let path = path.to_owned();
        let options = InspectOptions { max_errors };
        blocking("dataset inspection", move || inspect(&path, &options)).await
    }

    /// Rewrites the Alpaca dataset at `src` (`instruction`, `input`, `output`) as
    /// prompt/completion JSON lines at `dst`, the prompt being the instruction, then the input
    /// after a blank line when there is one (as the pod's trainer does for an Alpaca dataset),
    /// and returns the inspection of the result. An invalid dataset, or one in another format,
    /// is refused before anything is written. On a blocking thread, like `inspect_dataset`.
    pub async fn convert_alpaca(&self, src: &Path, dst: &Path) -> Result<DatasetReport> {
        let (src, dst) = (src.to_owned(), dst.to_owned());
        blocking("dataset conversion", move || convert_alpaca(&src, &dst)).await
    }
}
