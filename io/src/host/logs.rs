//! `logs.tail` (protocol.md §5.11): reads the file the gateway is logging to right now.

use openclaw_core::wire::frames::{ErrorCode, ErrorShape};
use openclaw_core::wire::host::LogsTailParams;
use crate::logs::{tail, CurrentFile, LogSettings};
use serde_json::Value;

use super::FileHost;

pub(super) async fn tail(host: &FileHost, params: LogsTailParams) -> Result<Value, ErrorShape> {
    let current = match &host.logs {
        Some(handle) => handle.current_file(),
        // No logger installed (it failed to start): where the default logger would write.
        None => crate::logs::current_file(&LogSettings::default()),
    };
    let limit = params.limit.unwrap_or(LogsTailParams::DEFAULT_LIMIT) as usize;
    let max_bytes = u64::from(
        params
            .max_bytes
            .unwrap_or(LogsTailParams::DEFAULT_MAX_BYTES),
    );
    let CurrentFile { path, rolling } = current;
    let logs = host.logs.clone();
    // Reading and redacting up to maxBytes is blocking work: off the async runtime.
    let read = tokio::task::spawn_blocking(move || {
        let mut tail = tail::read(&path, rolling, params.cursor, limit, max_bytes)?;
        if let Some(handle) = logs {
            tail.lines = handle.redact_lines(tail.lines);
        }
        Ok::<_, std::io::Error>(tail.to_json())
    });
    let failed = |e: &dyn std::fmt::Display| {
        ErrorShape::new(ErrorCode::Unavailable, format!("log read failed: {e}"))
    };
    match read.await {
        Ok(Ok(payload)) => Ok(payload),
        Ok(Err(e)) => Err(failed(&e)),
        Err(e) => Err(failed(&e)),
    }
}
