//! Alpaca-style rows (`instruction`, `input`, `output`) rewritten as prompt/completion JSON lines,
//! the format TRL trains on.

use super::inspect::{
    DatasetReport, InspectOptions, RowSink, json_reason, read_container, validate,
};
use super::row::{DatasetFormat, Row};
use crate::error::{Error, ErrorKind, Result};
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

/// Convert the Alpaca dataset at `src` into prompt/completion JSON lines at `dst`, then inspect
/// the result. The source is validated first, so nothing is written for an invalid dataset.
pub fn convert_alpaca(src: &Path, dst: &Path) -> Result<DatasetReport> {
    let report = validate(src, &InspectOptions::default())?;
    if report.format != Some(DatasetFormat::Alpaca) {
        return Err(Error::invalid_input(format!(
            "{} is not in the Alpaca format (it is {}); only instruction/input/output rows are converted",
            src.display(),
            report.format.map_or("empty", |f| f.as_str())
        )));
    }
    let io = |e: std::io::Error| {
        Error::invalid_input(format!("cannot convert the dataset: {e}")).with_source(e)
    };
    let mut reader = BufReader::new(File::open(src).map_err(io)?);
    let mut writer = Writer {
        out: BufWriter::new(File::create(dst).map_err(io)?),
        failure: None,
    };
    read_container(&mut reader, &mut writer).map_err(io)?;
    if let Some(reason) = writer.failure {
        let _ = std::fs::remove_file(dst);
        return Err(Error::new(
            ErrorKind::DatasetInvalid,
            format!("the dataset changed while converting: {reason}"),
        ));
    }
    writer.out.flush().map_err(io)?;
    validate(dst, &InspectOptions::default())
}

struct Writer {
    out: BufWriter<File>,
    failure: Option<String>,
}

impl Writer {
    fn write(&mut self, line: u64, bytes: &[u8]) -> std::result::Result<(), String> {
        let text = std::str::from_utf8(bytes).map_err(|_| format!("line {line}: invalid UTF-8"))?;
        let row: Row<'_> =
            serde_json::from_str(text).map_err(|e| format!("line {line}: {}", json_reason(&e)))?;
        let (prompt, completion) = row
            .alpaca_to_prompt_completion()
            .ok_or_else(|| format!("line {line}: not an Alpaca row"))?;
        serde_json::to_writer(
            &mut self.out,
            &serde_json::json!({"prompt": prompt, "completion": completion}),
        )
        .map_err(|e| e.to_string())?;
        self.out.write_all(b"\n").map_err(|e| e.to_string())
    }
}

impl RowSink for Writer {
    fn row(&mut self, line: u64, bytes: &[u8]) {
        if self.failure.is_none() {
            self.failure = self.write(line, bytes).err();
        }
    }

    fn refuse(&mut self, line: u64, reason: String) {
        self.failure.get_or_insert(format!("line {line}: {reason}"));
    }
}
