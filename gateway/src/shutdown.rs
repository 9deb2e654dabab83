//! The signal a long-running process (`serve`, the venue emulator) stops
//! on: SIGTERM or Ctrl-C.

/// Resolves at the first SIGTERM or Ctrl-C (SIGTERM only where there is
/// one; a failure to listen for it waits for Ctrl-C alone). SIGTERM is
/// caught from the call on, not from the first poll: a process that says
/// it is ready after calling this is never killed by a SIGTERM sent at
/// once (the default action). Call it within a Tokio runtime.
pub(crate) fn signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
        }
    }
}
