//! A grant's body, read chunk by chunk on tokio's blocking threads: what a binding streams to
//! its route's response without its own thread ever waiting on the disk, and without the open
//! file ever leaving Rust (it is closed at the end, on `close`, or when the body is dropped).

use super::digest::read_error;
use super::grant::Grant;
use crate::blocking::blocking;
use crate::error::{Error, ErrorKind, Result};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// The most bytes one chunk holds. Each chunk becomes a JavaScript `Buffer` whose memory V8
/// counts as external: large chunks held by a slow client outlive the young generation and
/// bring full collections, which stall the event loop; chunks this size die young
/// (bench/README.md, "Event loop during a first download").
pub const BODY_CHUNK: usize = 256 << 10;

/// The bytes `offset..offset + length` of a granted file.
#[derive(Debug)]
pub struct GrantBody {
    file: Option<Arc<File>>,
    pos: u64,
    end: u64,
}

impl Grant {
    /// The body to send: the granted range of the opened file (empty for a 416).
    pub fn into_body(self) -> GrantBody {
        let (pos, end) = (self.offset, self.offset + self.length);
        GrantBody {
            file: (end > pos).then(|| Arc::new(self.into_file())),
            pos,
            end,
        }
    }
}

impl GrantBody {
    /// The next chunk of at most [`BODY_CHUNK`] bytes, or `None` once the body is sent (the file
    /// is closed then) or closed.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        let Some(file) = self.file.clone() else {
            return Ok(None);
        };
        let (pos, left) = (self.pos, self.end - self.pos);
        let want = usize::try_from(left).map_or(BODY_CHUNK, |l| l.min(BODY_CHUNK));
        let read = blocking("reading the dataset", move || {
            let mut buf = vec![0u8; want];
            let n = file.read_at(&mut buf, pos).map_err(read_error)?;
            buf.truncate(n);
            Ok(buf)
        })
        .await;
        let chunk = match read {
            Ok(chunk) if !chunk.is_empty() => chunk,
            Ok(_) => {
                self.close();
                return Err(shrunk(left));
            }
            Err(e) => {
                self.close();
                return Err(e);
            }
        };
        self.pos += chunk.len() as u64;
        if self.pos >= self.end {
            self.close();
        }
        Ok(Some(chunk))
    }

    /// Closes the file without sending the rest (a HEAD request, a client gone).
    pub fn close(&mut self) {
        self.file = None;
    }

    /// Whether the file is still open.
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }
}

fn shrunk(left: u64) -> Error {
    Error::new(
        ErrorKind::DatasetNotFound,
        format!("the dataset file ended {left} bytes early: it shrank while it was sent"),
    )
}
