//! A dataset file inspected before it is staged or planned.

use std::path::Path;

use super::{Trainpod, blocking};
use crate::dataset::{DatasetReport, InspectOptions, inspect};
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
}
