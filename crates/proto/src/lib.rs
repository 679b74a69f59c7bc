//! Wire types of Arca's own HTTP APIs (system, health, instances), shared by the server and the client.
//!
//! The IBM-compatible APIs (Key Protect v2, Secrets Manager v2) have their own wire modules; this crate
//! holds only what Arca itself defines. Field names are snake_case JSON.
#![warn(missing_docs)]

pub mod audit;
pub mod error;
pub mod events;
pub mod health;
pub mod iam;
pub mod instance;
pub mod resource_controller;
pub mod sys;

pub use error::{ErrorBody, ErrorItem};
