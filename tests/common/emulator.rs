//! `alertgate venue-emulator` as a child process, for the tests that need
//! a venue.

use std::process::{Child, Command, Stdio};

/// A running emulator, killed when dropped.
pub struct Emulator {
    pub child: Child,
    pub port: u16,
}

impl Emulator {
    /// Sends `signal` (`STOP`, `CONT`) to the emulator.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal}");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `alertgate venue-emulator ARGS` with `env` (its keys' variables)
/// and waits for the address it prints.
pub fn start(args: &[&str], env: &[(&str, &str)]) -> Emulator {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alertgate"))
        .arg("venue-emulator")
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let port = super::listening_port(&mut child);
    Emulator { child, port }
}
