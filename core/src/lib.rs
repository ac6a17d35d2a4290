#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[cfg(unix)]
mod blocking;
pub mod clock;
pub mod dataset;
pub mod error;
pub mod fields;
mod hex;
pub mod jobs;
pub mod number;
mod purpose;
pub mod reach;
pub mod runpod;
pub mod script;
#[cfg(unix)]
pub mod sdk;
#[cfg(unix)]
pub mod staging;
pub mod store;
pub mod token;
pub mod webhooks;

pub use error::{Error, ErrorGroup, ErrorKind, Result};
#[cfg(unix)]
pub use sdk::{DatasetRef, JobSpec, Plan, Trainpod};

/// This crate's version, as published.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
