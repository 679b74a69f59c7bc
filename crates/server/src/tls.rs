//! TLS: the server configuration (TLS 1.2 and 1.3 only, aws-lc-rs) and, for dev mode, a
//! self-signed CA with a server certificate for localhost.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;

use crate::ServerError;

fn read(path: &Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|source| ServerError::Io {
        what: format!("read {}", path.display()),
        source,
    })
}

/// Builds the rustls server configuration from PEM files. Only TLS 1.3 and 1.2 are offered, with
/// rustls' default (AEAD-only, forward-secret) cipher suites; older versions fail the handshake.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, ServerError> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| ServerError::Tls(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ServerError::Tls(format!(
            "{}: no certificate found",
            cert.display()
        )));
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(|e| ServerError::Tls(format!("{}: {e}", key.display())))?
        .ok_or_else(|| ServerError::Tls(format!("{}: no private key found", key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// PEM files of a dev CA and a server certificate it signed.
#[derive(Debug, Clone)]
pub struct DevCertificates {
    /// The CA certificate (what clients trust).
    pub ca_cert: std::path::PathBuf,
    /// The server certificate.
    pub server_cert: std::path::PathBuf,
    /// The server key.
    pub server_key: std::path::PathBuf,
}

fn tls_err(e: rcgen::Error) -> ServerError {
    ServerError::Tls(e.to_string())
}

/// Makes (or reuses, when present) a dev CA and a server certificate for `localhost`,
/// `127.0.0.1` and `::1` in `dir`. Keys are written with mode 0600.
pub fn ensure_dev_certificates(
    dir: &Path,
    now: OffsetDateTime,
) -> Result<DevCertificates, ServerError> {
    let out = DevCertificates {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
    };
    if out.ca_cert.exists() && out.server_cert.exists() && out.server_key.exists() {
        return Ok(out);
    }
    let not_before = now - time::Duration::days(1);
    let not_after = now + time::Duration::days(3650);

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Arca dev CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca_key = KeyPair::generate().map_err(tls_err)?;
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(tls_err)?;

    let mut params = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .map_err(tls_err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "Arca dev server");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate().map_err(tls_err)?;
    let cert = params.signed_by(&key, &ca).map_err(tls_err)?;

    crate::dev::write_private(&out.server_key, key.serialize_pem().as_bytes())?;
    crate::dev::write_public(&out.server_cert, cert.pem().as_bytes())?;
    // The CA's key is not kept: a new CA is made if any file is missing.
    crate::dev::write_public(&out.ca_cert, ca.pem().as_bytes())?;
    Ok(out)
}
