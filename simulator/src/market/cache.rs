//! The market cache: the first read of a market file writes its bars as a
//! compact columnar binary; later loads (every run, every `--sweep` row)
//! read that instead of parsing, whole or block by block.
//!
//! **Where**: one file per source file in the cache directory
//! ([`MarketCache::default_dir`]: `$XDG_CACHE_HOME/alertgate/market/`, else
//! `~/.cache/alertgate/market/`), named by a hash of the source's canonical
//! path and the format it was read in. Deleting the directory clears it.
//!
//! **When it is used**: only if its header says the same canonical path,
//! format, size and modification time as the source file has now, the
//! magic and [`FORMAT_VERSION`] match, the header's checksum holds, the file
//! has exactly the length its row count gives, and the body's checksum
//! (xxh3) holds. Anything else (a file changed since, another version, a
//! truncated or corrupted cache) is ignored, and the source is parsed and
//! the cache written again. A cache is written to a temporary file and
//! renamed into place, so a crash never leaves a partial file under the
//! name a load looks for (and one would fail the checks anyway). A source
//! changed within its file system's mtime granularity at the same size is
//! not seen as changed: the key is what `stat` tells, not the content.
//!
//! **Layout** (little-endian): a header (magic `AGMARKET`, version, kind,
//! format, rows, first and last time, the source's size, mtime and path,
//! the body's checksum, the header's checksum), then the body: blocks of
//! [`BLOCK_ROWS`] rows (the last one shorter), each holding its columns one
//! after the other — time (i64 ms) then open, high, low, close, volume (f64)
//! for bars; time, price, quantity for trades. A block is one read.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::{xxh3_128, xxh3_64, Xxh3};

use super::{Bar, MarketFormat, MarketKind};

/// The cache's layout version: a cache of another version is rewritten.
pub const FORMAT_VERSION: u32 = 1;
const MAGIC: [u8; 8] = *b"AGMARKET";
/// Rows per block of the body.
pub const BLOCK_ROWS: usize = 4096;
/// The fixed part of the header, before the source's path.
const FIXED: usize = 68;
/// Longest source path a header holds.
const MAX_PATH: usize = 1 << 16;

/// A directory of cached market files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketCache {
    dir: PathBuf,
}

/// What identifies a source file's content without reading it: its
/// canonical path, size and modification time, and the format forced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// Canonical path of the source file.
    pub path: String,
    /// Its size, bytes.
    pub size: u64,
    /// Its modification time, ns since the Unix epoch.
    pub mtime_ns: u128,
    /// The format it is read in.
    pub format: MarketFormat,
}

impl CacheKey {
    /// The key of the file at `path` as it is now.
    pub fn of(path: &Path, format: MarketFormat) -> std::io::Result<CacheKey> {
        let canonical = std::fs::canonicalize(path)?;
        let meta = std::fs::metadata(&canonical)?;
        let mtime_ns = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(CacheKey {
            path: canonical.to_string_lossy().into_owned(),
            size: meta.len(),
            mtime_ns,
            format,
        })
    }

    /// The cache file's name: a hash of the path and the format, so a
    /// changed source replaces its own stale cache.
    fn file_name(&self) -> String {
        let mut id = self.path.as_bytes().to_vec();
        id.extend_from_slice(self.format.name().as_bytes());
        format!("{:032x}.agm", xxh3_128(&id))
    }
}

/// A cache file's summary, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheHeader {
    /// Bars or trades.
    pub kind: MarketKind,
    /// Rows in the body (never 0).
    pub rows: u64,
    /// The first row's time, Unix ms.
    pub first_ms: i64,
    /// The last row's time, Unix ms.
    pub last_ms: i64,
}

/// A cache file that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFile {
    /// Where it is.
    pub path: PathBuf,
    /// What it holds.
    pub header: CacheHeader,
    body_at: u64,
}

impl MarketCache {
    /// A cache in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> MarketCache {
        MarketCache { dir: dir.into() }
    }

    /// `$XDG_CACHE_HOME/alertgate/market`, else `$HOME/.cache/alertgate/market`;
    /// `None` without either.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        var("XDG_CACHE_HOME")
            .or_else(|| var("HOME").map(|h| h.join(".cache")))
            .map(|base| base.join("alertgate").join("market"))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache of `key`, if one exists and passes every check.
    pub fn lookup(&self, key: &CacheKey) -> Option<CachedFile> {
        let path = self.dir.join(key.file_name());
        let mut file = File::open(&path).ok()?;
        let (header, body_hash, body_at) = read_header(&mut file, key)?;
        let expected = body_at.checked_add(body_len(header.kind, header.rows)?)?;
        if file.metadata().ok()?.len() != expected || hash_rest(&mut file)? != body_hash {
            return None;
        }
        Some(CachedFile {
            path,
            header,
            body_at,
        })
    }

    /// Writes `bars` (non-empty, of `kind`) as the cache of `key`: to a
    /// temporary file, renamed into place.
    pub fn store(
        &self,
        key: &CacheKey,
        kind: MarketKind,
        bars: &[Bar],
    ) -> std::io::Result<CachedFile> {
        let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
            return Err(std::io::Error::other("no bars to cache"));
        };
        std::fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(key.file_name());
        let temp = self.dir.join(format!(
            ".{}.{}.{:?}.tmp",
            key.file_name(),
            std::process::id(),
            std::thread::current().id()
        ));
        let header = CacheHeader {
            kind,
            rows: bars.len() as u64,
            first_ms: first.time_ms,
            last_ms: last.time_ms,
        };
        let written = write_file(&temp, key, header, bars).and_then(|body_at| {
            std::fs::rename(&temp, &path)?;
            Ok(body_at)
        });
        match written {
            Ok(body_at) => Ok(CachedFile {
                path,
                header,
                body_at,
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                Err(e)
            }
        }
    }
}

impl CachedFile {
    /// A reader of its rows, one block in memory at a time.
    pub fn reader(&self) -> std::io::Result<BlockReader> {
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.body_at))?;
        Ok(BlockReader {
            file,
            kind: self.header.kind,
            left: self.header.rows,
            block: Vec::new(),
            rows: 0,
            at: 0,
        })
    }

    /// Every row, in memory.
    pub fn read_all(&self) -> std::io::Result<Vec<Bar>> {
        let mut reader = self.reader()?;
        let mut bars = Vec::with_capacity(self.header.rows.min(1 << 28) as usize);
        while let Some(bar) = reader.next_bar()? {
            bars.push(bar);
        }
        Ok(bars)
    }
}

/// A cache file's rows, read a block at a time.
#[derive(Debug)]
pub struct BlockReader {
    file: File,
    kind: MarketKind,
    /// Rows not yet read from the file.
    left: u64,
    block: Vec<u8>,
    /// Rows in `block`.
    rows: usize,
    /// The next row of `block`.
    at: usize,
}

impl BlockReader {
    /// The next row, `None` after the last.
    pub fn next_bar(&mut self) -> std::io::Result<Option<Bar>> {
        if self.at == self.rows {
            if self.left == 0 {
                return Ok(None);
            }
            self.rows = (self.left.min(BLOCK_ROWS as u64)) as usize;
            self.block.resize(self.rows * columns(self.kind) * 8, 0);
            self.file.read_exact(&mut self.block)?;
            self.left -= self.rows as u64;
            self.at = 0;
        }
        let (i, n) = (self.at, self.rows);
        self.at += 1;
        let value = |column: usize| {
            let at = (column * n + i) * 8;
            let mut word = [0u8; 8];
            word.copy_from_slice(&self.block[at..at + 8]);
            word
        };
        let f = |column: usize| f64::from_le_bytes(value(column));
        let time_ms = i64::from_le_bytes(value(0));
        Ok(Some(match self.kind {
            MarketKind::Bars => Bar {
                time_ms,
                open: f(1),
                high: f(2),
                low: f(3),
                close: f(4),
                volume: f(5),
            },
            MarketKind::Trades => Bar {
                time_ms,
                open: f(1),
                high: f(1),
                low: f(1),
                close: f(1),
                volume: f(2),
            },
        }))
    }
}

fn columns(kind: MarketKind) -> usize {
    match kind {
        MarketKind::Bars => 6,
        MarketKind::Trades => 3,
    }
}

fn body_len(kind: MarketKind, rows: u64) -> Option<u64> {
    rows.checked_mul(columns(kind) as u64 * 8)
}

/// The header's bytes; `body_hash` is written last, once known.
fn header_bytes(key: &CacheKey, h: CacheHeader, body_hash: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(FIXED + key.path.len() + 16);
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    b.push(match h.kind {
        MarketKind::Bars => 0,
        MarketKind::Trades => 1,
    });
    let format = MarketFormat::ALL.iter().position(|f| *f == key.format);
    b.push(format.unwrap_or(0) as u8);
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&h.rows.to_le_bytes());
    b.extend_from_slice(&h.first_ms.to_le_bytes());
    b.extend_from_slice(&h.last_ms.to_le_bytes());
    b.extend_from_slice(&key.size.to_le_bytes());
    b.extend_from_slice(&key.mtime_ns.to_le_bytes());
    b.extend_from_slice(&(key.path.len() as u32).to_le_bytes());
    b.extend_from_slice(key.path.as_bytes());
    b.extend_from_slice(&body_hash.to_le_bytes());
    let header_hash = xxh3_64(&b);
    b.extend_from_slice(&header_hash.to_le_bytes());
    b
}

/// Reads and checks a header against `key`: its summary, the body's
/// checksum and where the body starts.
fn read_header(file: &mut File, key: &CacheKey) -> Option<(CacheHeader, u64, u64)> {
    let mut fixed = [0u8; FIXED];
    file.read_exact(&mut fixed).ok()?;
    let word = |at: usize| -> [u8; 8] { fixed[at..at + 8].try_into().unwrap_or([0; 8]) };
    if fixed[..8] != MAGIC || fixed[8..12] != FORMAT_VERSION.to_le_bytes() {
        return None;
    }
    let path_len = u32::from_le_bytes(fixed[64..68].try_into().ok()?) as usize;
    if path_len > MAX_PATH {
        return None;
    }
    let mut rest = vec![0u8; path_len + 16];
    file.read_exact(&mut rest).ok()?;
    let kind = match fixed[12] {
        0 => MarketKind::Bars,
        1 => MarketKind::Trades,
        _ => return None,
    };
    let header = CacheHeader {
        kind,
        rows: u64::from_le_bytes(word(16)),
        first_ms: i64::from_le_bytes(word(24)),
        last_ms: i64::from_le_bytes(word(32)),
    };
    let body_hash = u64::from_le_bytes(rest[path_len..path_len + 8].try_into().ok()?);
    let expected = header_bytes(key, header, body_hash);
    let mut got = fixed.to_vec();
    got.extend_from_slice(&rest);
    (got == expected && header.rows > 0).then_some((header, body_hash, got.len() as u64))
}

/// The checksum of the rest of the file, read in 1 MiB pieces.
fn hash_rest(file: &mut File) -> Option<u64> {
    let mut hasher = Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            return Some(hasher.digest());
        }
        hasher.update(&buf[..n]);
    }
}

/// Writes the cache file at `path`: the header with a placeholder checksum,
/// the body block by block, then the header again with the body's
/// checksum. Returns where the body starts.
fn write_file(path: &Path, key: &CacheKey, h: CacheHeader, bars: &[Bar]) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let placeholder = header_bytes(key, h, 0);
    out.write_all(&placeholder)?;
    let mut hasher = Xxh3::new();
    let mut block = Vec::with_capacity(BLOCK_ROWS * 48);
    for rows in bars.chunks(BLOCK_ROWS) {
        block.clear();
        encode_block(h.kind, rows, &mut block);
        hasher.update(&block);
        out.write_all(&block)?;
    }
    let mut file = out.into_inner().map_err(|e| e.into_error())?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&header_bytes(key, h, hasher.digest()))?;
    Ok(placeholder.len() as u64)
}

/// One block's columns, one after the other.
fn encode_block(kind: MarketKind, rows: &[Bar], out: &mut Vec<u8>) {
    for b in rows {
        out.extend_from_slice(&b.time_ms.to_le_bytes());
    }
    let fields: &[fn(&Bar) -> f64] = match kind {
        MarketKind::Bars => &[|b| b.open, |b| b.high, |b| b.low, |b| b.close, |b| b.volume],
        MarketKind::Trades => &[|b| b.close, |b| b.volume],
    };
    for field in fields {
        for b in rows {
            out.extend_from_slice(&field(b).to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests;
