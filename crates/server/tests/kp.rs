//! Semantic tests of the Key Protect v2 API through the real client (`arca_client::kp`) against
//! in-process servers: envelope encryption round trips, AAD binding, tampering, rotation and
//! versions, the key states, standard and imported keys, delete and restore, instance isolation,
//! authentication (forged and expired tokens), listing, bad bodies, and material at rest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arca_client::kp::{KeyFilter, KpClient, NewKey};
use arca_client::{Client, ClientError, RawResponse};
use arca_proto::instance::ServiceKind;
use arca_server::RunningServer;
use arca_server::dev::DevInfo;
use arca_services::{Clock as _, ManualClock, SystemClock};
use axum::http::Method;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use common::{Env, init_and_unseal, start_dev, within};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The value IBM's integration suite wraps.
const SDK_PLAINTEXT: &[u8] = b"plaintext-data-key";

/// A dev server with a Key Protect client of its first instance.
struct Dev {
    dir: TempDir,
    server: RunningServer,
    info: DevInfo,
    admin: Client,
    kp: KpClient,
}

async fn dev() -> Dev {
    let (dir, server, info, admin) = start_dev().await;
    let kp = admin.kp(&info.kms_instance_id);
    Dev {
        dir,
        server,
        info,
        admin,
        kp,
    }
}

impl Dev {
    async fn shutdown(self) {
        within("shutdown", self.server.shutdown()).await;
        drop(self.dir);
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("dev")
    }
}

fn random(len: usize) -> Vec<u8> {
    arca_crypto::random::random_bytes(len).unwrap().to_vec()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Asserts a Key Protect error answer of `status`, with a code and a message; returns the code.
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
            assert!(!code.trim().is_empty(), "{what}: empty code");
            assert!(!message.trim().is_empty(), "{what}: empty message");
            code
        }
        other => panic!("{what}: expected a Key Protect error {status}, got {other:?}"),
    }
}

/// Asserts that a raw answer is `status` with Key Protect's error envelope.
#[track_caller]
fn assert_kp_envelope(what: &str, resp: &RawResponse, status: u16) -> String {
    let text = String::from_utf8_lossy(&resp.body);
    assert_eq!(resp.status, status, "{what}: {text}");
    let body: Value =
        serde_json::from_slice(&resp.body).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
    assert_eq!(
        body["metadata"]["collectionType"], "application/vnd.ibm.kms.error+json",
        "{what}: {text}"
    );
    assert_eq!(body["metadata"]["collectionTotal"], 1, "{what}: {text}");
    let resource = &body["resources"][0];
    assert!(
        resource["errorMsg"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {text}"
    );
    let reason = &resource["reasons"][0];
    assert_eq!(reason["status"], status, "{what}: {text}");
    assert!(
        reason["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {text}"
    );
    assert!(
        reason["moreInfo"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {text}"
    );
    reason["code"].as_str().unwrap_or_default().to_owned()
}

async fn root(kp: &KpClient, name: &str) -> String {
    kp.create_key(&NewKey::root(name)).await.unwrap().id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwrap_returns_exactly_what_was_wrapped() {
    let dev = dev().await;
    let kp = &dev.kp;
    let key = kp.create_key(&NewKey::root("round-trip")).await.unwrap();
    assert_eq!(key.state, 1);
    assert!(!key.extractable && !key.imported);

    // Edges, the SDK's 18 bytes, and pseudo-random sizes from the whole range.
    let mut sizes = vec![
        1, 2, 15, 16, 17, 18, 24, 31, 32, 33, 64, 255, 256, 1024, 7499, 7500,
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..12 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sizes.push(usize::try_from(x % 7500).unwrap() + 1);
    }
    let mut plaintexts: Vec<Vec<u8>> = sizes.iter().map(|&n| random(n)).collect();
    plaintexts.push(SDK_PLAINTEXT.to_vec());
    for p in &plaintexts {
        let wrapped = kp.wrap(&key.id, Some(p), &[]).await.unwrap();
        assert!(
            wrapped.plaintext.is_none(),
            "no plaintext echoed for a given DEK"
        );
        assert_eq!(wrapped.key_version.id, key.key_version.id);
        assert!(wrapped.ciphertext.len() > p.len());
        assert!(
            !wrapped
                .ciphertext
                .windows(p.len())
                .any(|w| w == p.as_slice())
                || p.len() < 4,
            "the ciphertext holds the plaintext"
        );
        let out = kp.unwrap(&key.id, &wrapped.ciphertext, &[]).await.unwrap();
        assert_eq!(out.data_key(), p.as_slice(), "size {}", p.len());
        assert_eq!(out.key_version.id, key.key_version.id);
        assert!(out.ciphertext.is_none() && out.rewrapped_key_version.is_none());
    }
    // Wrapping twice gives different ciphertexts (fresh nonces).
    let a = kp.wrap(&key.id, Some(SDK_PLAINTEXT), &[]).await.unwrap();
    let b = kp.wrap(&key.id, Some(SDK_PLAINTEXT), &[]).await.unwrap();
    assert_ne!(a.ciphertext, b.ciphertext);

    // A generated DEK: 32 bytes, returned once, and it round-trips.
    let generated = kp.wrap(&key.id, None, &[]).await.unwrap();
    let dek = generated.plaintext.clone().expect("generated DEK");
    assert_eq!(dek.len(), 32);
    let again = kp.wrap(&key.id, None, &[]).await.unwrap();
    assert_ne!(
        again.plaintext.as_ref().map(|p| p.as_slice()),
        Some(dek.as_slice())
    );
    let out = kp
        .unwrap(&key.id, &generated.ciphertext, &[])
        .await
        .unwrap();
    assert_eq!(out.data_key(), dek.as_slice());

    // Outside 1..=7500 bytes.
    assert_kp("empty", kp.wrap(&key.id, Some(&[]), &[]).await, 400);
    assert_kp(
        "7501",
        kp.wrap(&key.id, Some(&random(7501)), &[]).await,
        400,
    );
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aad_must_match_exactly() {
    let dev = dev().await;
    let kp = &dev.kp;
    let id = root(kp, "aad").await;
    let aad = strings(&["tenant-1", "volume-7"]);
    let wrapped = kp.wrap(&id, Some(SDK_PLAINTEXT), &aad).await.unwrap();
    let out = kp.unwrap(&id, &wrapped.ciphertext, &aad).await.unwrap();
    assert_eq!(out.data_key(), SDK_PLAINTEXT);
    let rewrapped = kp.rewrap(&id, &wrapped.ciphertext, &aad).await.unwrap();
    assert_eq!(
        kp.unwrap(&id, &rewrapped.ciphertext, &aad)
            .await
            .unwrap()
            .data_key(),
        SDK_PLAINTEXT
    );

    let wrong: [(&str, Vec<String>); 7] = [
        ("different", strings(&["tenant-1", "volume-8"])),
        ("missing", Vec::new()),
        ("reordered", strings(&["volume-7", "tenant-1"])),
        ("extra item", strings(&["tenant-1", "volume-7", "x"])),
        ("one item missing", strings(&["tenant-1"])),
        ("concatenated", strings(&["tenant-1volume-7"])),
        ("split differently", strings(&["tenant-1v", "olume-7"])),
    ];
    for (what, bad) in &wrong {
        let code = assert_kp(what, kp.unwrap(&id, &wrapped.ciphertext, bad).await, 400);
        assert_eq!(code, "INVALID_REQUEST", "{what}");
        assert_kp(what, kp.rewrap(&id, &wrapped.ciphertext, bad).await, 400);
    }
    // Wrapped without AAD: unwrapping with some is refused too.
    let plain = kp.wrap(&id, Some(SDK_PLAINTEXT), &[]).await.unwrap();
    assert_kp(
        "aad added",
        kp.unwrap(&id, &plain.ciphertext, &strings(&["x"])).await,
        400,
    );
    // An empty AAD list is the same as none.
    let raw = kp
        .raw(
            Method::POST,
            &format!("keys/{id}/actions/unwrap"),
            Some("application/json"),
            serde_json::to_vec(&json!({
                "ciphertext": STANDARD.encode(&plain.ciphertext),
                "aad": []
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.body));
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_ciphertexts_are_refused_with_4xx() {
    let dev = dev().await;
    let kp = &dev.kp;
    let id = root(kp, "tamper").await;
    let other = root(kp, "tamper-other").await;
    let wrapped = kp.wrap(&id, Some(SDK_PLAINTEXT), &[]).await.unwrap();
    let good = wrapped.ciphertext.clone();
    let len = good.len();

    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for pos in [
        0,
        1,
        2,
        3,
        10,
        18,
        19,
        25,
        30,
        31,
        35,
        len / 2,
        len - 17,
        len - 1,
    ] {
        let mut c = good.clone();
        c[pos] ^= 0x01;
        cases.push((format!("bit flipped at {pos}"), c));
    }
    for keep in [len - 1, len - 16, 31, 19, 3, 1] {
        cases.push((format!("truncated to {keep}"), good[..keep].to_vec()));
    }
    let mut longer = good.clone();
    longer.push(0);
    cases.push(("one byte appended".into(), longer));
    cases.push(("random bytes".into(), random(len)));
    cases.push(("empty".into(), Vec::new()));
    for (what, c) in &cases {
        assert_kp(what, kp.unwrap(&id, c, &[]).await, 400);
        assert_kp(what, kp.rewrap(&id, c, &[]).await, 400);
    }
    // Another key's ciphertext, even of the same instance.
    assert_kp("other key", kp.unwrap(&other, &good, &[]).await, 400);

    // Not base64, or no ciphertext at all: still a 400 in Key Protect's envelope.
    for (what, body) in [
        ("garbage base64", json!({"ciphertext": "%%%not base64!!"})),
        ("base64 with junk", json!({"ciphertext": "AAAA*AAA"})),
        ("empty string", json!({"ciphertext": ""})),
        ("null", json!({"ciphertext": null})),
        ("number", json!({"ciphertext": 42})),
        ("missing", json!({})),
    ] {
        for action in ["unwrap", "rewrap"] {
            let resp = kp
                .raw(
                    Method::POST,
                    &format!("keys/{id}/actions/{action}"),
                    Some("application/vnd.ibm.kms.key_action+json"),
                    serde_json::to_vec(&body).unwrap(),
                )
                .await
                .unwrap();
            assert_kp_envelope(&format!("{action}: {what}"), &resp, 400);
        }
    }
    // The genuine ciphertext still works.
    let out = kp.unwrap(&id, &good, &[]).await.unwrap();
    assert_eq!(out.data_key(), SDK_PLAINTEXT);
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_old_ciphertexts_and_rewrap_moves_them_forward() {
    let dev = dev().await;
    let kp = &dev.kp;
    let key = kp.create_key(&NewKey::root("rotating")).await.unwrap();
    let v1 = key.key_version.id.clone();
    assert!(key.last_rotate_date.is_none());
    let dek = random(32);
    let c1 = kp.wrap(&key.id, Some(&dek), &[]).await.unwrap();
    assert_eq!(c1.key_version.id, v1);

    kp.rotate(&key.id, None).await.unwrap();
    let rotated = kp.get_key_metadata(&key.id).await.unwrap();
    let v2 = rotated.key_version.id.clone();
    assert_ne!(v1, v2);
    assert_eq!(rotated.state, 1);
    assert!(rotated.last_rotate_date.is_some());

    let versions = kp.key_versions(&key.id).await.unwrap();
    let ids: Vec<&str> = versions.versions.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, [v2.as_str(), v1.as_str()], "newest first");
    assert_eq!(versions.total_count, Some(2));
    assert!(versions.versions.iter().all(|v| v.creation_date.is_some()));

    // New wraps use the new version.
    let c2 = kp.wrap(&key.id, Some(&dek), &[]).await.unwrap();
    assert_eq!(c2.key_version.id, v2);
    let out2 = kp.unwrap(&key.id, &c2.ciphertext, &[]).await.unwrap();
    assert_eq!(out2.data_key(), dek.as_slice());
    assert_eq!(out2.key_version.id, v2);
    assert!(out2.ciphertext.is_none() && out2.rewrapped_key_version.is_none());

    // The old ciphertext unwraps, and comes back rewrapped by the latest version.
    let out1 = kp.unwrap(&key.id, &c1.ciphertext, &[]).await.unwrap();
    assert_eq!(out1.data_key(), dek.as_slice());
    assert_eq!(out1.key_version.id, v1);
    assert_eq!(
        out1.rewrapped_key_version.as_ref().map(|v| v.id.as_str()),
        Some(v2.as_str())
    );
    let fresh = out1.ciphertext.clone().expect("rewrapped ciphertext");
    let out_fresh = kp.unwrap(&key.id, &fresh, &[]).await.unwrap();
    assert_eq!(out_fresh.data_key(), dek.as_slice());
    assert_eq!(out_fresh.key_version.id, v2);
    assert!(out_fresh.ciphertext.is_none());

    // Rewrap: from v1 to v2; both ciphertexts keep working.
    let re = kp.rewrap(&key.id, &c1.ciphertext, &[]).await.unwrap();
    assert_eq!(re.key_version.id, v1);
    assert_eq!(re.rewrapped_key_version.id, v2);
    let out_re = kp.unwrap(&key.id, &re.ciphertext, &[]).await.unwrap();
    assert_eq!(
        (out_re.data_key(), out_re.key_version.id.as_str()),
        (dek.as_slice(), v2.as_str())
    );
    let out_old = kp.unwrap(&key.id, &c1.ciphertext, &[]).await.unwrap();
    assert_eq!(out_old.data_key(), dek.as_slice());
    // Rewrapping a current ciphertext is harmless.
    let re2 = kp.rewrap(&key.id, &c2.ciphertext, &[]).await.unwrap();
    assert_eq!(
        (
            re2.key_version.id.as_str(),
            re2.rewrapped_key_version.id.as_str()
        ),
        (v2.as_str(), v2.as_str())
    );

    // A third version: all three generations unwrap.
    kp.rotate(&key.id, None).await.unwrap();
    let versions = kp.key_versions(&key.id).await.unwrap();
    assert_eq!(versions.total_count, Some(3));
    assert_eq!(versions.versions[1].id, v2);
    assert_eq!(versions.versions[2].id, v1);
    for c in [&c1.ciphertext, &c2.ciphertext, &re.ciphertext] {
        let out = kp.unwrap(&key.id, c, &[]).await.unwrap();
        assert_eq!(out.data_key(), dek.as_slice());
        assert_eq!(
            out.rewrapped_key_version.map(|v| v.id),
            Some(versions.versions[0].id.clone())
        );
    }
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_key_refuses_crypto_until_enabled() {
    let dev = dev().await;
    let kp = &dev.kp;
    let id = root(kp, "suspend").await;
    let wrapped = kp.wrap(&id, Some(SDK_PLAINTEXT), &[]).await.unwrap();

    let code = assert_kp("enable an active key", kp.enable(&id).await, 409);
    assert_eq!(code, "INVALID_STATE");
    kp.disable(&id).await.unwrap();
    assert_eq!(kp.get_key_metadata(&id).await.unwrap().state, 2);
    assert_kp("disable twice", kp.disable(&id).await, 409);
    assert_kp("wrap", kp.wrap(&id, Some(SDK_PLAINTEXT), &[]).await, 409);
    assert_kp("wrap generated", kp.wrap(&id, None, &[]).await, 409);
    assert_kp(
        "unwrap",
        kp.unwrap(&id, &wrapped.ciphertext, &[]).await,
        409,
    );
    assert_kp(
        "rewrap",
        kp.rewrap(&id, &wrapped.ciphertext, &[]).await,
        409,
    );
    assert_kp("rotate", kp.rotate(&id, None).await, 409);
    // Listed with state 2.
    let suspended = kp
        .list_keys(&KeyFilter {
            state: Some(vec![2]),
            ..KeyFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(suspended.len(), 1);
    assert_eq!(suspended[0].id, id);

    kp.enable(&id).await.unwrap();
    assert_eq!(kp.get_key_metadata(&id).await.unwrap().state, 1);
    let out = kp.unwrap(&id, &wrapped.ciphertext, &[]).await.unwrap();
    assert_eq!(out.data_key(), SDK_PLAINTEXT);
    kp.wrap(&id, None, &[]).await.unwrap();
    assert_kp("enable twice", kp.enable(&id).await, 409);
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_keys_return_their_payload_and_root_keys_never_do() {
    let dev = dev().await;
    let kp = &dev.kp;
    // Generated standard key.
    let created = kp.create_key(&NewKey::standard("std")).await.unwrap();
    assert!(created.extractable && !created.imported);
    let material = created.payload.clone().expect("a standard key's material");
    assert_eq!(material.len(), 32);
    let got = kp.get_key(&created.id).await.unwrap();
    assert_eq!(
        got.payload.as_ref().map(|p| p.as_slice()),
        Some(material.as_slice())
    );
    assert!(
        kp.get_key_metadata(&created.id)
            .await
            .unwrap()
            .payload
            .is_none()
    );
    // Imported standard key: the same bytes back.
    let known = random(100);
    let imported = kp
        .create_key(
            &NewKey::standard("std-imported")
                .import(&known)
                .description("mine"),
        )
        .await
        .unwrap();
    assert!(imported.imported);
    assert_eq!(imported.description.as_deref(), Some("mine"));
    let got = kp.get_key(&imported.id).await.unwrap();
    assert_eq!(
        got.payload.as_ref().map(|p| p.as_slice()),
        Some(known.as_slice())
    );
    // Lists never carry material.
    let all = kp.list_keys(&KeyFilter::default()).await.unwrap();
    assert!(all.len() >= 2);
    assert!(all.iter().all(|k| k.payload.is_none()));

    // A standard key cannot wrap, unwrap or rotate.
    let code = assert_kp(
        "wrap",
        kp.wrap(&created.id, Some(SDK_PLAINTEXT), &[]).await,
        400,
    );
    assert_eq!(code, "INVALID_REQUEST");
    assert_kp("wrap generated", kp.wrap(&created.id, None, &[]).await, 400);
    let root_id = root(kp, "root").await;
    let c = kp.wrap(&root_id, Some(SDK_PLAINTEXT), &[]).await.unwrap();
    assert_kp(
        "unwrap",
        kp.unwrap(&created.id, &c.ciphertext, &[]).await,
        400,
    );
    assert_kp(
        "rewrap",
        kp.rewrap(&created.id, &c.ciphertext, &[]).await,
        400,
    );
    assert_kp("rotate", kp.rotate(&created.id, None).await, 400);

    // Root keys: never a payload, generated or imported.
    let r = kp.get_key(&root_id).await.unwrap();
    assert!(r.payload.is_none() && !r.extractable);
    let ri = kp
        .create_key(&NewKey::root("root-imported").import(&random(32)))
        .await
        .unwrap();
    assert!(ri.payload.is_none() && ri.imported);
    assert!(kp.get_key(&ri.id).await.unwrap().payload.is_none());
    // Nor through the raw body.
    let raw = kp
        .raw(Method::GET, &format!("keys/{}", ri.id), None, Vec::new())
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&raw.body).unwrap();
    assert!(body["resources"][0].get("payload").is_none(), "{body}");
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_root_keys_and_their_rotation() {
    let dev = dev().await;
    let kp = &dev.kp;
    for len in [16, 24, 32] {
        let key = kp
            .create_key(&NewKey::root(&format!("imported-{len}")).import(&random(len)))
            .await
            .unwrap_or_else(|e| panic!("{len} bytes: {e}"));
        assert!(key.imported && !key.extractable);
        let dek = random(32);
        let c = kp.wrap(&key.id, Some(&dek), &[]).await.unwrap();
        let out = kp.unwrap(&key.id, &c.ciphertext, &[]).await.unwrap();
        assert_eq!(out.data_key(), dek.as_slice(), "{len}-byte root key");
    }
    for len in [1, 15, 20, 31, 33, 64] {
        assert_kp(
            &format!("{len} bytes"),
            kp.create_key(&NewKey::root("bad-length").import(&random(len)))
                .await,
            400,
        );
    }

    // Rotation of an imported key needs new material of a valid length.
    let key = kp
        .create_key(&NewKey::root("imported-rot").import(&random(32)))
        .await
        .unwrap();
    let dek = random(32);
    let c1 = kp.wrap(&key.id, Some(&dek), &[]).await.unwrap();
    assert_kp(
        "rotate imported without payload",
        kp.rotate(&key.id, None).await,
        400,
    );
    assert_kp(
        "rotate imported with 20 bytes",
        kp.rotate(&key.id, Some(&random(20))).await,
        400,
    );
    kp.rotate(&key.id, Some(&random(16))).await.unwrap();
    let after = kp.get_key_metadata(&key.id).await.unwrap();
    assert_ne!(after.key_version.id, key.key_version.id);
    let out = kp.unwrap(&key.id, &c1.ciphertext, &[]).await.unwrap();
    assert_eq!(out.data_key(), dek.as_slice());
    assert_eq!(
        out.rewrapped_key_version.map(|v| v.id),
        Some(after.key_version.id.clone())
    );

    // A generated key is rotated without material.
    let generated = root(kp, "generated-rot").await;
    assert_kp(
        "rotate generated with payload",
        kp.rotate(&generated, Some(&random(32))).await,
        400,
    );
    kp.rotate(&generated, None).await.unwrap();
    assert_eq!(
        kp.key_versions(&generated).await.unwrap().total_count,
        Some(2)
    );
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_then_restore() {
    let dev = dev().await;
    let kp = &dev.kp;
    let id = root(kp, "deleted").await;
    let dek = random(32);
    let c = kp.wrap(&id, Some(&dek), &[]).await.unwrap();

    let deleted = kp
        .delete_key(&id, true)
        .await
        .unwrap()
        .expect("representation");
    assert_eq!(deleted.state, 5);
    assert!(deleted.deleted);
    assert!(deleted.deletion_date.is_some() && deleted.deleted_by.is_some());
    assert_eq!(deleted.restore_allowed, Some(true));
    assert_eq!(deleted.purge_allowed, Some(false));
    assert!(deleted.restore_expiration_date.is_some());

    let got = kp.get_key(&id).await.unwrap();
    assert!(got.deleted);
    assert_eq!(got.state, 5);
    assert_kp("wrap", kp.wrap(&id, Some(&dek), &[]).await, 409);
    assert_kp("unwrap", kp.unwrap(&id, &c.ciphertext, &[]).await, 409);
    assert_kp("rewrap", kp.rewrap(&id, &c.ciphertext, &[]).await, 409);
    assert_kp("rotate", kp.rotate(&id, None).await, 409);
    assert_kp("disable", kp.disable(&id).await, 409);
    assert_kp("enable", kp.enable(&id).await, 409);
    assert_kp("delete twice", kp.delete_key(&id, true).await, 409);
    assert_kp(
        "delete twice, minimal",
        kp.delete_key(&id, false).await,
        409,
    );
    // Not listed by default; listed with state 5.
    let listed = kp.list_keys(&KeyFilter::default()).await.unwrap();
    assert!(listed.iter().all(|k| k.id != id));
    let destroyed = kp
        .list_keys(&KeyFilter {
            state: Some(vec![5]),
            ..KeyFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(destroyed.iter().filter(|k| k.id == id).count(), 1);

    let restored = kp.restore_key(&id).await.unwrap();
    assert_eq!(restored.state, 1);
    assert!(!restored.deleted);
    let out = kp.unwrap(&id, &c.ciphertext, &[]).await.unwrap();
    assert_eq!(out.data_key(), dek.as_slice());
    kp.wrap(&id, None, &[]).await.unwrap();
    assert_kp("restore an active key", kp.restore_key(&id).await, 409);

    // Statuses and media types on the wire.
    let create_body = serde_json::to_vec(&json!({
        "metadata": {"collectionType": "application/vnd.ibm.kms.key+json", "collectionTotal": 1},
        "resources": [{"type": "application/vnd.ibm.kms.key+json", "name": "wire", "extractable": false}]
    }))
    .unwrap();
    let created = kp
        .raw(
            Method::POST,
            "keys",
            Some("application/vnd.ibm.kms.key+json"),
            create_body,
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    let media = |r: &RawResponse| {
        r.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        media(&created).as_deref(),
        Some("application/vnd.ibm.kms.key+json")
    );
    let wire_id = serde_json::from_slice::<Value>(&created.body).unwrap()["resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrapped = kp
        .raw(
            Method::POST,
            &format!("keys/{wire_id}/actions/wrap"),
            Some("application/json"),
            b"{}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(wrapped.status, 200);
    assert_eq!(
        media(&wrapped).as_deref(),
        Some("application/vnd.ibm.kms.key_action+json")
    );
    let minimal = kp
        .raw(
            Method::POST,
            &format!("keys/{wire_id}/actions/disable"),
            None,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!((minimal.status, minimal.body.len()), (204, 0));
    let gone = kp
        .raw(Method::DELETE, &format!("keys/{wire_id}"), None, Vec::new())
        .await
        .unwrap();
    assert_eq!((gone.status, gone.body.len()), (204, 0));
    let back = kp
        .raw(
            Method::POST,
            &format!("keys/{wire_id}/restore"),
            None,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(back.status, 201);
    let state =
        serde_json::from_slice::<Value>(&back.body).unwrap()["resources"][0]["state"].clone();
    assert_eq!(state, 1, "a key disabled then deleted restores to active");

    // Delete without a representation: 204, nothing returned.
    assert!(kp.delete_key(&id, false).await.unwrap().is_none());
    assert_eq!(kp.get_key_metadata(&id).await.unwrap().state, 5);
    // A suspended key restores to active (the state before deletion is kept only for 3).
    let s = root(kp, "suspended-then-deleted").await;
    kp.disable(&s).await.unwrap();
    kp.delete_key(&s, false).await.unwrap();
    let back = kp.restore_key(&s).await.unwrap();
    assert_eq!(back.state, 1);
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_are_isolated_and_the_header_is_required() {
    let dev = dev().await;
    let kp = &dev.kp;
    let id = root(kp, "mine").await;
    let c = kp.wrap(&id, Some(SDK_PLAINTEXT), &[]).await.unwrap();

    let second = dev
        .admin
        .create_instance("second-kms", ServiceKind::Kms)
        .await
        .unwrap();
    let other = kp.with_instance(Some(&second.id));
    assert!(
        other
            .list_keys(&KeyFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(other.count_keys(&KeyFilter::default()).await.unwrap(), 0);
    assert_kp("get", other.get_key(&id).await, 404);
    assert_kp("metadata", other.get_key_metadata(&id).await, 404);
    assert_kp("versions", other.key_versions(&id).await, 404);
    assert_kp("wrap", other.wrap(&id, None, &[]).await, 404);
    assert_kp("unwrap", other.unwrap(&id, &c.ciphertext, &[]).await, 404);
    assert_kp("rotate", other.rotate(&id, None).await, 404);
    assert_kp("disable", other.disable(&id).await, 404);
    assert_kp("delete", other.delete_key(&id, true).await, 404);
    assert_kp("restore", other.restore_key(&id).await, 404);
    // The second instance's own key is not visible from the first, and its ciphertext does
    // not open under a key of the first.
    let theirs = root(&other, "theirs").await;
    let tc = other.wrap(&theirs, Some(SDK_PLAINTEXT), &[]).await.unwrap();
    assert_kp("their key from mine", kp.get_key(&theirs).await, 404);
    assert_kp(
        "their ciphertext",
        kp.unwrap(&id, &tc.ciphertext, &[]).await,
        400,
    );
    // Mine still works.
    assert_eq!(
        kp.unwrap(&id, &c.ciphertext, &[]).await.unwrap().data_key(),
        SDK_PLAINTEXT
    );

    // A secrets-manager instance, an unknown one and a non-UUID are not key-service instances.
    let sm = dev
        .admin
        .create_instance("secrets", ServiceKind::SecretsManager)
        .await
        .unwrap();
    for bad in [
        sm.id.as_str(),
        "00000000-0000-4000-8000-000000000000",
        "not-an-instance",
    ] {
        let k = kp.with_instance(Some(bad));
        assert_kp(bad, k.list_keys(&KeyFilter::default()).await, 404);
        // HEAD: no body, the status says it.
        let head = k.count_keys(&KeyFilter::default()).await.unwrap_err();
        assert_eq!(head.status(), Some(404), "{bad}: {head:?}");
        assert_kp(bad, k.create_key(&NewKey::root("nope")).await, 404);
        assert_kp(bad, k.get_key(&id).await, 404);
        assert_kp(bad, k.wrap(&id, None, &[]).await, 404);
    }

    // No Bluemix-Instance, or an empty one: 400.
    let none = kp.with_instance(None);
    let code = assert_kp(
        "no header",
        none.list_keys(&KeyFilter::default()).await,
        400,
    );
    assert_eq!(code, "INVALID_HEADER");
    assert_kp("no header", none.create_key(&NewKey::root("x1")).await, 400);
    assert_kp("no header", none.wrap(&id, None, &[]).await, 400);
    assert_kp("no header", none.get_key(&id).await, 400);
    let head = none.count_keys(&KeyFilter::default()).await.unwrap_err();
    assert_eq!(head.status(), Some(400), "HEAD without header: {head:?}");
    assert_kp(
        "empty header",
        kp.with_instance(Some("")).get_key(&id).await,
        400,
    );
    assert_kp(
        "blank header",
        kp.with_instance(Some("  ")).get_key(&id).await,
        400,
    );
    dev.shutdown().await;
}

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_required_and_verified() {
    let dev = dev().await;
    let kp = &dev.kp;
    let id = root(kp, "auth").await;

    // The token endpoint.
    let issued = dev.admin.token(&dev.info.api_key).await.unwrap();
    assert_eq!(issued.token_type, "Bearer");
    assert_eq!(issued.expires_in, 3600);
    assert_eq!(issued.access_token.split('.').count(), 3);
    let code = assert_kp("wrong API key", dev.admin.token("not-a-key").await, 401);
    assert_eq!(code, "UNAUTHENTICATED");
    assert!(
        kp.with_bearer(&issued.access_token)
            .get_key(&id)
            .await
            .is_ok()
    );

    // No token at all.
    let code = assert_kp("no token", kp.without_auth().get_key(&id).await, 401);
    assert_eq!(code, "UNAUTHENTICATED");
    assert_kp(
        "no token, list",
        kp.without_auth().list_keys(&KeyFilter::default()).await,
        401,
    );
    assert_kp(
        "no token, wrap",
        kp.without_auth().wrap(&id, None, &[]).await,
        401,
    );
    let head = kp
        .without_auth()
        .count_keys(&KeyFilter::default())
        .await
        .unwrap_err();
    assert_eq!(head.status(), Some(401), "HEAD without token: {head:?}");

    // Forged tokens built from a genuine one.
    let parts: Vec<&str> = issued.access_token.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    let signed_with = |key: &[u8], header: &Value, claims: &Value| {
        let input = format!(
            "{}.{}",
            b64url(&serde_json::to_vec(header).unwrap()),
            b64url(&serde_json::to_vec(claims).unwrap())
        );
        let sig = arca_crypto::hash::hmac_sha256(key, input.as_bytes());
        format!("{input}.{}", b64url(&sig))
    };
    let other_key = random(32);
    let mut not_admin_but_more = claims.clone();
    not_admin_but_more["exp"] = json!(claims["exp"].as_i64().unwrap() + 86_400);
    let mut none_header = header.clone();
    none_header["alg"] = json!("none");
    let alg_none = format!(
        "{}.{}.",
        b64url(&serde_json::to_vec(&none_header).unwrap()),
        parts[1]
    );
    let swapped_claims = format!(
        "{}.{}.{}",
        parts[0],
        b64url(&serde_json::to_vec(&not_admin_but_more).unwrap()),
        parts[2]
    );
    let mut bad_sig = parts[2].as_bytes().to_vec();
    bad_sig[0] = if bad_sig[0] == b'A' { b'B' } else { b'A' };
    let flipped_sig = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(bad_sig).unwrap()
    );
    let forged: Vec<(&str, String)> = vec![
        (
            "signed with another key",
            signed_with(&other_key, &header, &claims),
        ),
        ("alg none", alg_none),
        ("claims changed", swapped_claims),
        ("signature changed", flipped_sig),
        ("no signature", format!("{}.{}.", parts[0], parts[1])),
        ("garbage", "garbage".into()),
        ("garbage with dots", "a.b.c".into()),
        ("empty segments", "..".into()),
        ("too long", "x".repeat(9000)),
    ];
    for (what, token) in &forged {
        let k = kp.with_bearer(token);
        let code = assert_kp(what, k.get_key(&id).await, 401);
        assert_eq!(code, "UNAUTHENTICATED", "{what}");
        assert_kp(what, k.wrap(&id, None, &[]).await, 401);
    }
    // The 401 is in Key Protect's envelope.
    let raw = kp
        .with_bearer("garbage")
        .raw(Method::GET, "keys", None, Vec::new())
        .await
        .unwrap();
    assert_kp_envelope("garbage token", &raw, 401);

    // A genuine token of another server (another signing key).
    let elsewhere = self::dev().await;
    let foreign = elsewhere
        .admin
        .token(&elsewhere.info.api_key)
        .await
        .unwrap();
    assert_kp(
        "another server's token",
        kp.with_bearer(&foreign.access_token).get_key(&id).await,
        401,
    );
    elsewhere.shutdown().await;

    // The client's own token (obtained from the API key) still works.
    assert_eq!(kp.get_key(&id).await.unwrap().id, id);
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_and_keys_follow_the_service_clock() {
    let env = Env::shamir();
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let running = within(
        "start",
        arca_server::start_with_clock(&env.config, clock.clone()),
    )
    .await
    .expect("server starts");
    let url = format!("https://{}", running.local_addr());
    let anonymous = Client::new(&url, Some(&env.ca_pem), None).unwrap();
    let init = init_and_unseal(&anonymous, 1, 1).await;
    let admin = anonymous.with_api_key(Some(init.api_key.clone()));
    let instance = admin
        .create_instance("clocked", ServiceKind::Kms)
        .await
        .unwrap();
    let kp = admin.kp(&instance.id);
    let id = root(&kp, "clocked").await;

    // One token used (so verified and cached), one not yet used.
    let used = admin.token(&init.api_key).await.unwrap();
    let unused = admin.token(&init.api_key).await.unwrap();
    kp.with_bearer(&used.access_token)
        .get_key(&id)
        .await
        .unwrap();
    clock.advance(time::Duration::seconds(3599));
    kp.with_bearer(&used.access_token)
        .get_key(&id)
        .await
        .unwrap();
    clock.advance(time::Duration::seconds(2));
    for (what, token) in [("used", &used), ("unused", &unused)] {
        let code = assert_kp(
            what,
            kp.with_bearer(&token.access_token).get_key(&id).await,
            401,
        );
        assert_eq!(code, "UNAUTHENTICATED");
    }
    // A new token works.
    let fresh = admin.token(&init.api_key).await.unwrap();
    let current = kp.with_bearer(&fresh.access_token);
    current.get_key(&id).await.unwrap();

    // A key past its expiration date is deactivated: no wrap, but unwrap still works.
    let expires = (clock.now() + time::Duration::minutes(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let expiring = current
        .create_key(&NewKey::root("expiring").expires(&expires))
        .await
        .unwrap();
    assert!(expiring.expiration_date.is_some());
    let c = current
        .wrap(&expiring.id, Some(SDK_PLAINTEXT), &[])
        .await
        .unwrap();
    clock.advance(time::Duration::minutes(31));
    assert_eq!(
        current.get_key_metadata(&expiring.id).await.unwrap().state,
        3
    );
    assert_kp(
        "wrap after expiry",
        current.wrap(&expiring.id, None, &[]).await,
        409,
    );
    let out = current
        .unwrap(&expiring.id, &c.ciphertext, &[])
        .await
        .unwrap();
    assert_eq!(out.data_key(), SDK_PLAINTEXT);
    // An expiration date in the past is refused at creation.
    let past = (clock.now() - time::Duration::minutes(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_kp(
        "expiration in the past",
        current
            .create_key(&NewKey::root("past").expires(&past))
            .await,
        400,
    );
    within("shutdown", running.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_count_with_filters_and_pages() {
    let dev = dev().await;
    // A fresh instance, so nothing else is counted.
    let instance = dev
        .admin
        .create_instance("listing", ServiceKind::Kms)
        .await
        .unwrap();
    let kp = dev.kp.with_instance(Some(&instance.id));
    let r1 = root(&kp, "r1").await;
    let r2 = root(&kp, "r2").await;
    let r3 = root(&kp, "r3").await;
    let s1 = kp.create_key(&NewKey::standard("s1")).await.unwrap().id;
    let s2 = kp.create_key(&NewKey::standard("s2")).await.unwrap().id;
    kp.disable(&r3).await.unwrap();
    kp.delete_key(&s2, false).await.unwrap();

    let filter = |state: Option<Vec<i64>>, extractable: Option<bool>| KeyFilter {
        state,
        extractable,
        ..KeyFilter::default()
    };
    let cases: Vec<(&str, KeyFilter, Vec<&str>)> = vec![
        ("default", filter(None, None), vec![&r1, &r2, &r3, &s1]),
        (
            "empty state=",
            filter(Some(vec![]), None),
            vec![&r1, &r2, &r3, &s1],
        ),
        ("active", filter(Some(vec![1]), None), vec![&r1, &r2, &s1]),
        ("suspended", filter(Some(vec![2]), None), vec![&r3]),
        ("destroyed", filter(Some(vec![5]), None), vec![&s2]),
        ("pre-active", filter(Some(vec![0]), None), vec![]),
        (
            "every state",
            filter(Some(vec![0, 1, 2, 3, 5]), None),
            vec![&r1, &r2, &r3, &s1, &s2],
        ),
        ("standard", filter(None, Some(true)), vec![&s1]),
        ("root", filter(None, Some(false)), vec![&r1, &r2, &r3]),
        (
            "active root",
            filter(Some(vec![1]), Some(false)),
            vec![&r1, &r2],
        ),
        (
            "destroyed standard",
            filter(Some(vec![5]), Some(true)),
            vec![&s2],
        ),
        (
            "empty state= root",
            filter(Some(vec![]), Some(false)),
            vec![&r1, &r2, &r3],
        ),
    ];
    for (what, f, expected) in &cases {
        let mut got: Vec<String> = kp
            .list_keys(f)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.id)
            .collect();
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        want.sort();
        assert_eq!(got, want, "{what}");
        let count = kp.count_keys(f).await.unwrap();
        assert_eq!(count, i64::try_from(want.len()).unwrap(), "HEAD {what}");
    }

    // Pages: disjoint, complete, and HEAD ignores the page.
    let mut seen = Vec::new();
    for offset in [0, 2, 4] {
        let page = kp
            .list_keys(&KeyFilter {
                limit: Some(2),
                offset: Some(offset),
                ..KeyFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(
            page.len(),
            if offset < 4 { 2 } else { 0 },
            "offset {offset}"
        );
        seen.extend(page.into_iter().map(|k| k.id));
    }
    seen.sort();
    let before = seen.len();
    seen.dedup();
    assert_eq!(seen.len(), before, "pages overlap");
    assert_eq!(seen.len(), 4);
    let limited = KeyFilter {
        limit: Some(1),
        ..KeyFilter::default()
    };
    assert_eq!(kp.list_keys(&limited).await.unwrap().len(), 1);
    assert_eq!(kp.count_keys(&limited).await.unwrap(), 4);

    // Bad parameters.
    for (what, query) in [
        ("state 9", "keys?state=9"),
        ("state text", "keys?state=active"),
        ("limit 0", "keys?limit=0"),
        ("limit 5001", "keys?limit=5001"),
        ("offset -1", "keys?offset=-1"),
        ("limit text", "keys?limit=ten"),
        ("extractable text", "keys?extractable=maybe"),
    ] {
        let resp = kp.raw(Method::GET, query, None, Vec::new()).await.unwrap();
        assert_eq!(
            resp.status,
            400,
            "{what}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        let resp = kp.raw(Method::HEAD, query, None, Vec::new()).await.unwrap();
        assert_eq!(resp.status, 400, "HEAD {what}");
    }
    let resp = kp
        .raw(Method::GET, "keys?state=0,1,2,3", None, Vec::new())
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/vnd.ibm.collection+json")
    );
    let body: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["metadata"]["collectionTotal"], 4);
    assert_eq!(
        body["metadata"]["collectionType"],
        "application/vnd.ibm.kms.key+json"
    );
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_refused_in_the_kp_envelope() {
    let dev = dev().await;
    let kp = &dev.kp;
    let id = root(kp, "bodies").await;
    let std_id = kp
        .create_key(&NewKey::standard("bodies-std"))
        .await
        .unwrap()
        .id;
    let meta = json!({"collectionType": "application/vnd.ibm.kms.key+json", "collectionTotal": 1});
    let item = |extra: Value| {
        let mut i = json!({"type": "application/vnd.ibm.kms.key+json", "name": "ok-name", "extractable": false});
        for (k, v) in extra.as_object().unwrap() {
            i[k] = v.clone();
        }
        i
    };
    let envelope = |resources: Vec<Value>| json!({"metadata": meta, "resources": resources});
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("garbage JSON", b"{not json".to_vec()),
        ("empty body", Vec::new()),
        ("a JSON array", b"[]".to_vec()),
        ("no resources", serde_json::to_vec(&json!({"metadata": meta})).unwrap()),
        ("zero resources", serde_json::to_vec(&json!({"metadata": {"collectionType": "application/vnd.ibm.kms.key+json", "collectionTotal": 0}, "resources": []})).unwrap()),
        (
            "wrong collectionTotal",
            serde_json::to_vec(&json!({"metadata": {"collectionType": "application/vnd.ibm.kms.key+json", "collectionTotal": 2}, "resources": [item(json!({}))]})).unwrap(),
        ),
        (
            "two resources",
            serde_json::to_vec(&json!({"metadata": {"collectionType": "application/vnd.ibm.kms.key+json", "collectionTotal": 2}, "resources": [item(json!({})), item(json!({"name": "second"}))]})).unwrap(),
        ),
        (
            "wrong collectionType",
            serde_json::to_vec(&json!({"metadata": {"collectionType": "application/vnd.ibm.kms.policy+json", "collectionTotal": 1}, "resources": [item(json!({}))]})).unwrap(),
        ),
        (
            "missing name",
            serde_json::to_vec(&envelope(vec![json!({"type": "application/vnd.ibm.kms.key+json", "extractable": false})])).unwrap(),
        ),
        ("name too short", serde_json::to_vec(&envelope(vec![item(json!({"name": "a"}))])).unwrap()),
        ("wrong type", serde_json::to_vec(&envelope(vec![item(json!({"type": "application/vnd.ibm.kms.policy+json"}))])).unwrap()),
        ("bad base64 payload", serde_json::to_vec(&envelope(vec![item(json!({"payload": "***"}))])).unwrap()),
        ("empty payload", serde_json::to_vec(&envelope(vec![item(json!({"payload": ""}))])).unwrap()),
        ("bad expiration", serde_json::to_vec(&envelope(vec![item(json!({"expirationDate": "tomorrow"}))])).unwrap()),
        ("extractable not a bool", serde_json::to_vec(&envelope(vec![item(json!({"extractable": "no"}))])).unwrap()),
    ];
    for (what, body) in &bodies {
        let resp = kp
            .raw(
                Method::POST,
                "keys",
                Some("application/vnd.ibm.kms.key+json"),
                body.clone(),
            )
            .await
            .unwrap();
        assert_kp_envelope(what, &resp, 400);
    }
    // Nothing was created by the refused bodies.
    let names: Vec<String> = kp
        .list_keys(&KeyFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert!(
        !names.iter().any(|n| n == "ok-name" || n == "second"),
        "{names:?}"
    );

    let actions: Vec<(&str, &str, Value)> = vec![
        (
            "wrap unknown field",
            "wrap",
            json!({"plaintext": STANDARD.encode(SDK_PLAINTEXT), "color": "red"}),
        ),
        (
            "wrap bad base64",
            "wrap",
            json!({"plaintext": "not base64!"}),
        ),
        ("wrap aad not strings", "wrap", json!({"aad": [1, 2]})),
        ("wrap aad not a list", "wrap", json!({"aad": "x"})),
        (
            "unwrap unknown field",
            "unwrap",
            json!({"ciphertext": "AAAA", "extra": 1}),
        ),
        (
            "rewrap unknown field",
            "rewrap",
            json!({"ciphertext": "AAAA", "extra": 1}),
        ),
        ("rotate unknown field", "rotate", json!({"other": 1})),
        ("rotate bad base64", "rotate", json!({"payload": "%%%"})),
    ];
    for (what, action, body) in &actions {
        let resp = kp
            .raw(
                Method::POST,
                &format!("keys/{id}/actions/{action}"),
                Some("application/json"),
                serde_json::to_vec(body).unwrap(),
            )
            .await
            .unwrap();
        assert_kp_envelope(what, &resp, 400);
    }
    let resp = kp
        .raw(
            Method::POST,
            &format!("keys/{id}/actions/wrap"),
            Some("application/json"),
            b"{".to_vec(),
        )
        .await
        .unwrap();
    assert_kp_envelope("wrap garbage JSON", &resp, 400);
    // An empty wrap or rotate body is the default (the SDK sends a content type and no body).
    let resp = kp
        .raw(
            Method::POST,
            &format!("keys/{id}/actions/wrap"),
            Some("application/vnd.ibm.kms.key_action_wrap+json"),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    let body: Value = serde_json::from_slice(&resp.body).unwrap();
    assert!(body["plaintext"].is_string() && body["ciphertext"].is_string());
    // Unknown action and unknown key.
    let resp = kp
        .raw(
            Method::POST,
            &format!("keys/{id}/actions/explode"),
            None,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 404);
    assert_kp(
        "unknown key",
        kp.get_key("00000000-0000-4000-8000-000000000000").await,
        404,
    );
    assert_kp("not a uuid", kp.get_key("not-a-key").await, 404);
    assert_kp("standard key rotation", kp.rotate(&std_id, None).await, 400);
    dev.shutdown().await;
}

/// The forms in which a secret must not appear at rest.
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

fn scan(files: &[PathBuf], secrets: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).unwrap();
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

fn db_files(dir: &Path) -> Vec<PathBuf> {
    ["arca.db", "arca.db-wal", "arca.db-shm"]
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.exists())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_material_is_not_in_the_database_in_clear() {
    let dev = dev().await;
    let kp = &dev.kp;
    let mut secrets: Vec<(String, Vec<u8>)> = Vec::new();
    let mut ids = Vec::new();

    let std_material = random(48);
    let k = kp
        .create_key(&NewKey::standard("at-rest-std").import(&std_material))
        .await
        .unwrap();
    ids.push(k.id);
    secrets.push(("imported standard key".into(), std_material));
    let generated = kp
        .create_key(&NewKey::standard("at-rest-gen"))
        .await
        .unwrap();
    secrets.push((
        "generated standard key".into(),
        generated.payload.clone().unwrap().to_vec(),
    ));
    ids.push(generated.id);
    let root_material = random(32);
    let r = kp
        .create_key(&NewKey::root("at-rest-root").import(&root_material))
        .await
        .unwrap();
    secrets.push(("imported root key".into(), root_material));
    let rotated_material = random(32);
    kp.rotate(&r.id, Some(&rotated_material)).await.unwrap();
    secrets.push(("imported root key, version 2".into(), rotated_material));
    // A DEK wrapped by it is never stored either.
    let dek = random(32);
    kp.wrap(&r.id, Some(&dek), &[]).await.unwrap();
    secrets.push(("wrapped DEK".into(), dek));
    ids.push(r.id);

    let dir = dev.data_dir();
    let files = db_files(&dir);
    assert!(files.contains(&dir.join("arca.db")), "{files:?}");
    let all: Vec<u8> = files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    for id in &ids {
        assert!(
            contains(&all, id.as_bytes()),
            "key id {id} not in the files: wrong files?"
        );
    }
    let found = scan(&files, &secrets);
    assert!(
        found.is_empty(),
        "key material at rest while running: {found:#?}"
    );

    dev.server.shutdown().await;
    let found = scan(&db_files(&dir), &secrets);
    assert!(
        found.is_empty(),
        "key material at rest after shutdown: {found:#?}"
    );
    drop(dev.dir);
}
