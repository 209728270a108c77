//! `logs.tail` (protocol.md §5.11): reads the file the gateway is logging to right now.

use openclaw_core::wire::frames::{ErrorCode, ErrorShape};
use openclaw_core::wire::host::LogsTailParams;
use openclaw_io::logs::{tail, CurrentFile, LogSettings};
use serde_json::Value;

use super::CliHost;

pub(super) async fn tail(host: &CliHost, params: LogsTailParams) -> Result<Value, ErrorShape> {
    let current = match &host.logs {
        Some(handle) => handle.current_file(),
        // No logger installed (it failed to start): where the default logger would write.
        None => openclaw_io::logs::current_file(&LogSettings::default()),
    };
    let limit = params.limit.unwrap_or(LogsTailParams::DEFAULT_LIMIT) as usize;
    let max_bytes = u64::from(
        params
            .max_bytes
            .unwrap_or(LogsTailParams::DEFAULT_MAX_BYTES),
    );
    let CurrentFile { path, rolling } = current;
    let read = tokio::task::spawn_blocking(move || {
        tail::read(&path, rolling, params.cursor, limit, max_bytes)
    });
    match read.await {
        Ok(Ok(tail)) => Ok(tail.to_json()),
        Ok(Err(e)) => Err(ErrorShape::new(
            ErrorCode::Unavailable,
            format!("log read failed: {e}"),
        )),
        Err(e) => Err(ErrorShape::new(
            ErrorCode::Unavailable,
            format!("log read failed: {e}"),
        )),
    }
}
