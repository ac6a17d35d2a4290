//! Read a dataset once, in constant memory: container, format, rows, bytes, sha256 and the
//! first errors with their line numbers.
//!
//! The file's bytes are hashed on a second thread while this one validates rows, so inspection
//! runs at close to the speed of hashing alone.

use super::row::{DatasetFormat, Row};
use crate::error::{Error, ErrorKind, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{SyncSender, sync_channel};

const CHUNK: usize = 1 << 20;
/// The longest row accepted: far beyond any training example, small enough to bound memory.
pub const MAX_ROW_BYTES: usize = 16 << 20;

/// How the rows are packaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Container {
    /// One JSON object per line.
    Jsonl,
    /// One JSON array of objects.
    JsonArray,
    /// JSON lines compressed with gzip.
    GzipJsonl,
}

/// What to check and how much to report.
#[derive(Clone, Debug)]
pub struct InspectOptions {
    /// How many row errors to keep (all are counted).
    pub max_errors: usize,
}

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions { max_errors: 20 }
    }
}

/// One invalid row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based line in the file (JSON lines), or 1-based element (JSON arrays).
    pub line: u64,
    /// Why the row is refused.
    pub reason: String,
}

/// What inspection found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatasetReport {
    /// How the rows are packaged.
    pub container: Container,
    /// The rows' format (that of the first valid row), if any row was valid.
    pub format: Option<DatasetFormat>,
    /// Valid rows.
    pub rows: u64,
    /// Size of the file as stored (what the pod downloads).
    pub bytes: u64,
    /// SHA-256 of the file as stored, lowercase hex.
    pub sha256: String,
    /// The longest row, in bytes of JSON.
    pub longest_row_bytes: u64,
    /// The first errors, in file order.
    pub errors: Vec<RowError>,
    /// How many rows were refused in all.
    pub error_count: u64,
}

impl DatasetReport {
    /// Whether the dataset can be trained on.
    pub fn is_valid(&self) -> bool {
        self.error_count == 0 && self.rows > 0
    }
}

/// Inspect the dataset at `path`. Errors in rows are reported, not returned: only a file that
/// cannot be read at all is an `Err`.
pub fn inspect(path: &Path, options: &InspectOptions) -> Result<DatasetReport> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let (tx, rx) = sync_channel::<Vec<u8>>(4);
    let hasher = std::thread::spawn(move || hash_chunks(rx));
    let mut reader = BufReader::with_capacity(CHUNK, HashingReader { file, tx });
    let mut state = State::new(options.max_errors);
    let outcome = read_container(&mut reader, &mut state);
    // Hash the rest of the file even when parsing stopped early, then close the channel.
    let drained = std::io::copy(&mut reader.into_inner(), &mut std::io::sink());
    let (bytes, sha256) = hasher.join().map_err(|_| {
        Error::new(
            ErrorKind::Internal,
            "the hashing thread panicked; please report this",
        )
    })?;
    let container = outcome.map_err(|e| read_error(path, e))?;
    drained.map_err(|e| io_error(path, e))?;
    Ok(state.report(container, bytes, sha256))
}

/// Receives each row's bytes, or the refusal of bytes that are no row at all.
pub(crate) trait RowSink {
    /// A row at `line` (1-based; the element number in a JSON array).
    fn row(&mut self, line: u64, bytes: &[u8]);
    /// Bytes at `line` that cannot be a row.
    fn refuse(&mut self, line: u64, reason: String);
}

/// Read every row of any container from `reader`.
pub(crate) fn read_container<R: Read>(
    reader: &mut BufReader<R>,
    state: &mut impl RowSink,
) -> std::io::Result<Container> {
    let container = sniff(reader)?;
    match container {
        Container::Jsonl => read_lines(reader, state)?,
        Container::GzipJsonl => {
            read_lines(&mut flate2::read::MultiGzDecoder::new(&mut *reader), state)?
        }
        Container::JsonArray => read_array(&mut *reader, state)?,
    }
    Ok(container)
}

fn hash_chunks(rx: std::sync::mpsc::Receiver<Vec<u8>>) -> (u64, String) {
    let (mut hasher, mut bytes) = (Sha256::new(), 0u64);
    for chunk in rx {
        bytes += chunk.len() as u64;
        hasher.update(&chunk);
    }
    (bytes, crate::hex::encode(&hasher.finalize()))
}

/// Inspect, then refuse a dataset with any invalid row (or none) with `DATASET_INVALID`,
/// naming the first errors and their lines.
pub fn validate(path: &Path, options: &InspectOptions) -> Result<DatasetReport> {
    let report = inspect(path, options)?;
    if report.is_valid() {
        return Ok(report);
    }
    let mut message = if report.rows == 0 && report.error_count == 0 {
        "the dataset has no rows; add at least one training example".to_owned()
    } else {
        format!(
            "{} row(s) are invalid; fix them and inspect again:",
            report.error_count
        )
    };
    for e in &report.errors {
        message.push_str(&format!("\n  line {}: {}", e.line, e.reason));
    }
    Err(Error::new(ErrorKind::DatasetInvalid, message))
}

/// A corrupt file (bad gzip, say) is an invalid dataset; anything else is a failure to read it.
fn read_error(path: &Path, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::InvalidData
        | std::io::ErrorKind::InvalidInput
        | std::io::ErrorKind::UnexpectedEof => Error::new(
            ErrorKind::DatasetInvalid,
            format!(
                "the dataset {} is corrupt ({e}); export it again",
                path.display()
            ),
        ),
        _ => io_error(path, e),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("cannot read the dataset {}: {e}", path.display()),
    )
    .with_source(e)
}

struct State {
    format: Option<DatasetFormat>,
    rows: u64,
    longest: u64,
    errors: Vec<RowError>,
    error_count: u64,
    max_errors: usize,
}

impl RowSink for State {
    fn row(&mut self, line: u64, bytes: &[u8]) {
        self.longest = self.longest.max(bytes.len() as u64);
        let checked = parse_row(bytes).and_then(|r| r.check());
        match (checked, self.format) {
            (Err(reason), _) => self.refuse(line, reason),
            (Ok(f), Some(first)) if f != first => self.refuse(
                line,
                format!("mixed formats: this row is {f}, the dataset is {first}"),
            ),
            (Ok(f), _) => {
                self.format = Some(f);
                self.rows += 1;
            }
        }
    }

    fn refuse(&mut self, line: u64, reason: String) {
        self.error_count += 1;
        if self.errors.len() < self.max_errors {
            self.errors.push(RowError { line, reason });
        }
    }
}

impl State {
    fn new(max_errors: usize) -> Self {
        State {
            format: None,
            rows: 0,
            longest: 0,
            errors: Vec::new(),
            error_count: 0,
            max_errors,
        }
    }

    fn report(self, container: Container, bytes: u64, sha256: String) -> DatasetReport {
        DatasetReport {
            container,
            format: self.format,
            rows: self.rows,
            bytes,
            sha256,
            longest_row_bytes: self.longest,
            errors: self.errors,
            error_count: self.error_count,
        }
    }
}

/// Parse one row: UTF-8 first (so the error names the byte), then strict JSON.
pub(crate) fn parse_row(bytes: &[u8]) -> std::result::Result<Row<'_>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1))?;
    serde_json::from_str::<Row<'_>>(text).map_err(|e| json_reason(&e))
}

pub(crate) fn json_reason(e: &serde_json::Error) -> String {
    // serde's messages name fields and types; the position is the column within the row.
    match e.classify() {
        serde_json::error::Category::Data => format!("{e}")
            .split(" at line")
            .next()
            .unwrap_or("invalid row")
            .to_owned(),
        _ => format!("invalid JSON at column {}", e.column()),
    }
}

/// Peek at the first bytes: gzip magic, a JSON array, or JSON lines.
fn sniff<R: Read>(reader: &mut BufReader<R>) -> std::io::Result<Container> {
    use std::io::BufRead;
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Container::GzipJsonl);
    }
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    Ok(if first == Some(&b'[') {
        Container::JsonArray
    } else {
        Container::Jsonl
    })
}

/// Split `reader` into lines without holding more than one chunk and one row.
fn read_lines(reader: &mut impl Read, state: &mut impl RowSink) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let (mut filled, mut line, mut skipping) = (0usize, 0u64, false);
    loop {
        let n = reader.read(&mut buf[filled..])?;
        filled += n;
        let mut start = 0;
        while let Some(pos) = memchr::memchr(b'\n', &buf[start..filled]) {
            line += 1;
            if !std::mem::take(&mut skipping) {
                take_line(state, line, &buf[start..start + pos]);
            }
            start += pos + 1;
        }
        if n == 0 {
            if start < filled && !skipping {
                take_line(state, line + 1, &buf[start..filled]);
            }
            return Ok(());
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
        if filled == buf.len() {
            if skipping || buf.len() >= MAX_ROW_BYTES {
                // An over-long row: refuse it once and drop its bytes until its newline.
                if !skipping {
                    state.refuse(
                        line + 1,
                        format!("row longer than {} MiB", MAX_ROW_BYTES >> 20),
                    );
                }
                skipping = true;
                filled = 0;
            } else {
                buf.resize(buf.len() * 2, 0);
            }
        }
    }
}

fn take_line(state: &mut impl RowSink, line: u64, bytes: &[u8]) {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        state.row(line, bytes);
    }
}

/// A JSON array is read element by element with a streaming visitor: constant memory.
fn read_array(reader: impl Read, state: &mut impl RowSink) -> std::io::Result<()> {
    use serde::de::{Deserializer as _, SeqAccess, Visitor};
    struct Elements<'s, S>(&'s mut S);
    impl<'de, S: RowSink> Visitor<'de> for Elements<'_, S> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON array of objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
            let mut index = 0u64;
            // Each element is read as raw JSON, then checked like a line.
            while let Some(raw) = seq.next_element::<Box<serde_json::value::RawValue>>()? {
                index += 1;
                self.0.row(index, raw.get().as_bytes());
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    match de.deserialize_seq(Elements(state)).and_then(|()| de.end()) {
        Ok(()) => Ok(()),
        Err(e) if e.is_io() => Err(e.into()),
        Err(e) => {
            state.refuse(
                e.line() as u64,
                format!(
                    "the JSON array is invalid at line {} column {}: {}",
                    e.line(),
                    e.column(),
                    json_reason(&e)
                ),
            );
            Ok(())
        }
    }
}

/// Passes the file's bytes through while a second thread hashes them.
struct HashingReader {
    file: File,
    tx: SyncSender<Vec<u8>>,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        if n > 0 {
            // The hasher outlives every reader; a send can fail only if it panicked, which
            // `inspect` reports when it joins it.
            let _ = self.tx.send(buf[..n].to_vec());
        }
        Ok(n)
    }
}
