//! `logs.tail` (protocol.md §5.11).

use openclaw_core::wire::frames::{ErrorCode, ErrorShape};
use openclaw_core::wire::host::LogsTailParams;
use serde_json::Value;

use super::CliHost;

pub(super) async fn tail(_host: &CliHost, _params: LogsTailParams) -> Result<Value, ErrorShape> {
    Err(ErrorShape::new(ErrorCode::Unavailable, "log read failed: file logging is not built yet"))
}
