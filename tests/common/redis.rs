//! A throwaway `redis-server` for the tests that need one.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// A throwaway `redis-server` on a free loopback port, its files in a
/// temporary directory.
pub struct Redis {
    pub server: Killed,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.server.0.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal}");
    }
}

/// A `redis-server` that keeps its claims across a restart (`appendonly
/// yes`), as `store_persistence = "require"` wants; see
/// [`redis_server_with`].
pub fn redis_server() -> Option<Redis> {
    redis_server_with(&["--appendonly", "yes"])
}

/// A `redis-server` started with `args`, or None (after a printed note)
/// when it is not installed and not required.
pub fn redis_server_with(args: &[&str]) -> Option<Redis> {
    redis_server_on(free_port(), args)
}

/// As [`redis_server_with`], on `port`.
pub fn redis_server_on(port: u16, args: &[&str]) -> Option<Redis> {
    if !on_path("redis-server") {
        assert!(
            std::env::var_os("ALERTGATE_REQUIRE_REDIS").is_none(),
            "ALERTGATE_REQUIRE_REDIS is set but redis-server is not on PATH"
        );
        eprintln!("note: redis-server is not on PATH; skipping the shared replay store test");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1", "--save", ""])
        .arg("--dir")
        .arg(dir.path())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let server = Killed(child);
    // Ready when it answers PING (`-NOAUTH` with a password).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut line = String::new();
            if s.write_all(b"PING\r\n").is_ok()
                && BufReader::new(&s).read_line(&mut line).is_ok()
                && (line.starts_with("+PONG") || line.starts_with("-NOAUTH"))
            {
                return Some(Redis {
                    server,
                    port,
                    _dir: dir,
                });
            }
        }
        assert!(Instant::now() < deadline, "redis-server not ready in 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}
