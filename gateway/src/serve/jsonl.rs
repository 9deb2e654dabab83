//! The gateway's append-only JSON-lines files (the journal and the mock
//! exchange's log): reading one back after a restart.
//!
//! Both are written a batch at a time and fsynced, so a crash can leave at
//! most one torn line at the end; everything before it is whole.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Seek};
use std::path::Path;

/// A log read back by [`read_complete_lines`].
pub(crate) struct ReadBack {
    /// The file, open for reading and writing (to cut a torn tail off or
    /// append).
    pub file: File,
    /// Bytes of complete lines from the start.
    pub complete: u64,
    /// Bytes after them: a line torn by a crash mid-write.
    pub torn: u64,
}

/// Opens `path` for reading and writing (`None` if it does not exist) and
/// hands `on_line` each complete line, numbered from 1, with its newline;
/// stops at the first incomplete one. An error from `on_line` stops the
/// read and is returned.
///
/// Reads from byte `start` on (a line's start; lines are numbered from 1
/// there, and `complete` counts from the file's start).
pub(crate) fn read_complete_lines_from(
    path: &Path,
    start: u64,
    mut on_line: impl FnMut(u64, &[u8]) -> io::Result<()>,
) -> io::Result<Option<ReadBack>> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    file.seek(io::SeekFrom::Start(start))?;
    let mut complete = start;
    let mut number = 0u64;
    let mut reader = io::BufReader::with_capacity(1 << 20, &file);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 || buf.last() != Some(&b'\n') {
            break;
        }
        number += 1;
        complete += n as u64;
        on_line(number, &buf)?;
    }
    drop(reader);
    let torn = file.metadata()?.len().saturating_sub(complete);
    Ok(Some(ReadBack {
        file,
        complete,
        torn,
    }))
}

/// An `InvalidData` error naming the file and line: `path:number: e`.
pub(crate) fn invalid(path: &Path, number: u64, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}:{number}: {e}", path.display()),
    )
}
