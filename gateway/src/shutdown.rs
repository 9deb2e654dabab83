//! The signal a long-running process (`serve`, the venue emulator) stops
//! on: SIGTERM or Ctrl-C.

/// Resolves at the first SIGTERM or Ctrl-C (SIGTERM only where there is
/// one; a failure to listen for it waits for Ctrl-C alone).
pub(crate) async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
