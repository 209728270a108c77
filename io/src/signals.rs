//! Process signals that stop the gateway.

use tokio::signal::unix::{signal, SignalKind};

/// Resolves on the first SIGTERM/SIGINT; returns which. A second signal is handled by the
/// caller (exit at once). If the handlers cannot be installed, it falls back to Ctrl-C only.
pub async fn shutdown_signal() -> &'static str {
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
