//! `config.get`, `config.schema`, `config.set`, `config.apply`, `config.patch` (protocol.md §5.12).

use openclaw_core::wire::frames::{ErrorCode, ErrorShape};
use openclaw_core::wire::host::HostRequest;
use serde_json::Value;

use super::CliHost;

pub(super) async fn handle(_host: &CliHost, request: HostRequest) -> Result<Value, ErrorShape> {
    Err(ErrorShape::new(
        ErrorCode::Unavailable,
        format!("{} is not built yet", request.method_name()),
    ))
}
