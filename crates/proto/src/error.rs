//! The error body of Arca's own APIs: IBM's platform error container.

use serde::{Deserialize, Serialize};

/// `{"errors":[{"code":..,"message":..}],"trace":..,"status_code":..}`: the container IBM's API
/// handbook prescribes, so IBM tooling parses Arca's errors the same way as the platform's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// One or more errors; the first is the main one.
    pub errors: Vec<ErrorItem>,
    /// The request id, to find the request in the server's logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// The HTTP status code, repeated for clients that lose it.
    pub status_code: u16,
}

/// One error of an [`ErrorBody`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorItem {
    /// A stable, machine-readable code such as `sealed` or `invalid_request`.
    pub code: String,
    /// A human-readable explanation. Never contains key material or secret data.
    pub message: String,
}
