//! The database files (including the WAL) of a server that holds keys contain no key material in
//! clear: not the instance keys, not the unseal shares, not the admin API key, in any of the
//! usual encodings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use arca_proto::instance::ServiceKind;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use common::{Env, init_and_unseal, within};

/// A secret and the forms in which it must not appear.
struct Secret {
    what: String,
    forms: Vec<(&'static str, Vec<u8>)>,
}

fn secret(what: impl Into<String>, bytes: &[u8]) -> Secret {
    assert!(bytes.len() >= 16, "needle too short to be meaningful");
    let forms = vec![
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
    ];
    Secret {
        what: what.into(),
        forms,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every (file, secret, form) found.
fn scan(files: &[PathBuf], secrets: &[Secret]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        for s in secrets {
            for (form, needle) in &s.forms {
                if contains(&bytes, needle) {
                    found.push(format!("{} in {} ({form})", s.what, file.display()));
                }
            }
        }
    }
    found
}

fn db_files(data_dir: &Path) -> Vec<PathBuf> {
    ["arca.db", "arca.db-wal", "arca.db-shm"]
        .iter()
        .map(|n| data_dir.join(n))
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn the_scanner_finds_planted_needles() {
    let dir = tempfile::tempdir().unwrap();
    let needle: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let other: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(53).wrapping_add(7))
        .collect();
    let secrets = [secret("needle", &needle)];
    let clean = dir.path().join("clean");
    std::fs::write(&clean, vec![0u8; 4096]).unwrap();
    assert!(scan(std::slice::from_ref(&clean), &secrets).is_empty());
    for (form, encoded) in &secret("needle", &needle).forms {
        let file = dir.path().join(form.replace(' ', "_"));
        let mut bytes = b"padding before ".to_vec();
        bytes.extend_from_slice(encoded);
        bytes.extend_from_slice(b" and after");
        std::fs::write(&file, &bytes).unwrap();
        let found = scan(&[clean.clone(), file.clone()], &secrets);
        assert!(
            found.iter().any(|f| f.contains(&format!("({form})"))),
            "{form} not found: {found:?}"
        );
        // Another secret is not reported.
        assert!(scan(&[file], &[secret("other", &other)]).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_files_hold_no_key_material_in_clear() {
    let env = Env::shamir();
    let server = env.start().await;
    let client = server.client(None);
    let init = init_and_unseal(&client, 5, 3).await;
    let admin = server.client(Some(&init.api_key));

    let mut ids = Vec::new();
    for (i, service) in [
        ServiceKind::Kms,
        ServiceKind::SecretsManager,
        ServiceKind::Kms,
        ServiceKind::Kms,
        ServiceKind::SecretsManager,
    ]
    .into_iter()
    .enumerate()
    {
        let created = within("create", admin.create_instance(&format!("i{i}"), service))
            .await
            .unwrap();
        ids.push(created.id);
    }

    // Collect the secrets, in process.
    let mut secrets = Vec::new();
    let assembled = server.running.assembled();
    for id in &ids {
        let record = assembled
            .store
            .get_instance(id)
            .await
            .unwrap()
            .expect("instance row");
        assert!(!record.wrapped_key.is_empty());
        let key = assembled
            .keystore
            .unwrap(
                &arca_services::instances::instance_key_aad(id),
                &record.wrapped_key,
            )
            .expect("unwrap the instance key");
        assert_eq!(key.len(), 32);
        // Sanity: the stored form differs from the key (it is wrapped).
        assert!(!contains(&record.wrapped_key, &key));
        secrets.push(secret(format!("instance key of {id}"), &key));
    }
    secrets.push(secret("admin API key text", init.api_key.as_bytes()));
    let api_key_bytes = URL_SAFE_NO_PAD
        .decode(&init.api_key)
        .expect("the API key is base64url");
    secrets.push(secret("admin API key bytes", &api_key_bytes));
    for (i, share) in init.shares.iter().enumerate() {
        secrets.push(secret(format!("share {i} text"), share.as_bytes()));
        let body = share
            .strip_prefix(arca_crypto::shamir::SHARE_TEXT_PREFIX)
            .expect("share prefix");
        let raw = STANDARD.decode(body).expect("share base64");
        assert!(raw.len() > 32, "share bytes: x then one byte per key byte");
        secrets.push(secret(format!("share {i} bytes"), &raw));
        // The y-bytes alone are as secret as the share.
        secrets.push(secret(format!("share {i} y-bytes"), &raw[1..]));
    }

    // While running: the WAL is live and holds the recent writes.
    let data_dir = env.data_dir();
    let wal = data_dir.join("arca.db-wal");
    let wal_len = std::fs::metadata(&wal)
        .unwrap_or_else(|e| panic!("{}: {e}", wal.display()))
        .len();
    assert!(
        wal_len > 0,
        "the WAL is empty: the scan would prove nothing"
    );
    let files = db_files(data_dir);
    assert!(files.contains(&data_dir.join("arca.db")));
    assert!(files.contains(&wal));
    // The files do hold the non-secret data we wrote (the scan reads the right files).
    let all: Vec<u8> = files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    for id in &ids {
        assert!(
            contains(&all, id.as_bytes()),
            "instance id {id} not found in the files"
        );
    }
    let found = scan(&files, &secrets);
    assert!(
        found.is_empty(),
        "secrets at rest while running: {found:#?}"
    );

    // After shutdown (the WAL is checkpointed into the main file).
    server.shutdown().await;
    let main = vec![data_dir.join("arca.db")];
    let bytes = std::fs::read(&main[0]).unwrap();
    for id in &ids {
        assert!(
            contains(&bytes, id.as_bytes()),
            "instance id {id} not in arca.db"
        );
    }
    let found = scan(&main, &secrets);
    assert!(
        found.is_empty(),
        "secrets at rest after shutdown: {found:#?}"
    );
    let found = scan(&db_files(data_dir), &secrets);
    assert!(
        found.is_empty(),
        "secrets at rest after shutdown: {found:#?}"
    );
}
