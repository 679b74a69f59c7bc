#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests for `arca-pki`, one binary (modules below) to keep link
//! time down.

mod common;
mod crl;
mod fuzz;
mod inspect;
mod openssl;
mod roundtrip;
mod template;
