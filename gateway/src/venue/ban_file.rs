//! The venue's hold (a 418 ban, a 429 `Retry-After`) kept on disk beside
//! its order log, so a restart does not forget it: Binance lengthens the
//! bans of an address that keeps sending while banned (two minutes up to
//! three days), and a gateway restarted by a supervisor would otherwise
//! send its start-up reads and any order left `not_sent` at once.
//!
//! The file, `<orders file>.ban`, is one JSON line,
//! `{"until_ms":1765432100000,"banned":true}` (Unix ms; `banned: false` is
//! a 429's back-off), written whole (a temporary file, fsync, rename, fsync
//! of the directory). It holds no secret. A file that cannot be read or
//! parsed is reported and ignored: a hold can only delay orders, never
//! lose one, so ignoring it costs at worst what the file was meant to save.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Requests held back until `until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    /// When requests may be sent again, Unix ms.
    pub until_ms: i64,
    /// A ban (418), rather than a back-off (429).
    pub banned: bool,
}

/// Where a venue's hold is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanFile {
    path: PathBuf,
}

impl BanFile {
    /// The hold file of the venue whose order log is `orders`:
    /// `<orders>.ban` (`orders.jsonl` → `orders.jsonl.ban`).
    pub fn beside(orders: &Path) -> BanFile {
        let mut name = orders.as_os_str().to_owned();
        name.push(".ban");
        BanFile {
            path: PathBuf::from(name),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The hold the file keeps: `Ok(None)` when there is no file; an
    /// error naming the file and what is wrong when it cannot be read or
    /// is not a hold.
    pub fn read(&self) -> Result<Option<Hold>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: unreadable: {e}", self.path.display())),
        };
        serde_json::from_str(text.trim()).map(Some).map_err(|e| {
            let shown: String = text.chars().take(80).collect();
            format!(
                "{}: {e} in {shown:?}; expected {{\"until_ms\":<Unix ms>,\"banned\":<bool>}}",
                self.path.display()
            )
        })
    }

    /// Keeps `hold`, replacing the file whole (a crash leaves the old hold
    /// or the new one, never half a line).
    pub fn write(&self, hold: Hold) -> std::io::Result<()> {
        let mut temp = self.path.as_os_str().to_owned();
        temp.push(".tmp");
        let temp = PathBuf::from(temp);
        let mut line = serde_json::to_string(&hold).map_err(std::io::Error::other)?;
        line.push('\n');
        {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(line.as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&temp, &self.path)?;
        // The rename itself is durable only once the directory is.
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_survives_the_round_trip_and_lives_beside_the_order_log() {
        let dir = tempfile::tempdir().unwrap();
        let file = BanFile::beside(&dir.path().join("orders.jsonl"));
        assert_eq!(file.path(), dir.path().join("orders.jsonl.ban"));
        assert_eq!(file.read(), Ok(None), "no file, no hold");
        let ban = Hold {
            until_ms: 1_765_432_100_000,
            banned: true,
        };
        file.write(ban).unwrap();
        assert_eq!(file.read(), Ok(Some(ban)));
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert_eq!(text, "{\"until_ms\":1765432100000,\"banned\":true}\n");
        let backoff = Hold {
            until_ms: 5,
            banned: false,
        };
        file.write(backoff).unwrap();
        assert_eq!(file.read(), Ok(Some(backoff)), "replaced whole");
        assert!(!dir.path().join("orders.jsonl.ban.tmp").exists());
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it_and_what_is_expected() {
        let dir = tempfile::tempdir().unwrap();
        let file = BanFile::beside(&dir.path().join("orders.jsonl"));
        for junk in [
            "{\"until_ms\":12",
            "banned",
            "{\"until_ms\":\"x\",\"banned\":true}",
            "",
        ] {
            std::fs::write(file.path(), junk).unwrap();
            let e = file.read().unwrap_err();
            assert!(e.contains("orders.jsonl.ban"), "{e}");
            assert!(e.contains("until_ms"), "{e}");
        }
    }
}
