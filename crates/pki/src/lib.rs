//! Arca's X.509 toolkit for certificate secrets.
//!
//! Pure functions for the secrets service: no I/O, no clock (every call
//! that needs the time takes `now`), randomness only from the operating
//! system (via aws-lc-rs) for keys and serial numbers.
//!
//! - [`inspect`](fn@inspect) validates an imported certificate bundle (`imported_cert`)
//!   and returns the metadata Secrets Manager shows. It is the parser of
//!   untrusted input and the fuzzing entry point.
//! - [`generate_root`], [`generate_intermediate`], [`intermediate_csr`],
//!   [`sign_csr`] and [`CaSigner`] run the private CA (root / intermediate
//!   configurations and their actions).
//! - [`issue`](fn@issue) issues `private_cert` secrets under a [`Template`].
//! - [`build_crl`] produces the CA's revocation list.
//!
//! ```
//! use std::time::Duration;
//! use arca_pki::{CaParams, CaSigner, KeyType, LeafRequest, Template};
//! use time::macros::datetime;
//!
//! let now = datetime!(2026-01-01 0:00 UTC);
//! let mut params = CaParams::new("Example Root", Duration::from_secs(10 * 365 * 86_400));
//! params.key_type = KeyType::Ec;
//! params.key_bits = 256;
//! let root = arca_pki::generate_root(&params, now)?;
//! let ca = CaSigner::from_pem(&root.certificate_pem, &root.private_key_pem)?;
//!
//! let template = Template { key_type: KeyType::Ec, key_bits: 256, ..Template::default() };
//! let leaf = arca_pki::issue(&ca, &template, &LeafRequest::new("localhost"), now)?;
//! assert_eq!(leaf.info.common_name.as_deref(), Some("localhost"));
//! assert_eq!(leaf.info.issuer, "CN=Example Root");
//!
//! let crl = arca_pki::build_crl(&ca, &[(leaf.serial_number.as_str(), now)], 1, now,
//!     Duration::from_secs(86_400))?;
//! assert!(crl.starts_with("-----BEGIN X509 CRL-----"));
//! # Ok::<(), arca_pki::PkiError>(())
//! ```
//!
//! Supported keys: RSA 2048/3072/4096 (signing with SHA-256), ECDSA P-256,
//! P-384 and P-521 (SHA-256/384/512), and Ed25519 for imported certificates
//! and CSRs. Private keys are read as PKCS#8, PKCS#1 or SEC1 PEM and
//! written as PKCS#8 or, IBM's `der`, PKCS#1 / SEC1 PEM. Encrypted keys are
//! refused.
//!
//! Private keys live in [`zeroize::Zeroizing`] buffers and never appear in
//! `Debug` output or errors.

#![warn(missing_docs)]

mod build;
mod ca;
mod crl;
mod csr;
mod error;
mod inspect;
mod issue;
mod keys;
mod names;
mod pem;
mod serial;
mod template;
mod ttl;

pub use ca::{
    CaParams, CaSigner, CsrBundle, IssuedCa, SignOverrides, accept_signed_intermediate,
    generate_intermediate, generate_root, intermediate_csr, sign_csr,
};
pub use crl::build_crl;
pub use error::PkiError;
pub use inspect::{CertificateInfo, inspect};
pub use issue::{IssuedCert, LeafRequest, issue};
pub use keys::{KeyType, PrivateKeyFormat, convert_private_key};
pub use pem::{MAX_PEM_LEN, MIN_PEM_LEN};
pub use serial::{format_serial, parse_serial};
pub use template::Template;
pub use ttl::parse_ttl;
pub use zeroize::Zeroizing;
