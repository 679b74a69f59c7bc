//! Helpers shared by the server's integration tests: servers on `127.0.0.1:0` in temporary
//! directories, clients trusting their dev CA, error-shape assertions, and a minimal raw HTTPS
//! client for requests the typed client cannot express (arbitrary headers, invalid header bytes).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arca_client::{Client, ClientError, RawResponse};
use arca_proto::ErrorBody;
use arca_proto::sys::{InitRequest, InitResponse};
use arca_server::config::{Config, KeystoreConfig};
use arca_server::dev::{DevInfo, DevOptions};
use arca_server::{RunningServer, tls};
use arca_services::{Clock, SystemClock};
use axum::http::Method;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Upper bound for any single request: a test that waits longer has found a hang.
pub(crate) const REQUEST_DEADLINE: Duration = Duration::from_secs(20);

/// Fails the test if `fut` does not finish within [`REQUEST_DEADLINE`].
pub(crate) async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(REQUEST_DEADLINE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer within {REQUEST_DEADLINE:?} (hang)"),
    }
}

/// A temporary directory with dev certificates in `tls/` and the data directory `data/`.
#[derive(Debug)]
pub(crate) struct Env {
    pub(crate) dir: TempDir,
    pub(crate) config: Config,
    pub(crate) ca_pem: Vec<u8>,
}

impl Env {
    /// A Shamir server configuration with the default 1 MiB body limit.
    pub(crate) fn shamir() -> Self {
        Self::new(KeystoreConfig::Shamir, 1024 * 1024)
    }

    /// A configuration with the given keystore and body limit.
    pub(crate) fn new(keystore: KeystoreConfig, max_body_bytes: usize) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let tls_dir = dir.path().join("tls");
        std::fs::create_dir_all(&tls_dir).expect("tls dir");
        let certs = tls::ensure_dev_certificates(&tls_dir, SystemClock.now()).expect("dev certs");
        let ca_pem = std::fs::read(&certs.ca_cert).expect("read CA");
        let config = Config {
            listen: "127.0.0.1:0".parse().expect("listen address"),
            data_dir: dir.path().join("data"),
            region: "test".into(),
            tls_cert: certs.server_cert,
            tls_key: certs.server_key,
            keystore,
            store: arca_server::StoreConfig::Sqlite,
            max_body_bytes,
            request_timeout: Duration::from_secs(30),
            jobs_interval: Duration::from_secs(60),
            reclamation_period: Duration::from_secs(7 * 24 * 3600),
            events_allow_http: false,
            backup: None,
            audit: arca_services::audit::AuditSettings::default(),
        };
        Self {
            dir,
            config,
            ca_pem,
        }
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// Starts a server on this configuration.
    pub(crate) async fn start(&self) -> Server {
        let running = within("start", arca_server::start(&self.config))
            .await
            .expect("server starts");
        Server {
            url: format!("https://{}", running.local_addr()),
            ca_pem: self.ca_pem.clone(),
            running,
        }
    }
}

/// A running server and how to reach it.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) running: RunningServer,
    pub(crate) url: String,
    pub(crate) ca_pem: Vec<u8>,
}

impl Server {
    /// A client, with or without an API key.
    pub(crate) fn client(&self, api_key: Option<&str>) -> Client {
        Client::new(&self.url, Some(&self.ca_pem), api_key.map(str::to_owned)).expect("client")
    }

    pub(crate) async fn shutdown(self) {
        within("shutdown", self.running.shutdown()).await;
    }

    /// A raw HTTPS/1.1 request with exactly the given headers (see [`raw_https`]).
    pub(crate) async fn raw_https(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> RawHttp {
        raw_https(
            self.running.local_addr(),
            &self.ca_pem,
            method,
            path,
            headers,
            body,
        )
        .await
    }
}

/// Initializes through the client and unseals with the first `threshold` shares.
pub(crate) async fn init_and_unseal(client: &Client, shares: u8, threshold: u8) -> InitResponse {
    let init = within(
        "init",
        client.init(&InitRequest {
            shares: Some(shares),
            threshold: Some(threshold),
            account_name: Some("test".into()),
        }),
    )
    .await
    .expect("init");
    assert_eq!(init.shares.len(), usize::from(shares));
    for share in init.shares.iter().take(usize::from(threshold)) {
        within("unseal", client.unseal(Some(share)))
            .await
            .expect("unseal");
    }
    let status = within("seal-status", client.seal_status())
        .await
        .expect("status");
    assert!(status.initialized && !status.sealed, "{status:?}");
    init
}

/// A Shamir server initialized (`shares`/`threshold`) and unsealed, with an admin client.
pub(crate) async fn ready_server(
    env: &Env,
    shares: u8,
    threshold: u8,
) -> (Server, Client, InitResponse) {
    let server = env.start().await;
    let init = init_and_unseal(&server.client(None), shares, threshold).await;
    let admin = server.client(Some(&init.api_key));
    (server, admin, init)
}

/// Starts a dev server in a fresh temporary directory.
pub(crate) async fn start_dev() -> (TempDir, RunningServer, DevInfo, Client) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, info) = within(
        "start dev",
        arca_server::dev::start_dev(&DevOptions {
            listen: "127.0.0.1:0".parse().expect("listen address"),
            data_dir: dir.path().join("dev"),
        }),
    )
    .await
    .expect("dev server starts");
    let ca = std::fs::read(&info.ca_cert).expect("read dev CA");
    let client = Client::new(&info.url, Some(&ca), Some(info.api_key.clone())).expect("client");
    (dir, server, info, client)
}

/// `client.raw` with a deadline; transport errors fail the test.
pub(crate) async fn raw(
    client: &Client,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Vec<u8>>,
) -> RawResponse {
    let what = format!("{method} {path}");
    within(&what, client.raw(method, path, content_type, body.into()))
        .await
        .unwrap_or_else(|e| panic!("{what}: {e:?}"))
}

/// `raw` with a JSON content type.
pub(crate) async fn raw_json(
    client: &Client,
    method: Method,
    path: &str,
    body: impl Into<Vec<u8>>,
) -> RawResponse {
    raw(client, method, path, Some("application/json"), body).await
}

/// Asserts that `body` is an error in the API's shape for `status`, with a non-empty message,
/// and returns it.
pub(crate) fn assert_error_body(what: &str, status: u16, body: &[u8]) -> ErrorBody {
    let text = String::from_utf8_lossy(body);
    let parsed: ErrorBody = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{what}: body is not an ErrorBody ({e}): {text}"));
    assert_eq!(parsed.status_code, status, "{what}: status_code in {text}");
    let first = parsed
        .errors
        .first()
        .unwrap_or_else(|| panic!("{what}: no error item in {text}"));
    assert!(
        !first.code.trim().is_empty(),
        "{what}: empty code in {text}"
    );
    assert!(
        !first.message.trim().is_empty(),
        "{what}: empty message in {text}"
    );
    parsed
}

/// Asserts an error answer: exact status, error shape, a request id. Returns the first code.
pub(crate) fn assert_error(what: &str, resp: &RawResponse, status: u16) -> String {
    assert_eq!(
        resp.status,
        status,
        "{what}: {}",
        String::from_utf8_lossy(&resp.body)
    );
    assert_request_id(what, resp);
    let body = assert_error_body(what, status, &resp.body);
    body.errors[0].code.clone()
}

/// Asserts a client-side error is an API error of `status` with `code`.
pub(crate) fn assert_api_error(what: &str, err: &ClientError, status: u16, code: &str) {
    assert!(
        matches!(err, ClientError::Api { .. }),
        "{what}: not an API error: {err:?}"
    );
    assert_eq!(err.status(), Some(status), "{what}: {err:?}");
    assert_eq!(err.code(), Some(code), "{what}: {err:?}");
}

/// Asserts that the answer carries a non-empty `x-request-id`.
pub(crate) fn assert_request_id(what: &str, resp: &RawResponse) {
    let id = resp
        .headers
        .get("x-request-id")
        .unwrap_or_else(|| panic!("{what}: no x-request-id header"));
    assert!(!id.as_bytes().is_empty(), "{what}: empty x-request-id");
}

/// An answer read by [`raw_https`].
#[derive(Debug)]
pub(crate) struct RawHttp {
    pub(crate) status: u16,
    /// Header names in lowercase, with their values.
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
}

impl RawHttp {
    pub(crate) fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Sends one HTTP/1.1 request over TLS (trusting `ca_pem`) with exactly the given headers, plus
/// `Host`, `Connection: close` and `Content-Length`, and reads the whole answer. For requests
/// the typed client cannot make (other `Authorization` schemes, non-ASCII header bytes).
pub(crate) async fn raw_https(
    addr: std::net::SocketAddr,
    ca_pem: &[u8],
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> RawHttp {
    within(
        &format!("raw {method} {path}"),
        raw_https_inner(addr, ca_pem, method, path, headers, body),
    )
    .await
}

async fn raw_https_inner(
    addr: std::net::SocketAddr,
    ca_pem: &[u8],
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> RawHttp {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &ca_pem[..]) {
        roots.add(cert.expect("CA PEM")).expect("add CA");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("server name");
    let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");

    let mut req = Vec::new();
    req.extend_from_slice(format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n").as_bytes());
    req.extend_from_slice(b"Connection: close\r\n");
    req.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    for (name, value) in headers {
        req.extend_from_slice(name.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body);
    tls.write_all(&req).await.expect("write request");
    tls.flush().await.expect("flush request");

    let mut answer = Vec::new();
    // The server may close without a TLS close_notify; what was read until then is the answer.
    let _ = tls.read_to_end(&mut answer).await;
    parse_http_answer(&answer)
}

fn parse_http_answer(answer: &[u8]) -> RawHttp {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no complete header in {:?}",
                String::from_utf8_lossy(answer)
            )
        });
    let head = std::str::from_utf8(&answer[..end]).expect("ASCII response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, Vec<u8>)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().as_bytes().to_vec()))
        .collect();
    let rest = &answer[end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case(b"chunked"));
    let body = if chunked {
        decode_chunked(rest)
    } else if let Some((_, len)) = headers.iter().find(|(n, _)| n == "content-length") {
        let len: usize = std::str::from_utf8(len)
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("content-length");
        assert!(rest.len() >= len, "truncated body");
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    RawHttp {
        status,
        headers,
        body,
    }
}

fn decode_chunked(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = std::str::from_utf8(&rest[..line_end]).expect("chunk size");
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).expect("chunk size");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// The HTTP status of a call that must fail.
pub(crate) fn status_of<T: std::fmt::Debug>(what: &str, r: Result<T, ClientError>) -> u16 {
    match r {
        Ok(v) => panic!("{what}: expected an error, got {v:?}"),
        Err(e) => e
            .status()
            .unwrap_or_else(|| panic!("{what}: not an HTTP error: {e:?}")),
    }
}

/// The message of a call that must fail.
pub(crate) fn message_of<T: std::fmt::Debug>(r: Result<T, ClientError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

/// A copy of the database with the audit tables' rows removed and their bytes zeroed
/// (`secure_delete`), everything else byte for byte as it was, free pages included: what the
/// scans of reclaimed instances must find clean (the audit trail is the account's record and
/// is kept).
pub(crate) async fn without_audit_trail(data: &Path) -> TempDir {
    use sqlx::ConnectOptions;
    let copy = tempfile::tempdir().unwrap();
    for file in ["arca.db", "arca.db-wal"] {
        if data.join(file).exists() {
            std::fs::copy(data.join(file), copy.path().join(file)).unwrap();
        }
    }
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(copy.path().join("arca.db"))
        // Folds the WAL in; the rollback journal is deleted at each commit.
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Delete)
        .pragma("secure_delete", "ON")
        .connect()
        .await
        .unwrap();
    for sql in [
        "DROP TRIGGER audit_events_no_delete",
        "DELETE FROM audit_events",
        "DELETE FROM audit_account_heads",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    sqlx::Connection::close(conn).await.unwrap();
    assert!(!copy.path().join("arca.db-wal").exists());
    copy
}
