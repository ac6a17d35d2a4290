//! Read a dataset once, in constant memory: container, format, rows, bytes, sha256 and the
//! first errors with their line numbers.
//!
//! Two threads share the work: one reads the file and hashes it, the other (the caller's)
//! validates rows, so inspection runs at close to the speed of hashing alone. They pass a few
//! small buffers back and forth (see [`read_and_hash`]); most rows are validated where they lie
//! in those buffers, by a parser that allocates nothing (`scan`), and only the rows it is unsure
//! of go through serde.

use super::row::{DatasetFormat, Row};
use super::scan;
use crate::error::{Error, ErrorKind, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

/// The unit of reading, hashing and handing over. Small on purpose: a buffer that stays in the
/// core's L2 cache makes the kernel's copy from the page cache cheaper than a 1 MiB one, and the
/// hash reads it back from there (measured in bench/README.md).
const CHUNK: usize = 64 << 10;
/// Buffers in flight between the reading thread and the validating one: the memory bound.
const POOL: usize = 8;
/// The longest row accepted: far beyond any training example, small enough to bound memory.
pub const MAX_ROW_BYTES: usize = 16 << 20;

/// How the rows are packaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RowError {
    /// 1-based line in the file (JSON lines), or 1-based element (JSON arrays).
    pub line: u64,
    /// Why the row is refused.
    pub reason: String,
}

/// What inspection found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    inspect_file(file, path, options)
}

/// [`inspect`] over a file already open (read from its current offset); `path` names it in
/// errors.
pub fn inspect_file(file: File, path: &Path, options: &InspectOptions) -> Result<DatasetReport> {
    let (full_tx, full_rx) = sync_channel(POOL);
    let (empty_tx, empty_rx) = channel();
    for _ in 0..POOL {
        let _ = empty_tx.send(vec![0; CHUNK]);
    }
    let mut state = State::new(options.max_errors);
    let (outcome, hashed) = std::thread::scope(|s| {
        let hasher = s.spawn(move || read_and_hash(file, full_tx, empty_rx));
        let mut chunks = Chunks {
            full: full_rx,
            empty: empty_tx,
            current: Vec::new(),
            len: 0,
            pos: 0,
        };
        let outcome = read_container(&mut chunks, &mut state);
        // Stop taking chunks: the hashing thread reads the rest of the file on its own.
        drop(chunks);
        (outcome, hasher.join())
    });
    let (bytes, sha256) = hashed
        .map_err(|_| {
            Error::new(
                ErrorKind::Internal,
                "the hashing thread panicked; please report this",
            )
        })?
        .map_err(|e| io_error(path, e))?;
    let container = outcome.map_err(|e| read_error(path, e))?;
    Ok(state.report(container, bytes, sha256))
}

/// The reading thread: fill a free buffer from the file, hash it, hand it to the validator.
/// The validator returns each buffer once done with it, so at most `POOL` exist; when it has
/// stopped (a broken JSON array ends parsing early) the rest of the file is still hashed.
fn read_and_hash(
    mut file: File,
    full: SyncSender<(Vec<u8>, usize)>,
    empty: Receiver<Vec<u8>>,
) -> std::io::Result<(u64, String)> {
    let (mut hasher, mut bytes) = (Sha256::new(), 0u64);
    let mut spare = None;
    loop {
        let mut buf = match spare.take() {
            Some(buf) => buf,
            None => empty.recv().unwrap_or_else(|_| vec![0; CHUNK]),
        };
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                spare = Some(buf); // keep it: every buffer lost would shrink the pool
                continue;
            }
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        bytes += n as u64;
        if let Err(std::sync::mpsc::SendError((buf, _))) = full.send((buf, n)) {
            spare = Some(buf); // the validator is gone: keep hashing with this buffer
        }
    }
    Ok((bytes, crate::hex::encode(&hasher.finalize())))
}

/// The validator's side of the hand-over: the chunks, in order, as one `BufRead`, so rows are
/// read where they lie in each buffer.
struct Chunks {
    full: Receiver<(Vec<u8>, usize)>,
    empty: Sender<Vec<u8>>,
    current: Vec<u8>,
    len: usize,
    pos: usize,
}

impl BufRead for Chunks {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos == self.len {
            // Give the used buffer back before waiting, so the reader always has one to fill.
            let used = std::mem::take(&mut self.current);
            if !used.is_empty() {
                let _ = self.empty.send(used);
            }
            // A closed channel is the end of the file (or a read error, which `inspect` takes
            // from the reading thread).
            (self.current, self.len) = self.full.recv().unwrap_or_default();
            self.pos = 0;
        }
        Ok(&self.current[self.pos..self.len])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.len);
    }
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Receives each row's bytes, or the refusal of bytes that are no row at all.
pub(crate) trait RowSink {
    /// A row at `line` (1-based; the element number in a JSON array).
    fn row(&mut self, line: u64, bytes: &[u8]);
    /// Bytes at `line` that cannot be a row.
    fn refuse(&mut self, line: u64, reason: String);
}

/// Read every row of any container from `reader`.
pub(crate) fn read_container(
    reader: &mut impl BufRead,
    state: &mut impl RowSink,
) -> std::io::Result<Container> {
    let container = sniff(reader)?;
    match container {
        Container::Jsonl => read_lines(reader, state)?,
        Container::GzipJsonl => {
            let gunzip = flate2::bufread::MultiGzDecoder::new(&mut *reader);
            read_lines(&mut BufReader::with_capacity(CHUNK, gunzip), state)?
        }
        Container::JsonArray => read_array(&mut *reader, state)?,
    }
    Ok(container)
}

/// Inspect, then refuse a dataset with any invalid row (or none) with `DATASET_INVALID`,
/// naming the first errors and their lines.
pub fn validate(path: &Path, options: &InspectOptions) -> Result<DatasetReport> {
    require_valid(inspect(path, options)?)
}

/// [`validate`] over a file already open; `path` names it in errors.
pub fn validate_file(file: File, path: &Path, options: &InspectOptions) -> Result<DatasetReport> {
    require_valid(inspect_file(file, path, options)?)
}

fn require_valid(report: DatasetReport) -> Result<DatasetReport> {
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
    if e.kind() == std::io::ErrorKind::NotFound {
        return Error::new(
            ErrorKind::DatasetNotFound,
            format!("no dataset file at {}: check the path", path.display()),
        )
        .with_source(e);
    }
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
        // The fast path accepts most valid rows; serde decides (and words) the rest.
        let checked = match scan::check(bytes) {
            Some(format) => Ok(format),
            None => parse_row(bytes).and_then(|r| r.check()),
        };
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
fn sniff(reader: &mut impl BufRead) -> std::io::Result<Container> {
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

/// Split `reader` into lines without holding more than its buffer and one row. A line that lies
/// within one buffer is checked in place; only one that straddles two is copied, into `carry`.
fn read_lines(reader: &mut impl BufRead, state: &mut impl RowSink) -> std::io::Result<()> {
    let mut carry = Vec::new();
    let (mut line, mut skipping) = (0u64, false);
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            if !carry.is_empty() {
                take_line(state, line + 1, &carry);
            }
            return Ok(());
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', chunk) {
            line += 1;
            let bytes = &chunk[start..end];
            start = end + 1;
            if std::mem::take(&mut skipping) {
                continue; // the end of an over-long row, already refused
            }
            if carry.len() + bytes.len() >= MAX_ROW_BYTES {
                refuse_long(state, line);
            } else if carry.is_empty() {
                take_line(state, line, bytes);
            } else {
                carry.extend_from_slice(bytes);
                take_line(state, line, &carry);
            }
            carry.clear();
        }
        let rest = &chunk[start..];
        if !skipping {
            if carry.len() + rest.len() >= MAX_ROW_BYTES {
                // Refuse it now and drop its bytes until its newline: memory stays bounded.
                refuse_long(state, line + 1);
                carry.clear();
                skipping = true;
            } else {
                carry.extend_from_slice(rest);
            }
        }
        let n = chunk.len();
        reader.consume(n);
    }
}

fn refuse_long(state: &mut impl RowSink, line: u64) {
    state.refuse(line, format!("row longer than {} MiB", MAX_ROW_BYTES >> 20));
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
