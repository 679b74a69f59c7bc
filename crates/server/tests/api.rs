//! Bad input on every endpoint gets a clear 4xx in the API's error shape: never a 5xx, never a
//! hang, never a change of state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arca_keystore::KeystoreKind;
use arca_proto::instance::ServiceKind;
use arca_proto::sys::InitRequest;
use arca_server::config::KeystoreConfig;
use axum::http::Method;
use base64::Engine as _;
use common::{
    Env, assert_api_error, assert_error, assert_error_body, assert_request_id, raw, raw_json,
    ready_server, start_dev, within,
};

/// Body limit of the servers of this file (the configuration allows 1 KiB at least).
const LIMIT: usize = 4096;
/// Body limit of the unseal test, whose oversized shares must reach the share check.
const UNSEAL_LIMIT: usize = 32 * 1024;

/// One malformed request body and what it must get.
struct Case {
    what: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn case(
    what: &str,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        what: what.to_owned(),
        content_type,
        body: body.into(),
        status,
        code,
    }
}

const JSON: Option<&str> = Some("application/json");

/// Bodies every JSON endpoint must refuse, on a server whose body limit is `limit`. `valid`,
/// `wrong_type` and `unknown_field` are endpoint-specific JSON documents; `field` is a string field
/// of the endpoint, used to build oversized bodies.
fn malformed_bodies(
    limit: usize,
    valid: &str,
    wrong_type: &str,
    unknown_field: &str,
    field: &str,
) -> Vec<Case> {
    let big = |n: usize| format!("{{\"{field}\":\"{}\"}}", "a".repeat(n)).into_bytes();
    vec![
        case("garbage", JSON, "{not json", 400, "invalid_json"),
        case(
            "truncated",
            JSON,
            format!("{{\"{field}\":"),
            400,
            "invalid_json",
        ),
        case(
            "trailing garbage",
            JSON,
            format!("{valid} x"),
            400,
            "invalid_json",
        ),
        case(
            "two documents",
            JSON,
            format!("{valid}{valid}"),
            400,
            "invalid_json",
        ),
        case("empty body", JSON, "", 400, "invalid_json"),
        case(
            "non-UTF-8 bytes",
            JSON,
            &b"\xff\xfe\xfd\x00"[..],
            400,
            "invalid_json",
        ),
        case(
            "non-UTF-8 in a string",
            JSON,
            format!("{{\"{field}\":\"\u{1}\"}}")
                .into_bytes()
                .into_iter()
                .map(|b| if b == 1 { 0xff } else { b })
                .collect::<Vec<u8>>(),
            400,
            "invalid_json",
        ),
        case("wrong type", JSON, wrong_type, 422, "invalid_json"),
        case("unknown field", JSON, unknown_field, 422, "invalid_json"),
        case("a JSON string", JSON, "\"text\"", 422, "invalid_json"),
        case("null", JSON, "null", 422, "invalid_json"),
        case("no content type", None, "{}", 415, "unsupported_media_type"),
        case(
            "text/plain",
            Some("text/plain"),
            "{}",
            415,
            "unsupported_media_type",
        ),
        case(
            "form content type",
            Some("application/x-www-form-urlencoded"),
            "a=b",
            415,
            "unsupported_media_type",
        ),
        case(
            "just over the limit",
            JSON,
            big(limit + 1),
            413,
            "payload_too_large",
        ),
        case(
            "limit + 1 KB",
            JSON,
            big(limit + 1024),
            413,
            "payload_too_large",
        ),
        case(
            "2 MB body",
            JSON,
            big(2 * 1024 * 1024),
            413,
            "payload_too_large",
        ),
    ]
}

async fn check_cases(client: &arca_client::Client, path: &str, cases: &[Case]) {
    for c in cases {
        let what = format!("POST {path} ({})", c.what);
        let resp = raw(client, Method::POST, path, c.content_type, c.body.clone()).await;
        let code = assert_error(&what, &resp, c.status);
        assert_eq!(code, c.code, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_refuses_bad_bodies_and_params_and_runs_once() {
    let env = Env::new(KeystoreConfig::Shamir, LIMIT);
    let server = env.start().await;
    let client = server.client(None);

    let cases = malformed_bodies(
        LIMIT,
        "{}",
        r#"{"shares":"five"}"#,
        r#"{"shares":5,"bogus":1}"#,
        "account_name",
    );
    check_cases(&client, "/v1/sys/init", &cases).await;
    // More wrong types: out of range for u8, negative, fractional, a number for a string.
    for body in [
        r#"{"shares":256}"#,
        r#"{"threshold":-1}"#,
        r#"{"shares":2.5}"#,
        r#"{"account_name":5}"#,
        r#"{"shares":null,"threshold":[]}"#,
    ] {
        let resp = raw_json(&client, Method::POST, "/v1/sys/init", body).await;
        assert_error(body, &resp, 422);
    }

    // Invalid parameters: 400, nothing created.
    for (what, req) in [
        (
            "threshold 0",
            InitRequest {
                shares: Some(5),
                threshold: Some(0),
                account_name: None,
            },
        ),
        (
            "shares 0",
            InitRequest {
                shares: Some(0),
                threshold: Some(0),
                account_name: None,
            },
        ),
        (
            "threshold above shares",
            InitRequest {
                shares: Some(2),
                threshold: Some(3),
                account_name: None,
            },
        ),
        (
            "empty account name",
            InitRequest {
                shares: Some(1),
                threshold: Some(1),
                account_name: Some("   ".into()),
            },
        ),
        (
            "101-char account name",
            InitRequest {
                shares: Some(1),
                threshold: Some(1),
                account_name: Some("a".repeat(101)),
            },
        ),
    ] {
        let err = within(what, client.init(&req)).await.unwrap_err();
        assert_api_error(what, &err, 400, "invalid_request");
        let status = within("status", client.seal_status()).await.unwrap();
        assert!(!status.initialized, "{what}: {status:?}");
        assert!(status.sealed, "{what}: {status:?}");
    }
    let health = within("health", client.health()).await.unwrap();
    assert!(!health.initialized);

    // A valid init still works afterwards, with defaults for what is not given.
    let init = within("init", client.init(&InitRequest::default()))
        .await
        .expect("valid init after refused ones");
    assert_eq!(init.shares.len(), 5);
    assert_eq!(init.threshold, 3);
    assert!(!init.api_key.is_empty());
    let status = within("status", client.seal_status()).await.unwrap();
    assert!(status.initialized && status.sealed, "{status:?}");
    assert_eq!(
        (status.shares, status.threshold, status.progress),
        (5, 3, 0)
    );

    // Twice: 409, through the client and raw, whatever the parameters.
    let err = within("init again", client.init(&InitRequest::default()))
        .await
        .unwrap_err();
    assert_api_error("init again", &err, 409, "already_initialized");
    let resp = raw_json(
        &client,
        Method::POST,
        "/v1/sys/init",
        r#"{"shares":1,"threshold":1}"#,
    )
    .await;
    assert_eq!(
        assert_error("init again (raw)", &resp, 409),
        "already_initialized"
    );
    // Invalid params on an initialized server: refused either way, never a 5xx.
    let resp = raw_json(&client, Method::POST, "/v1/sys/init", r#"{"threshold":0}"#).await;
    assert!(resp.status == 400 || resp.status == 409, "{}", resp.status);
    assert_error("init bad params when initialized", &resp, resp.status);

    // The original shares still unseal: the refused calls changed nothing.
    for share in init.shares.iter().take(3) {
        within("unseal", client.unseal(Some(share))).await.unwrap();
    }
    assert!(!within("status", client.seal_status()).await.unwrap().sealed);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unseal_refuses_bad_shares_without_counting_them() {
    // Large enough for the 10 KB shares to reach the share check.
    let env = Env::new(KeystoreConfig::Shamir, UNSEAL_LIMIT);
    let server = env.start().await;
    let client = server.client(None);

    // Before init: no share can be given.
    let err = within(
        "unseal uninitialized",
        client.unseal(Some("arca-share-v1:AQI=")),
    )
    .await
    .unwrap_err();
    assert!(
        err.status()
            .is_some_and(|s| (400..500).contains(&s) || s == 503),
        "{err:?}"
    );
    assert_ne!(err.status(), Some(500), "{err:?}");

    let init = within(
        "init",
        client.init(&InitRequest {
            shares: Some(5),
            threshold: Some(3),
            account_name: None,
        }),
    )
    .await
    .unwrap();

    let progress = |client: arca_client::Client| async move {
        let s = within("status", client.seal_status()).await.unwrap();
        assert!(s.sealed, "{s:?}");
        s.progress
    };

    // Malformed bodies.
    let cases = malformed_bodies(
        UNSEAL_LIMIT,
        r#"{"share":"x"}"#,
        r#"{"share":5}"#,
        r#"{"share":"x","extra":true}"#,
        "share",
    );
    check_cases(&client, "/v1/sys/unseal", &cases).await;
    assert_eq!(progress(client.clone()).await, 0);

    // Shares of another server: the same format, a different secret.
    let foreign = arca_crypto::shamir::split(&[7u8; 32], 3, 8).unwrap();
    let long_share = format!(
        "arca-share-v1:{}",
        base64::engine::general_purpose::STANDARD.encode(vec![1u8; 8 * 1024])
    );
    let bad_shares: Vec<(&str, String)> = vec![
        ("garbage", "hello".into()),
        ("empty", String::new()),
        ("prefix only", "arca-share-v1:".into()),
        ("bad base64", "arca-share-v1:!!!not*base64!!!".into()),
        ("unpadded base64", "arca-share-v1:AQI".into()),
        ("index 0", "arca-share-v1:AAI=".into()),
        ("wrong version", "arca-share-v2:AQI=".into()),
        ("foreign share, index 1", foreign[0].to_text()),
        ("foreign share, index 6", foreign[5].to_text()),
        ("foreign share, index 8", foreign[7].to_text()),
        (
            "truncated real share",
            init.shares[0][..init.shares[0].len() - 8].to_owned(),
        ),
        ("10 KB share", "A".repeat(10 * 1024)),
        ("10 KB share with prefix", long_share),
        ("NUL bytes", "arca-share-v1:\0\0\0\0".into()),
    ];
    for (what, share) in &bad_shares {
        let err = within(what, client.unseal(Some(share))).await.unwrap_err();
        assert_api_error(what, &err, 400, "invalid_share");
        assert_eq!(progress(client.clone()).await, 0, "{what}");
    }
    // No share at all, for a Shamir server.
    let resp = raw_json(&client, Method::POST, "/v1/sys/unseal", "{}").await;
    assert_eq!(assert_error("no share", &resp, 400), "invalid_share");
    assert_eq!(progress(client.clone()).await, 0);

    // A valid share counts once.
    let s = within("share 1", client.unseal(Some(&init.shares[0])))
        .await
        .unwrap();
    assert_eq!((s.sealed, s.progress), (true, 1));
    let err = within("share 1 again", client.unseal(Some(&init.shares[0])))
        .await
        .unwrap_err();
    assert_api_error("share 1 again", &err, 400, "invalid_share");
    // With surrounding whitespace it is still the same share.
    let padded = format!("  {}\n", init.shares[0]);
    let err = within("share 1 padded", client.unseal(Some(&padded)))
        .await
        .unwrap_err();
    assert_api_error("share 1 padded", &err, 400, "invalid_share");
    assert_eq!(progress(client.clone()).await, 1);

    // Bad shares after progress: refused, progress kept.
    for (what, share) in &bad_shares {
        let err = within(what, client.unseal(Some(share))).await.unwrap_err();
        assert_api_error(what, &err, 400, "invalid_share");
        assert_eq!(progress(client.clone()).await, 1, "{what}");
    }
    let resp = raw_json(&client, Method::POST, "/v1/sys/unseal", "{\"share\":").await;
    assert_error("garbage after progress", &resp, 400);
    assert_eq!(progress(client.clone()).await, 1);

    // Two more distinct shares unseal.
    let s = within("share 3", client.unseal(Some(&init.shares[2])))
        .await
        .unwrap();
    assert_eq!((s.sealed, s.progress), (true, 2));
    let s = within("share 5", client.unseal(Some(&init.shares[4])))
        .await
        .unwrap();
    assert!(!s.sealed, "{s:?}");
    assert_eq!(s.progress, 0);
    let (ready, _) = within("ready", client.ready()).await.unwrap();
    assert!(ready);
    server.shutdown().await;
}

const DATA_ROUTES: [(&str, &str); 3] = [
    ("GET", "/v1/instances"),
    ("POST", "/v1/instances"),
    ("GET", "/v1/instances/00000000-0000-4000-8000-000000000000"),
];

fn method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).unwrap()
}

/// Every data route answers 503 with `code`, with or without credentials.
async fn assert_data_routes_unavailable(clients: &[&arca_client::Client], code: &str, when: &str) {
    for client in clients {
        for (m, path) in DATA_ROUTES {
            for body in [&b""[..], br#"{"name":"x","service":"kms"}"#] {
                let what = format!("{when}: {m} {path}");
                let resp = raw_json(client, method(m), path, body).await;
                assert_eq!(assert_error(&what, &resp, 503), code, "{what}");
            }
        }
        let err = within(when, client.list_instances()).await.unwrap_err();
        assert_api_error(when, &err, 503, code);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_endpoints_answer_503_unless_unsealed() {
    let env = Env::shamir();
    let server = env.start().await;
    let anonymous = server.client(None);
    let bogus = server.client(Some("not-a-real-key"));

    assert_data_routes_unavailable(&[&anonymous, &bogus], "not_initialized", "uninitialized").await;
    let (ready, health) = within("ready", anonymous.ready()).await.unwrap();
    assert!(!ready);
    assert_eq!(health.status, "uninitialized");

    let init = within(
        "init",
        anonymous.init(&InitRequest {
            shares: Some(3),
            threshold: Some(2),
            account_name: None,
        }),
    )
    .await
    .unwrap();
    let admin = server.client(Some(&init.api_key));
    assert_data_routes_unavailable(&[&anonymous, &bogus, &admin], "sealed", "sealed after init")
        .await;

    // One share is not enough.
    within("unseal 1", anonymous.unseal(Some(&init.shares[1])))
        .await
        .unwrap();
    assert_data_routes_unavailable(&[&anonymous, &admin], "sealed", "one share in").await;

    within("unseal 2", anonymous.unseal(Some(&init.shares[2])))
        .await
        .unwrap();
    let created = within("create", admin.create_instance("one", ServiceKind::Kms))
        .await
        .unwrap();
    // Unsealed: without credentials it is now 401, not 503.
    let resp = raw(&anonymous, Method::GET, "/v1/instances", None, "").await;
    assert_error("unsealed, anonymous", &resp, 401);

    let sealed = within("seal", admin.seal()).await.unwrap();
    assert!(sealed.sealed);
    assert_data_routes_unavailable(&[&anonymous, &bogus, &admin], "sealed", "after seal").await;
    let err = within("get after seal", admin.get_instance(&created.id))
        .await
        .unwrap_err();
    assert_api_error("get after seal", &err, 503, "sealed");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_401() {
    let env = Env::shamir();
    let (server, admin, init) = ready_server(&env, 1, 1).await;
    let instance = within("create", admin.create_instance("x", ServiceKind::Kms))
        .await
        .unwrap();
    let get_path = format!("/v1/instances/{}", instance.id);
    let routes: Vec<(&str, String, &[u8])> = vec![
        ("GET", "/v1/instances".into(), b""),
        (
            "POST",
            "/v1/instances".into(),
            br#"{"name":"y","service":"kms"}"#,
        ),
        ("GET", get_path.clone(), b""),
        ("POST", "/v1/sys/seal".into(), b""),
    ];
    let long_key = "k".repeat(10 * 1024);
    let bearer_long = format!("Bearer {long_key}");
    let bearer_real_basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:secret")
    );
    let authorizations: Vec<(&str, Option<&[u8]>)> = vec![
        ("no header", None),
        ("Basic x", Some(b"Basic x")),
        ("Basic credentials", Some(bearer_real_basic.as_bytes())),
        ("Bearer and nothing", Some(b"Bearer ")),
        ("Bearer without space", Some(b"Bearer")),
        ("Bearer spaces", Some(b"Bearer      ")),
        ("scheme only", Some(b"Token abc")),
        ("wrong key", Some(b"Bearer wrong-key")),
        ("10 KB key", Some(bearer_long.as_bytes())),
        ("non-ASCII bytes", Some(b"Bearer \xff\xfe\xc3\x28")),
        ("empty header", Some(b"")),
    ];
    for (m, path, body) in &routes {
        for (what, auth) in &authorizations {
            let what = format!("{m} {path}: {what}");
            let mut headers: Vec<(&str, &[u8])> = vec![("Content-Type", b"application/json")];
            if let Some(a) = auth {
                headers.push(("Authorization", a));
            }
            let resp = server.raw_https(m, path, &headers, body).await;
            assert_eq!(
                resp.status,
                401,
                "{what}: {}",
                String::from_utf8_lossy(&resp.body)
            );
            assert!(resp.header("x-request-id").is_some(), "{what}");
            let body = assert_error_body(&what, 401, &resp.body);
            assert_eq!(body.errors[0].code, "unauthenticated", "{what}");
        }
    }
    // The same through the typed client.
    for key in ["", "wrong", long_key.as_str()] {
        let c = server.client(Some(key));
        let err = within("list", c.list_instances()).await.unwrap_err();
        assert_api_error("list with a bad key", &err, 401, "unauthenticated");
        let err = within("seal", c.seal()).await.unwrap_err();
        assert_api_error("seal with a bad key", &err, 401, "unauthenticated");
    }
    // None of it sealed the server or created anything; the right key still works.
    let health = within("health", admin.health()).await.unwrap();
    assert!(!health.sealed);
    let list = within("list", admin.list_instances()).await.unwrap();
    assert_eq!(list.len(), 1);
    // The scheme is case-insensitive, as RFC 9110 says.
    let key = format!("bearer {}", init.api_key);
    let resp = server
        .raw_https("GET", &get_path, &[("Authorization", key.as_bytes())], b"")
        .await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let env = Env::shamir();
    let (server, admin, _) = ready_server(&env, 1, 1).await;
    let anonymous = server.client(None);
    for client in [&anonymous, &admin] {
        for (m, path) in [
            ("GET", "/"),
            ("GET", "/nope"),
            ("GET", "/v1"),
            ("GET", "/v1/sys"),
            ("POST", "/v1/sys/unknown"),
            ("GET", "/v1/instances/a/b"),
            ("GET", "/health/ready/x"),
            ("GET", "/v2/instances"),
        ] {
            let what = format!("{m} {path}");
            let resp = raw(client, method(m), path, None, "").await;
            assert_eq!(assert_error(&what, &resp, 404), "not_found", "{what}");
        }
        for (m, path) in [
            ("DELETE", "/v1/sys/init"),
            ("GET", "/v1/sys/init"),
            ("GET", "/v1/sys/unseal"),
            ("GET", "/v1/sys/seal"),
            ("PUT", "/v1/sys/seal-status"),
            ("POST", "/health"),
            ("DELETE", "/health/ready"),
            ("DELETE", "/v1/instances"),
            ("PUT", "/v1/instances"),
            (
                "PATCH",
                "/v1/instances/00000000-0000-4000-8000-000000000000",
            ),
            ("PUT", "/v1/instances/00000000-0000-4000-8000-000000000000"),
            ("DELETE", "/v1/reclamations"),
        ] {
            let what = format!("{m} {path}");
            let resp = raw_json(client, method(m), path, "{}").await;
            assert_eq!(
                assert_error(&what, &resp, 405),
                "method_not_allowed",
                "{what}"
            );
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_instances_are_404() {
    let env = Env::shamir();
    let (server, admin, _) = ready_server(&env, 1, 1).await;
    within("create", admin.create_instance("mine", ServiceKind::Kms))
        .await
        .unwrap();
    for id in [
        "not-a-uuid",
        "00000000-0000-4000-8000-000000000000",
        "6f1b6ad8-4a8e-4a3f-9f0c-6a2b1d0c9e11",
        "6F1B6AD8-4A8E-4A3F-9F0C-6A2B1D0C9E11",
        "' OR 1=1 --",
        "%00",
        &"a".repeat(5000),
    ] {
        let err = within(id, admin.get_instance(id)).await.unwrap_err();
        assert_api_error(id, &err, 404, "not_found");
    }
    // Path segments that are not valid UTF-8 once decoded: a 4xx, not a 5xx.
    let resp = raw(&admin, Method::GET, "/v1/instances/%ff%fe", None, "").await;
    assert!((400..500).contains(&resp.status), "{}", resp.status);
    assert_error("invalid UTF-8 id", &resp, resp.status);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seal_then_unseal_again() {
    let env = Env::shamir();
    let (server, admin, init) = ready_server(&env, 3, 2).await;
    let before = within("create", admin.create_instance("kept", ServiceKind::Kms))
        .await
        .unwrap();

    let status = within("seal", admin.seal()).await.unwrap();
    assert!(status.sealed && status.initialized, "{status:?}");
    assert_eq!(status.progress, 0);
    let health = within("health", admin.health()).await.unwrap();
    assert!(health.sealed && health.initialized, "{health:?}");
    assert_eq!(health.status, "ok");
    let (ready, health) = within("ready", admin.ready()).await.unwrap();
    assert!(!ready);
    assert_eq!(health.status, "sealed");
    let resp = raw(&admin, Method::GET, "/health/ready", None, "").await;
    assert_eq!(resp.status, 503);
    assert_request_id("ready while sealed", &resp);

    // Sealing a sealed server needs the key too, and changes nothing.
    let err = within("seal anonymous", server.client(None).seal())
        .await
        .unwrap_err();
    assert_api_error("seal anonymous", &err, 401, "unauthenticated");
    let again = within("seal again", admin.seal()).await.unwrap();
    assert!(again.sealed);

    // Unseal with other shares than the first time.
    within("unseal", admin.unseal(Some(&init.shares[2])))
        .await
        .unwrap();
    // Sealing forgets shares given so far.
    within("seal mid-unseal", admin.seal()).await.unwrap();
    let s = within("status", admin.seal_status()).await.unwrap();
    assert_eq!((s.sealed, s.progress), (true, 0));
    within("unseal", admin.unseal(Some(&init.shares[2])))
        .await
        .unwrap();
    let s = within("unseal", admin.unseal(Some(&init.shares[1])))
        .await
        .unwrap();
    assert!(!s.sealed);
    let (ready, _) = within("ready", admin.ready()).await.unwrap();
    assert!(ready);
    let got = within("get", admin.get_instance(&before.id)).await.unwrap();
    assert_eq!(got, before);
    within(
        "create after unseal",
        admin.create_instance("new", ServiceKind::Kms),
    )
    .await
    .unwrap();
    // Unseal while unsealed: harmless.
    let s = within("unseal unsealed", admin.unseal(Some(&init.shares[0])))
        .await
        .unwrap();
    assert!(!s.sealed);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_creation_validates_input() {
    let env = Env::new(KeystoreConfig::Shamir, LIMIT);
    let (server, admin, _) = ready_server(&env, 1, 1).await;

    let cases = malformed_bodies(
        LIMIT,
        r#"{"name":"x","service":"kms"}"#,
        r#"{"name":5,"service":"kms"}"#,
        r#"{"name":"x","service":"kms","extra":1}"#,
        "name",
    );
    check_cases(&admin, "/v1/instances", &cases).await;

    let name_101 = "n".repeat(101);
    let bad: Vec<(&str, String)> = vec![
        ("empty name", r#"{"name":"","service":"kms"}"#.into()),
        ("blank name", r#"{"name":"   ","service":"kms"}"#.into()),
        (
            "101-char name",
            format!(r#"{{"name":"{name_101}","service":"kms"}}"#),
        ),
        (
            "NUL in name",
            r#"{"name":"a\u0000b","service":"kms"}"#.into(),
        ),
        (
            "newline in name",
            r#"{"name":"a\nb","service":"kms"}"#.into(),
        ),
        (
            "escape in name",
            r#"{"name":"a\u001b[31mb","service":"kms"}"#.into(),
        ),
        (
            "DEL in name",
            r#"{"name":"a\u007fb","service":"kms"}"#.into(),
        ),
        (
            "C1 control in name",
            r#"{"name":"a\u0085b","service":"kms"}"#.into(),
        ),
        ("unknown service", r#"{"name":"x","service":"hsm"}"#.into()),
        ("service case", r#"{"name":"x","service":"KMS"}"#.into()),
        ("service as number", r#"{"name":"x","service":1}"#.into()),
        ("missing service", r#"{"name":"x"}"#.into()),
        ("missing name", r#"{"service":"kms"}"#.into()),
        ("empty object", "{}".into()),
        ("null name", r#"{"name":null,"service":"kms"}"#.into()),
    ];
    for (what, body) in &bad {
        let resp = raw_json(&admin, Method::POST, "/v1/instances", body.as_bytes()).await;
        assert!(
            resp.status == 400 || resp.status == 422,
            "{what}: {} {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
        assert_error(what, &resp, resp.status);
    }
    // Through the typed client, the service rules are 400 invalid_request.
    for name in ["", " ", name_101.as_str(), "tab\there", "bell\u{7}"] {
        let err = within(name, admin.create_instance(name, ServiceKind::Kms))
            .await
            .unwrap_err();
        assert_api_error(name, &err, 400, "invalid_request");
    }
    assert!(
        within("list", admin.list_instances())
            .await
            .unwrap()
            .is_empty(),
        "a refused request created an instance"
    );

    // The limits themselves are accepted: 100 characters (multi-byte ones too), both services.
    let name_100 = "é".repeat(100);
    let created = within(
        "100 chars",
        admin.create_instance(&name_100, ServiceKind::Kms),
    )
    .await
    .unwrap();
    assert_eq!(created.name, name_100);
    let sm = within(
        "secrets-manager",
        admin.create_instance("  padded  ", ServiceKind::SecretsManager),
    )
    .await
    .unwrap();
    assert_eq!(sm.name, "padded");
    assert_eq!(sm.service, ServiceKind::SecretsManager);
    let resp = raw_json(
        &admin,
        Method::POST,
        "/v1/instances",
        r#"{"name":"raw","service":"secrets-manager"}"#,
    )
    .await;
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    assert_request_id("create", &resp);
    // A content type with parameters is still JSON.
    let resp = raw(
        &admin,
        Method::POST,
        "/v1/instances",
        Some("application/json; charset=utf-8"),
        r#"{"name":"charset","service":"kms"}"#,
    )
    .await;
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(
        within("list", admin.list_instances()).await.unwrap().len(),
        4
    );

    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id() {
    let env = Env::shamir();
    let server = env.start().await;
    let anonymous = server.client(None);
    // Before init, after init, unsealed: successes and errors alike.
    let mut seen = std::collections::HashSet::new();
    let mut check = |what: &str, resp: &arca_client::RawResponse| {
        assert_request_id(what, resp);
        let id = resp
            .headers
            .get("x-request-id")
            .unwrap()
            .as_bytes()
            .to_vec();
        assert!(seen.insert(id), "{what}: request id reused");
    };
    for (m, path) in [
        ("GET", "/health"),
        ("GET", "/health/ready"),
        ("GET", "/v1/sys/seal-status"),
        ("GET", "/v1/instances"),
        ("GET", "/nope"),
        ("DELETE", "/v1/sys/init"),
        ("POST", "/v1/sys/unseal"),
    ] {
        let resp = raw(&anonymous, method(m), path, None, "").await;
        check(&format!("{m} {path}"), &resp);
    }
    let resp = raw_json(
        &anonymous,
        Method::POST,
        "/v1/sys/init",
        r#"{"shares":1,"threshold":1}"#,
    )
    .await;
    assert_eq!(resp.status, 200);
    check("init", &resp);
    let init: arca_proto::sys::InitResponse = serde_json::from_slice(&resp.body).unwrap();
    let body = serde_json::json!({ "share": init.shares[0] }).to_string();
    let resp = raw_json(&anonymous, Method::POST, "/v1/sys/unseal", body).await;
    assert_eq!(resp.status, 200);
    check("unseal", &resp);
    let admin = server.client(Some(&init.api_key));
    for (m, path, body) in [
        ("POST", "/v1/instances", r#"{"name":"a","service":"kms"}"#),
        ("GET", "/v1/instances", ""),
        ("GET", "/v1/instances/nope", ""),
        ("POST", "/v1/instances", "{"),
        ("POST", "/v1/sys/seal", ""),
    ] {
        let resp = raw_json(&admin, method(m), path, body).await;
        assert!(resp.status < 500, "{m} {path}: {}", resp.status);
        check(&format!("{m} {path}"), &resp);
    }
    // A caller's own request id is kept.
    let resp = server
        .raw_https(
            "GET",
            "/health",
            &[("X-Request-Id", b"caller-chosen-id-42")],
            b"",
        )
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("x-request-id"),
        Some(&b"caller-chosen-id-42"[..])
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_server_is_ready_and_refuses_bad_input() {
    let (_dir, server, info, client) = start_dev().await;
    let health = within("health", client.health()).await.unwrap();
    assert!(health.initialized && !health.sealed, "{health:?}");
    assert_eq!(health.keystore, KeystoreKind::Shamir.as_str());
    let (ready, _) = within("ready", client.ready()).await.unwrap();
    assert!(ready);
    let kms = within("get", client.get_instance(&info.kms_instance_id))
        .await
        .unwrap();
    assert_eq!(kms.account_id, info.account_id);
    assert_eq!(kms.service, ServiceKind::Kms);

    // Dev servers are initialized: init is refused; shares are never needed.
    let err = within("init", client.init(&InitRequest::default()))
        .await
        .unwrap_err();
    assert_api_error("init on dev", &err, 409, "already_initialized");
    // Unsealed already: a share is not even looked at (the status comes back), or it is refused
    // with a 4xx; never a 5xx, never a change.
    match within("unseal garbage", client.unseal(Some("nope"))).await {
        Ok(status) => assert!(!status.sealed, "{status:?}"),
        Err(err) => assert!(
            err.status().is_some_and(|s| (400..500).contains(&s)),
            "{err:?}"
        ),
    }
    assert!(!within("health", client.health()).await.unwrap().sealed);

    // Its default body limit is 1 MiB: 2 MB is refused, a small body is not.
    let big = format!(
        r#"{{"name":"{}","service":"kms"}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let resp = raw_json(&client, Method::POST, "/v1/instances", big).await;
    assert_eq!(assert_error("2 MB on dev", &resp, 413), "payload_too_large");
    let resp = raw_json(&client, Method::POST, "/v1/instances", "{\"name\":").await;
    assert_eq!(assert_error("garbage on dev", &resp, 400), "invalid_json");
    within("shutdown", server.shutdown()).await;
}

/// Regression: a refusal given before the request body is read (413 over the limit, 401, 503)
/// must reach the client, not be lost to a reset connection (broken pipe), and a client reusing
/// pooled connections must not send its next request on the one being closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_refusals_of_large_bodies_reach_the_client() {
    let env = Env::new(KeystoreConfig::Shamir, LIMIT);
    let (server, admin, _) = ready_server(&env, 1, 1).await;
    let bogus = server.client(Some("wrong"));
    for size in [64 * 1024, 2 * 1024 * 1024] {
        let body = format!(r#"{{"name":"{}","service":"kms"}}"#, "a".repeat(size));
        for round in 0..8 {
            for path in ["/v1/sys/init", "/v1/sys/unseal", "/v1/instances"] {
                let what = format!("{size} bytes to {path}, round {round}");
                let resp = raw_json(&admin, Method::POST, path, body.clone()).await;
                assert_eq!(assert_error(&what, &resp, 413), "payload_too_large");
            }
            let what = format!("{size} bytes with a bad key, round {round}");
            let resp = raw_json(&bogus, Method::POST, "/v1/instances", body.clone()).await;
            assert_error(&what, &resp, 401);
            let resp = raw_json(&bogus, Method::POST, "/nope", body.clone()).await;
            assert_error(&what, &resp, 404);
        }
    }
    // The connections that were closed did not disturb the next requests.
    within("list", admin.list_instances()).await.unwrap();
    within("seal", admin.seal()).await.unwrap();
    let body = format!(r#"{{"name":"{}","service":"kms"}}"#, "a".repeat(256 * 1024));
    for round in 0..8 {
        let resp = raw_json(&admin, Method::POST, "/v1/instances", body.clone()).await;
        assert_eq!(
            assert_error(&format!("sealed, round {round}"), &resp, 503),
            "sealed"
        );
    }
    server.shutdown().await;
}
