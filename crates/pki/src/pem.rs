//! PEM in and out.
//!
//! Parsing goes through `rustls-pki-types`, whose decoder uses constant-time
//! base64 for private-key sections. Everything decoded lands in zeroizing
//! buffers because a section may be a private key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::pem::{self, PemObject as _, SectionKind};
use zeroize::Zeroizing;

use crate::error::PkiError;

/// Smallest PEM input the Secrets Manager API accepts (bytes).
pub const MIN_PEM_LEN: usize = 50;
/// Largest PEM input the Secrets Manager API accepts (100 KB).
pub const MAX_PEM_LEN: usize = 100 * 1024;

/// One decoded PEM block.
pub(crate) struct Section {
    pub(crate) kind: SectionKind,
    pub(crate) der: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The block may be a private key: show its kind and size only.
        f.debug_struct("Section")
            .field("kind", &self.kind)
            .field("len", &self.der.len())
            .finish()
    }
}

/// Rejects inputs outside the API's 50 B – 100 KB window before any parsing,
/// so oversized input costs nothing.
pub(crate) fn check_size(field: &'static str, text: &str) -> Result<(), PkiError> {
    let len = text.len();
    if (MIN_PEM_LEN..=MAX_PEM_LEN).contains(&len) {
        Ok(())
    } else {
        Err(PkiError::InvalidSize {
            field,
            len,
            min: MIN_PEM_LEN,
            max: MAX_PEM_LEN,
        })
    }
}

/// Decodes every PEM block in `text`.
///
/// Fails if there is no block at all, if a block is malformed, or if a block
/// has a label we do not know: the underlying parser skips unknown labels,
/// and silently ignoring (say) a `TRUSTED CERTIFICATE` would confuse users
/// more than an error does.
pub(crate) fn sections(field: &'static str, text: &str) -> Result<Vec<Section>, PkiError> {
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
    {
        return Err(if field == "private_key" {
            PkiError::EncryptedPrivateKey
        } else {
            malformed(field, "unexpected encrypted private key")
        });
    }
    let mut out = Vec::new();
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(text.as_bytes()) {
        let (kind, der) = item.map_err(|e| malformed(field, describe(&e)))?;
        out.push(Section {
            kind,
            der: Zeroizing::new(der),
        });
    }
    // Split exactly as the parser does, so the counts are comparable.
    let begin_lines = text
        .split(['\n', '\r'])
        .filter(|l| l.starts_with("-----BEGIN "))
        .count();
    if out.is_empty() {
        return Err(malformed(
            field,
            if begin_lines == 0 {
                "no PEM block found"
            } else {
                "unsupported PEM block type"
            },
        ));
    }
    if begin_lines != out.len() {
        return Err(malformed(field, "unsupported PEM block type"));
    }
    Ok(out)
}

/// Decodes `text` as one or more `CERTIFICATE` blocks and nothing else.
pub(crate) fn certificates(field: &'static str, text: &str) -> Result<Vec<Vec<u8>>, PkiError> {
    sections(field, text)?
        .into_iter()
        .map(|s| {
            if s.kind == SectionKind::Certificate {
                // Certificates are public: leave the zeroizing wrapper.
                Ok(s.der.to_vec())
            } else {
                Err(malformed(field, "expected only CERTIFICATE blocks"))
            }
        })
        .collect()
}

/// Decodes `text` as exactly one `CERTIFICATE` block.
pub(crate) fn single_certificate(field: &'static str, text: &str) -> Result<Vec<u8>, PkiError> {
    let mut certs = certificates(field, text)?;
    match (certs.pop(), certs.is_empty()) {
        (Some(der), true) => Ok(der),
        _ => Err(malformed(field, "expected exactly one CERTIFICATE block")),
    }
}

/// Decodes `text` as exactly one private-key block (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn single_private_key(
    field: &'static str,
    text: &str,
) -> Result<(SectionKind, Zeroizing<Vec<u8>>), PkiError> {
    let mut all = sections(field, text)?;
    let section = match (all.pop(), all.is_empty()) {
        (Some(s), true) => s,
        _ => return Err(malformed(field, "expected exactly one private key block")),
    };
    match section.kind {
        SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey => {
            Ok((section.kind, section.der))
        }
        _ => Err(malformed(
            field,
            "expected a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block",
        )),
    }
}

/// Decodes `text` as exactly one `CERTIFICATE REQUEST` block.
pub(crate) fn single_csr(text: &str) -> Result<Vec<u8>, PkiError> {
    let mut all = sections("csr", text)?;
    match (all.pop(), all.is_empty()) {
        (Some(s), true) if s.kind == SectionKind::Csr => Ok(s.der.to_vec()),
        _ => Err(malformed(
            "csr",
            "expected exactly one CERTIFICATE REQUEST block",
        )),
    }
}

fn malformed(field: &'static str, reason: &str) -> PkiError {
    PkiError::MalformedPem {
        field,
        reason: reason.to_owned(),
    }
}

/// A fixed description per parser error: some variants carry slices of the
/// input, which may be key material, so none of it is echoed.
fn describe(err: &pem::Error) -> &'static str {
    match err {
        pem::Error::MissingSectionEnd { .. } => "a PEM block has no END line",
        pem::Error::IllegalSectionStart { .. } => "a PEM block has a malformed BEGIN line",
        pem::Error::Base64Decode(_) => "a PEM block is not valid base64",
        _ => "unreadable PEM",
    }
}

/// PEM-encodes public data (certificates, CSRs, CRLs).
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let mut out = String::with_capacity(capacity(label, der));
    encode_into(&mut out, label, der);
    out
}

/// PEM-encodes a private key into a zeroizing string.
///
/// The capacity is reserved up front so the string never reallocates, which
/// would leave an un-wiped copy of the key on the heap.
pub(crate) fn encode_secret(label: &str, der: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(capacity(label, der)));
    encode_into(&mut out, label, der);
    out
}

fn capacity(label: &str, der: &[u8]) -> usize {
    // Two armour lines plus 64 characters and a newline per 48 input bytes.
    2 * (label.len() + 17) + der.len().div_ceil(48) * 65
}

fn encode_into(out: &mut String, label: &str, der: &[u8]) {
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in der.chunks(48) {
        STANDARD.encode_string(chunk, out);
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn encode_wraps_at_64_columns_and_round_trips() {
        let der: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let text = encode("CERTIFICATE", &der);
        assert!(text.lines().all(|l| l.len() <= 64));
        assert_eq!(text.capacity(), capacity("CERTIFICATE", &der));
        let back = certificates("certificate", &text).unwrap();
        assert_eq!(back, vec![der]);
    }

    #[test]
    fn secret_encoding_never_reallocates() {
        for len in [0usize, 1, 47, 48, 49, 1217] {
            let der = vec![7u8; len];
            let text = encode_secret("PRIVATE KEY", &der);
            assert_eq!(text.capacity(), capacity("PRIVATE KEY", &der), "len {len}");
        }
    }

    #[test]
    fn unknown_labels_and_garbage_are_rejected() {
        let err = sections("certificate", "hello world, not pem at all").unwrap_err();
        assert!(err.to_string().contains("no PEM block"), "{err}");
        let odd = "-----BEGIN TRUSTED CERTIFICATE-----\nAAAA\n-----END TRUSTED CERTIFICATE-----\n";
        let err = sections("certificate", odd).unwrap_err();
        assert!(err.to_string().contains("unsupported"), "{err}");
        let enc =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(
            sections("private_key", enc).unwrap_err(),
            PkiError::EncryptedPrivateKey
        );
    }

    #[test]
    fn size_window() {
        assert!(check_size("certificate", &"a".repeat(49)).is_err());
        assert!(check_size("certificate", &"a".repeat(50)).is_ok());
        assert!(check_size("certificate", &"a".repeat(MAX_PEM_LEN)).is_ok());
        assert!(check_size("certificate", &"a".repeat(MAX_PEM_LEN + 1)).is_err());
    }
}
