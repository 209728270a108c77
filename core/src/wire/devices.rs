//! Params of the device-pairing methods (`device.pair.*`, `device.token.*`; the reference's
//! closed schemas).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `device.pair.approve` / `device.pair.reject` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PairRequestParams {
    #[schemars(length(min = 1))]
    pub request_id: String,
}

/// `device.pair.remove` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeviceIdParams {
    #[schemars(length(min = 1))]
    pub device_id: String,
}

/// `device.pair.rename` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DevicePairRenameParams {
    #[schemars(length(min = 1))]
    pub device_id: String,
    #[schemars(length(min = 1, max = 64))]
    pub label: String,
}

/// `device.token.rotate` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeviceTokenRotateParams {
    #[schemars(length(min = 1))]
    pub device_id: String,
    #[schemars(length(min = 1))]
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<crate::wire::connect::NonEmptyString>>,
}

/// `device.token.revoke` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeviceTokenRevokeParams {
    #[schemars(length(min = 1))]
    pub device_id: String,
    #[schemars(length(min = 1))]
    pub role: String,
}
