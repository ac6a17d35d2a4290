//! Datasets: inspect them once, in constant memory, before anything is spent.

mod convert;
mod inspect;
mod row;
mod scan;

pub use convert::convert_alpaca;
pub use inspect::{
    Container, DatasetReport, InspectOptions, RowError, inspect, inspect_file, validate,
    validate_file,
};
pub use row::DatasetFormat;
