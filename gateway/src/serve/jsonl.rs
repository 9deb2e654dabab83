//! The gateway's append-only JSON-lines files (the journal, the mock
//! exchange's log, the venues' order and fill logs): reading one back
//! after a restart, and appending without ever leaving part of a line
//! ([`LineAppender`]).
//!
//! Both are written a batch at a time and fsynced, so a crash can leave at
//! most one torn line at the end; everything before it is whole.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Seek, Write};
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

/// Appends whole lines to a file and never leaves part of one behind: a
/// write or fsync that fails is cut off (at once, or before the next line
/// if the disk refuses that too), so the file stays a sequence of whole
/// lines that opens again. Used by the venues' order and fill logs (the
/// journal and the mock exchange's log batch their own).
#[derive(Debug)]
pub(crate) struct LineAppender {
    file: File,
    /// The length after the last line written whole.
    len: u64,
    /// A failed write may have left bytes past `len`, and the handle there.
    dirty: bool,
}

impl LineAppender {
    /// Appends to `file` from its end.
    pub(crate) fn new(mut file: File) -> io::Result<LineAppender> {
        let len = file.seek(io::SeekFrom::End(0))?;
        Ok(LineAppender {
            file,
            len,
            dirty: false,
        })
    }

    /// Writes `line` (with its newline), fsynced when `sync`.
    pub(crate) fn append(&mut self, line: &[u8], sync: bool) -> io::Result<()> {
        self.repair()?;
        self.dirty = true;
        let written = self.file.write_all(line).and_then(|()| match sync {
            true => self.file.sync_data(),
            false => Ok(()),
        });
        match written {
            Ok(()) => {
                self.len += line.len() as u64;
                self.dirty = false;
                Ok(())
            }
            Err(e) => {
                if let Err(cut) = self.repair() {
                    tracing::error!("a failed write is not cut off yet: {cut}");
                }
                Err(e)
            }
        }
    }

    /// Cuts off what a failed write may have left, and moves the handle
    /// back to the end (it writes where it stands, not at the end).
    fn repair(&mut self) -> io::Result<()> {
        if self.dirty {
            self.file.set_len(self.len)?;
            self.file.sync_all()?;
            self.file.seek(io::SeekFrom::Start(self.len))?;
            self.dirty = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_cut_short_is_cut_off_and_the_next_line_follows_the_last_whole_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        std::fs::write(&path, b"{\"a\":1}\n").unwrap();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut log = LineAppender::new(file).unwrap();
        // The disk refuses writes (a read-only handle: every write fails,
        // and so does the cut: it waits for the next line).
        let writable = std::mem::replace(&mut log.file, File::open(&path).unwrap());
        assert!(log.append(b"{\"b\":2}\n", true).is_err());
        assert!(log.dirty);
        // It comes back, after a write cut short left part of a line and
        // the handle past it.
        log.file = writable;
        log.file.write_all(b"{\"c\":").unwrap();
        log.append(b"{\"d\":4}\n", true).unwrap();
        log.append(b"{\"e\":5}\n", false).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"d\":4}\n{\"e\":5}\n"
        );
    }
}

/// An exclusive advisory lock on a file this gateway writes, held while
/// the value lives: a second gateway started on the same file refuses to
/// start ([`Error::FileInUse`](crate::error::Error::FileInUse)) instead of
/// deciding or placing orders a second time. The file is created if
/// missing (empty). Advisory (`flock`): it stops other gateways, not other
/// programs.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Locks `path`, or says why it cannot.
    pub fn take(path: &Path) -> Result<FileLock, crate::error::Error> {
        let in_use = |reason: String| crate::error::Error::FileInUse {
            path: path.to_path_buf(),
            reason,
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| in_use(e.to_string()))?;
        file.try_lock().map_err(|e| in_use(e.to_string()))?;
        Ok(FileLock { _file: file })
    }
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    #[test]
    fn a_second_lock_on_a_file_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let first = FileLock::take(&path).unwrap();
        let e = FileLock::take(&path).unwrap_err();
        assert_eq!(e.code(), "file_in_use");
        assert!(e.to_string().contains("journal.jsonl"), "{e}");
        drop(first);
        FileLock::take(&path).unwrap();
    }
}
