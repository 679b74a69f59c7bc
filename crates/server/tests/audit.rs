//! The audit trail through the API: every call is recorded (who, what, on what, outcome,
//! status, correlation id, source), changes are recorded before they are answered, nothing of a
//! payload reaches a record, only account administrators read them, the stored chain verifies,
//! and a full spool refuses requests (503, and not ready) instead of running them unaudited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arca_client::kp::{KeyFilter, NewKey};
use arca_proto::audit::AuditEvent;
use arca_store::audit::AuditQuery;
use axum::http::Method;
use base64::Engine as _;
use common::{raw, raw_https, start_dev, within};
use serde_json::json;

const PLAINTEXT: &[u8] = b"audit plaintext never recorded";
const SECRET: &str = "audit secret payload never recorded";

fn find<'a>(events: &'a [AuditEvent], action: &str) -> Vec<&'a AuditEvent> {
    events.iter().filter(|e| e.action == action).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_recorded_with_their_outcome_and_nothing_of_their_data() {
    let (_dir, server, info, admin) = start_dev().await;
    let kp = admin.kp(&info.kms_instance_id);
    let sm = admin.sm(&info.secrets_manager_instance_id);

    let key = within("create", kp.create_key(&NewKey::root("audited")))
        .await
        .unwrap();
    let wrapped = within("wrap", kp.wrap(&key.id, Some(PLAINTEXT), &[]))
        .await
        .unwrap();
    let missing = kp.get_key("00000000-0000-4000-8000-000000000000").await;
    assert_eq!(missing.unwrap_err().status(), Some(404));
    // A correlation id of the caller's is kept and echoed; one is made when none is given.
    let mut with_id = raw(&admin, Method::GET, "/v1/instances", None, Vec::new()).await;
    let made = with_id.headers["correlation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(made.len(), 36, "{made}");
    let ca = std::fs::read(&info.ca_cert).unwrap();
    let bearer = format!("Bearer {}", info.api_key);
    let resp = raw_https(
        server.local_addr(),
        &ca,
        "GET",
        "/v1/instances",
        &[
            ("authorization", bearer.as_bytes()),
            ("x-correlation-id", b"corr-audit-1"),
        ],
        b"",
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("correlation-id"), Some(&b"corr-audit-1"[..]));
    // Unauthenticated: recorded as anonymous.
    let anon = raw_https(server.local_addr(), &ca, "GET", "/v1/instances", &[], b"").await;
    assert_eq!(anon.status, 401);
    with_id = raw(&admin, Method::GET, "/health", None, Vec::new()).await;
    assert!(
        !with_id.headers.contains_key("correlation-id"),
        "/health is not audited"
    );
    // A change: answered only once its record (and everything spooled before) is committed.
    let secret = within(
        "create secret",
        sm.create_secret(&json!({"secret_type": "arbitrary", "name": "audited",
                                 "payload": SECRET})),
    )
    .await
    .unwrap();
    assert!(secret["id"].is_string());

    let events = admin.audit_events_all().await.unwrap();
    let create = find(&events, "kms.keys.create");
    assert_eq!(create.len(), 1, "{events:#?}");
    let c = create[0];
    assert_eq!(c.account_id, info.account_id);
    assert_ne!(c.initiator, "anonymous");
    assert_eq!(c.instance_id, info.kms_instance_id);
    assert_eq!((c.outcome.as_str(), c.reason_code), ("success", 201));
    assert_eq!(c.source_address, "127.0.0.1");
    assert_eq!(c.target, "/api/v2/keys");

    let wrap = find(&events, "kms.keys.wrap");
    assert_eq!(wrap.len(), 1);
    assert_eq!(
        wrap[0].target,
        format!("/api/v2/keys/{}/actions/wrap", key.id)
    );
    assert_eq!(wrap[0].initiator, c.initiator);
    assert_eq!(wrap[0].outcome, "success");

    let failed: Vec<_> = find(&events, "kms.keys.get")
        .into_iter()
        .filter(|e| e.reason_code == 404)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].outcome, "failure");

    let corr: Vec<_> = events
        .iter()
        .filter(|e| e.correlation_id == "corr-audit-1")
        .collect();
    assert_eq!(corr.len(), 1);
    assert_eq!(corr[0].action, "arca.instances.list");
    assert!(events.iter().any(|e| e.correlation_id == made));

    let sc = find(&events, "secrets-manager.secrets.create");
    assert_eq!(sc.len(), 1);
    assert_eq!(sc[0].instance_id, info.secrets_manager_instance_id);
    assert_eq!(sc[0].reason_code, 201);
    // Tokens for the Key Protect client were issued, to the admin.
    let tokens = find(&events, "iam.identity.token.create");
    assert!(!tokens.is_empty());
    assert_eq!(tokens[0].initiator, c.initiator);
    // Seqs increase; the account's records link to each other.
    for pair in events.windows(2) {
        assert!(pair[0].seq < pair[1].seq);
        assert_eq!(pair[1].account_prev_hash, pair[0].hash);
    }

    // The anonymous call is kept outside every account.
    let store = &server.assembled().store;
    let all = store
        .list_audit_events(&AuditQuery {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let anonymous: Vec<_> = all
        .iter()
        .filter(|r| r.event.initiator == "anonymous")
        .collect();
    assert!(
        anonymous
            .iter()
            .any(|r| r.event.reason_code == 401 && r.event.account_id.is_empty()),
        "{anonymous:#?}"
    );

    // No payload, plaintext, ciphertext, secret or credential in any record.
    let text = format!("{all:?}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(PLAINTEXT);
    let ciphertext = base64::engine::general_purpose::STANDARD.encode(&wrapped.ciphertext);
    for needle in [
        std::str::from_utf8(PLAINTEXT).unwrap(),
        b64.as_str(),
        ciphertext.as_str(),
        SECRET,
        info.api_key.as_str(),
    ] {
        assert!(!text.contains(needle), "{needle} in the audit trail");
    }

    let verified = admin.audit_verify().await.unwrap();
    assert!(verified.ok, "{verified:?}");
    assert!(verified.records >= all.len() as u64);

    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_account_administrators_read_the_trail() {
    let (_dir, server, _info, admin) = start_dev().await;
    let user = admin.create_principal("user", "reader").await.unwrap();
    let key = admin.create_api_key(&user.id, "k").await.unwrap();
    let plain = admin.with_api_key(Some(key.api_key.clone()));
    for err in [
        plain.audit_events_all().await.unwrap_err(),
        plain.audit_verify().await.unwrap_err(),
    ] {
        assert_eq!(err.status(), Some(403), "{err}");
    }
    // The refusals themselves are recorded, under the user (reads are not waited for: flush).
    server.assembled().arca.audit.flush().await;
    let events = admin.audit_events_all().await.unwrap();
    assert!(events.iter().any(|e| e.initiator == user.id
        && e.action == "arca.audit.events.list"
        && e.reason_code == 403));
    let bad = raw(
        &admin,
        Method::GET,
        "/v1/audit/events?limit=5000",
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(bad.status, 400);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_refuses_requests_and_makes_the_node_not_ready() {
    let (_dir, server, info, admin) = start_dev().await;
    let audit = &server.assembled().arca.audit;
    // Hold every place in the spool, as a stalled database would.
    let mut held = Vec::new();
    while let Ok(permit) = audit.reserve() {
        held.push(permit);
    }
    let status = audit.status();
    assert!(!status.healthy() && status.refused >= 1, "{status:?}");

    let refused = raw(&admin, Method::GET, "/v1/instances", None, Vec::new()).await;
    assert_eq!(refused.status, 503);
    let body: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(body["errors"][0]["code"], "audit_unavailable", "{body}");
    // Key Protect callers get Key Protect's error envelope; nothing ran.
    let kp = admin.kp(&info.kms_instance_id);
    let err = kp.create_key(&NewKey::root("never")).await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    let (ready, health) = admin.ready().await.unwrap();
    assert!(!ready);
    assert_eq!(health.status, "audit_backlog");
    assert!(health.audit.unwrap().refused >= 2);

    drop(held);
    let (ready, _) = admin.ready().await.unwrap();
    assert!(ready);
    let keys = kp.create_key(&NewKey::root("now")).await.unwrap();
    let names: Vec<_> = kp
        .list_keys(&KeyFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, [keys.name], "the refused create never ran");
    server.shutdown().await;
}

/// Someone with write access to the database but not the unseal material rewrites a record and
/// recomputes every hash after it (and the heads): the chain alone still verifies, but not
/// against the checkpoints the root of trust attested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wholesale_rewrite_fails_against_the_checkpoints() {
    use arca_store::audit::AuditRecord;
    use arca_store::{AuditStore as _, SqliteStore};
    use sqlx::Connection as _;

    let (dir, server, _info, admin) = start_dev().await;
    for i in 0..5 {
        within(
            "create",
            admin.create_instance(&format!("cp-{i}"), arca_proto::instance::ServiceKind::Kms),
        )
        .await
        .unwrap();
    }
    // An idle writer attests its last records within about a second.
    let mut attested = None;
    for _ in 0..100 {
        let v = within("verify", admin.audit_verify()).await.unwrap();
        assert!(v.ok, "{v:?}");
        if v.checkpoints >= 1 && v.last_checkpoint_seq >= 6 {
            attested = Some(v);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let attested = attested.expect("no checkpoint within 10 s");
    within("shutdown", server.shutdown()).await;

    // The rewrite: record 2 changed, every later hash and link recomputed, heads moved.
    let db = dir.path().join("dev").join("arca.db");
    let store = SqliteStore::open(&db).await.unwrap();
    let records = store
        .list_audit_events(&AuditQuery {
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap();
    store.close().await;
    let mut rewritten: Vec<AuditRecord> = Vec::new();
    let mut accounts: std::collections::HashMap<String, Vec<u8>> = Default::default();
    let mut prev = arca_store::audit::GENESIS_HASH.to_vec();
    for r in records {
        let mut event = r.event.clone();
        if r.seq == 2 {
            event.target = "/rewritten".into();
        }
        let account_prev = accounts
            .get(&event.account_id)
            .cloned()
            .unwrap_or_else(|| arca_store::audit::GENESIS_HASH.to_vec());
        let new = AuditRecord::chain(r.seq, event, prev.clone(), account_prev);
        accounts.insert(new.event.account_id.clone(), new.hash.clone());
        prev = new.hash.clone();
        rewritten.push(new);
    }
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER audit_events_no_update")
        .execute(&mut conn)
        .await
        .unwrap();
    for r in &rewritten {
        sqlx::query(
            "UPDATE audit_events SET target = ?, prev_hash = ?, account_prev_hash = ?, hash = ? \
             WHERE seq = ?",
        )
        .bind(&r.event.target)
        .bind(&r.prev_hash)
        .bind(&r.account_prev_hash)
        .bind(&r.hash)
        .bind(r.seq)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let last = rewritten.last().unwrap();
    sqlx::query("UPDATE audit_head SET hash = ? WHERE id = 1")
        .bind(&last.hash)
        .execute(&mut conn)
        .await
        .unwrap();
    for (account, hash) in &accounts {
        sqlx::query("UPDATE audit_account_heads SET hash = ? WHERE account_id = ?")
            .bind(hash)
            .bind(account)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();

    let (server, info) = within(
        "restart",
        arca_server::dev::start_dev(&arca_server::dev::DevOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("dev"),
        }),
    )
    .await
    .unwrap();
    let ca = std::fs::read(&info.ca_cert).unwrap();
    let admin = arca_client::Client::new(&info.url, Some(&ca), Some(info.api_key.clone())).unwrap();
    let v = within("verify", admin.audit_verify()).await.unwrap();
    assert!(!v.ok, "a rewritten chain verified: {v:?}");
    let bad = v.bad_seq.unwrap();
    assert!(bad >= 2 && bad <= attested.last_checkpoint_seq, "{v:?}");
    assert!(
        v.problem.as_deref().unwrap().contains("checkpoint"),
        "{v:?}"
    );
    within("shutdown", server.shutdown()).await;
}
