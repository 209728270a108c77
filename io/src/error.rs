//! Errors of the driver.

/// What can go wrong starting or running the gateway.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// The listening socket could not be bound.
    #[error("failed to bind {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    /// Another socket-level failure.
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    /// The session database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] crate::agent::StoreError),
    /// The agent runtime could not be set up (TLS roots).
    #[error("agent runtime: {0}")]
    Agent(String),
    /// A driver task panicked or was cancelled.
    #[error("gateway task failed: {0}")]
    Task(String),
}
