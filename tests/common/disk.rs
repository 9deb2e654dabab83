//! A small disk the tests can fill and empty while the gateway writes to
//! it (a tmpfs; mounting needs root, see [`SmallDisk::mount`]).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size` mounted on a directory: a disk the test can fill and
/// empty while the gateway writes to it. Unmounted when dropped.
pub struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    /// Mounts it at `dir`; `None` (after saying why on stderr) when this
    /// process may not mount, unless `ALERTGATE_REQUIRE_DISK_FAULTS` is set.
    pub fn mount(dir: &Path, size: &str, test: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "alertgate-test",
            ])
            .arg(dir)
            .output();
        let why = match out {
            Ok(o) if o.status.success() => {
                return Some(SmallDisk {
                    dir: dir.to_path_buf(),
                })
            }
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
            Err(e) => e.to_string(),
        };
        assert!(
            std::env::var_os("ALERTGATE_REQUIRE_DISK_FAULTS").is_none(),
            "{test}: cannot mount a tmpfs ({why}), and ALERTGATE_REQUIRE_DISK_FAULTS is set"
        );
        // Straight to stderr: the test harness captures `eprintln!` of a
        // passing test, and a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: cannot mount a tmpfs to fill ({why}); needs root. \
             Set ALERTGATE_REQUIRE_DISK_FAULTS=1 to make this an error."
        );
        None
    }

    pub fn filler(&self) -> PathBuf {
        self.dir.join("filler")
    }

    /// Fills the disk: a file grows until ENOSPC.
    pub fn fill(&self) {
        let mut f = File::create(self.filler()).unwrap();
        let block = [0x55u8; 4096];
        while matches!(f.write(&block), Ok(n) if n > 0) {}
    }

    /// Gives the room back.
    pub fn empty(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}
