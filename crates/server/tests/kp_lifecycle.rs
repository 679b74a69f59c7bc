//! The key lifecycle over the wire, on a server whose clock the test moves: purge after the wait
//! with crypto-shredding (the wrapped material is gone from the database files, old ciphertexts
//! no longer unwrap), and the single-user refusals of dual-authorization delete.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arca_client::ClientError;
use arca_client::kp::{KpClient, NewKey};
use arca_proto::instance::ServiceKind;
use arca_services::{Clock as _, ManualClock, SystemClock};
use arca_store::{SqliteStore, Store as _};
use axum::http::Method;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use common::{Env, init_and_unseal, within};
use serde_json::{Value, json};

#[track_caller]
fn assert_kp<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, ClientError>,
    status: u16,
) -> String {
    match result {
        Err(ClientError::Kp {
            status: got,
            code,
            message,
        }) => {
            assert_eq!(got, status, "{what}: {code}: {message}");
            assert!(!message.trim().is_empty(), "{what}: empty message");
            message
        }
        other => panic!("{what}: expected a Key Protect error {status}, got {other:?}"),
    }
}

fn forms(bytes: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("raw", bytes.to_vec()),
        ("hex", hex::encode(bytes).into_bytes()),
        ("HEX", hex::encode_upper(bytes).into_bytes()),
        ("base64", STANDARD.encode(bytes).into_bytes()),
        (
            "base64 unpadded",
            STANDARD_NO_PAD.encode(bytes).into_bytes(),
        ),
        ("base64url", URL_SAFE.encode(bytes).into_bytes()),
        (
            "base64url unpadded",
            URL_SAFE_NO_PAD.encode(bytes).into_bytes(),
        ),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn db_files(dir: &Path) -> Vec<PathBuf> {
    ["arca.db", "arca.db-wal", "arca.db-shm"]
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.exists())
        .collect()
}

fn found_in_files(dir: &Path, secrets: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut found = Vec::new();
    for file in db_files(dir) {
        let bytes = std::fs::read(&file).unwrap();
        for (what, secret) in secrets {
            for (form, needle) in forms(secret) {
                if contains(&bytes, &needle) {
                    found.push(format!("{what} in {} ({form})", file.display()));
                }
            }
        }
    }
    found
}

struct Clocked {
    env: Env,
    clock: Arc<ManualClock>,
    running: arca_server::RunningServer,
    admin: arca_client::Client,
    instance: String,
    kp: KpClient,
}

impl Clocked {
    /// A client with a fresh access token (tokens live an hour of the server's clock).
    fn fresh_kp(&self) -> KpClient {
        self.admin.kp(&self.instance)
    }
}

async fn clocked() -> Clocked {
    clocked_with(Env::shamir()).await
}

async fn clocked_with(env: Env) -> Clocked {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let running = within(
        "start",
        arca_server::start_with_clock(&env.config, clock.clone()),
    )
    .await
    .expect("server starts");
    let url = format!("https://{}", running.local_addr());
    let anonymous = arca_client::Client::new(&url, Some(&env.ca_pem), None).unwrap();
    let init = init_and_unseal(&anonymous, 1, 1).await;
    let admin = anonymous.with_api_key(Some(init.api_key.clone()));
    let instance = admin
        .create_instance("lifecycle", ServiceKind::Kms)
        .await
        .unwrap();
    let kp = admin.kp(&instance.id);
    Clocked {
        env,
        clock,
        running,
        admin,
        instance: instance.id,
        kp,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_after_the_wait_shreds_the_material() {
    let c = clocked().await;
    let kp = &c.kp;
    let root_material = arca_crypto::random::random_bytes(32).unwrap().to_vec();
    let root = kp
        .create_key(&NewKey::root("purge-root").import(&root_material))
        .await
        .unwrap();
    let std_material = arca_crypto::random::random_bytes(48).unwrap().to_vec();
    let standard = kp
        .create_key(&NewKey::standard("purge-std").import(&std_material))
        .await
        .unwrap();
    let dek = arca_crypto::random::random_bytes(32).unwrap().to_vec();
    let wrapped = kp.wrap(&root.id, Some(&dek), &[]).await.unwrap();
    let alias = kp
        .raw(
            Method::POST,
            &format!("keys/{}/aliases/purge-me", root.id),
            None,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(alias.status, 201);

    // What a thief with the database and the master key would need: the wrapped material.
    let data_dir = c.env.config.data_dir.clone();
    let peek = SqliteStore::open(&data_dir.join("arca.db")).await.unwrap();
    let mut secrets: Vec<(String, Vec<u8>)> = vec![
        ("imported root key".into(), root_material.clone()),
        ("imported standard key".into(), std_material.clone()),
    ];
    for id in [&root.id, &standard.id] {
        for v in peek.list_key_versions(id).await.unwrap() {
            secrets.push((
                format!("wrapped material of {id}"),
                v.wrapped_material.expect("material before the purge"),
            ));
        }
    }
    peek.close().await;
    assert_eq!(secrets.len(), 4);
    let all: Vec<u8> = db_files(&data_dir)
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    for (what, wrapped) in &secrets[2..] {
        assert!(
            contains(&all, wrapped),
            "{what}: not in the files: wrong files?"
        );
    }

    // Only a deleted key, and only after the wait.
    assert_kp("purge an active key", kp.purge_key(&root.id).await, 409);
    for id in [&root.id, &standard.id] {
        kp.delete_key(id, false).await.unwrap();
    }
    let early = assert_kp("purge too early", kp.purge_key(&root.id).await, 409);
    assert!(early.contains("4 hours"), "{early}");
    c.clock
        .advance(time::Duration::hours(3) + time::Duration::minutes(59));
    let kp = &c.fresh_kp();
    assert_kp("purge still too early", kp.purge_key(&root.id).await, 409);
    c.clock.advance(time::Duration::minutes(1));
    let meta = kp.get_key_metadata(&root.id).await.unwrap();
    assert_eq!(meta.purge_allowed, Some(true));

    // Purge: 200 with the key as it was (no payload), then nothing is left.
    let resp = kp
        .raw(
            Method::DELETE,
            &format!("keys/{}/purge", root.id),
            None,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let body: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["metadata"]["collectionTotal"], 1);
    let purged = &body["resources"][0];
    assert_eq!(purged["id"], root.id.as_str());
    assert_eq!(purged["state"], 5);
    assert!(purged.get("payload").is_none());
    let purged_std = kp.purge_key(&standard.id).await.unwrap();
    assert_eq!(purged_std.id, standard.id);
    assert!(purged_std.payload.is_none(), "purge never returns material");

    for id in [root.id.as_str(), standard.id.as_str(), "purge-me"] {
        assert_kp("get after purge", kp.get_key(id).await, 404);
    }
    assert_kp("purge twice", kp.purge_key(&root.id).await, 404);
    assert_kp(
        "unwrap after purge",
        kp.unwrap(&root.id, &wrapped.ciphertext, &[]).await,
        404,
    );
    let versions = kp
        .raw(
            Method::GET,
            &format!("keys/{}/versions", root.id),
            None,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(versions.status, 404);

    let found = found_in_files(&data_dir, &secrets);
    assert!(
        found.is_empty(),
        "material after purge, running: {found:#?}"
    );
    within("shutdown", c.running.shutdown()).await;
    let found = found_in_files(&data_dir, &secrets);
    assert!(
        found.is_empty(),
        "material after purge, stopped: {found:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_authorization_delete_refuses_a_single_user() {
    let c = clocked().await;
    let kp = &c.kp;
    let body = serde_json::to_vec(&json!({
        "metadata": {"collectionType": "application/vnd.ibm.kms.key+json", "collectionTotal": 1},
        "resources": [{
            "type": "application/vnd.ibm.kms.key+json",
            "name": "dual",
            "extractable": false,
            "dualAuthDelete": {"enabled": true}
        }]
    }))
    .unwrap();
    let created = kp
        .raw(
            Method::POST,
            "keys_with_policy_overrides",
            Some("application/vnd.ibm.kms.key+json"),
            body,
        )
        .await
        .unwrap();
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let created: Value = serde_json::from_slice(&created.body).unwrap();
    let key = &created["resources"][0];
    let id = key["id"].as_str().unwrap().to_owned();
    assert_eq!(
        key["dualAuthDelete"],
        json!({"enabled": true, "keySetForDeletion": false})
    );

    let msg = assert_kp(
        "delete without authorization",
        kp.delete_key(&id, true).await,
        409,
    );
    assert!(msg.contains("authorizations"), "{msg}");
    kp.set_key_for_deletion(&id).await.unwrap();
    let got = kp.get_key(&id).await.unwrap();
    let dual = got.dual_auth_delete.unwrap();
    assert!(dual.enabled && dual.key_set_for_deletion == Some(true));
    let expires = time::OffsetDateTime::parse(
        dual.auth_expiration.as_deref().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let week = expires - c.clock.now();
    assert!(
        (time::Duration::days(7) - week).abs() < time::Duration::seconds(2),
        "{week}"
    );
    let msg = assert_kp(
        "delete by the same user",
        kp.delete_key(&id, true).await,
        409,
    );
    assert!(msg.contains("another user"), "{msg}");
    kp.unset_key_for_deletion(&id).await.unwrap();
    let dual = kp.get_key(&id).await.unwrap().dual_auth_delete.unwrap();
    assert_eq!(
        (dual.key_set_for_deletion, dual.auth_expiration),
        (Some(false), None)
    );
    assert_kp(
        "turn the policy off",
        kp.set_dual_auth_delete(&id, false).await,
        409,
    );
    assert_eq!(kp.get_key(&id).await.unwrap().state, 1);

    // A plain key: no dual-auth actions, the policy can be turned on, and a plain key shows
    // `{enabled: false}` only.
    let plain = kp.create_key(&NewKey::root("plain")).await.unwrap();
    let shown = kp
        .raw(Method::GET, &format!("keys/{}", plain.id), None, Vec::new())
        .await
        .unwrap();
    let shown: Value = serde_json::from_slice(&shown.body).unwrap();
    assert_eq!(
        shown["resources"][0]["dualAuthDelete"],
        json!({"enabled": false})
    );
    assert_kp(
        "set a plain key",
        kp.set_key_for_deletion(&plain.id).await,
        409,
    );
    kp.set_dual_auth_delete(&plain.id, false).await.unwrap();
    kp.set_dual_auth_delete(&plain.id, true).await.unwrap();
    assert_kp("now dual", kp.delete_key(&plain.id, false).await, 409);
    within("shutdown", c.running.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_the_lifecycle_jobs_on_its_interval() {
    let mut env = Env::shamir();
    env.config.jobs_interval = std::time::Duration::from_millis(200);
    let c = clocked_with(env).await;
    let kp = &c.kp;
    let id = kp.create_key(&NewKey::root("scheduled")).await.unwrap().id;
    kp.delete_key(&id, false).await.unwrap();
    c.clock.advance(time::Duration::days(90));
    let kp = &c.fresh_kp();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match kp.get_key_metadata(&id).await {
            Err(ClientError::Kp { status: 404, .. }) => break,
            Ok(k) => assert_eq!(k.state, 5),
            Err(e) => panic!("{e:?}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not purged by the jobs"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    within("shutdown", c.running.shutdown()).await;
}
