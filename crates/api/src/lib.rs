//! Arca's HTTP layer. Handlers parse, call one service method and map the result; the mapping of
//! errors to status codes and wire bodies lives in [`error`] alone.
//!
//! Transport (TLS, the accept loop) belongs to the server crate: this crate only builds the
//! [`axum::Router`].
#![warn(missing_docs)]

mod audit;
pub mod error;
mod extract;
mod kp;
mod router;
mod routes;
mod sm;

pub use error::ApiError;
pub use router::{Limits, router};

use arca_services::Arca;

/// The client's IP address, attached to each request by the server's accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

/// What every handler can reach. Cloned for every request and extractor, so it holds the
/// services behind one `Arc`: a clone is one atomic increment.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The services.
    pub arca: std::sync::Arc<Arca>,
}
