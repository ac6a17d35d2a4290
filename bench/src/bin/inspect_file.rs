//! Inspect one dataset and print the report as JSON: the subject of `bench/inspect.sh`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: inspect_file PATH");
        return ExitCode::FAILURE;
    };
    match trainpod::dataset::inspect(&path, &trainpod::dataset::InspectOptions::default()) {
        Ok(report) => {
            #[allow(clippy::print_stdout)]
            {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
