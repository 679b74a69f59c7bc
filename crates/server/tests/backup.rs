//! Backups through the API and their restore: a backup of a running server restores into an
//! empty database, where the same unseal shares open everything as before; a changed, cut or
//! foreign backup is refused; scheduled backups keep the configured number.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use arca_client::kp::NewKey;
use arca_keystore::{Keystore, ShamirKeystore, UnsealInput};
use arca_proto::instance::ServiceKind;
use arca_services::ManualClock;
use arca_services::backup::{self, BackupError};
use arca_store::{SqliteStore, StoreError};
use common::{Env, init_and_unseal, ready_server, within};
use serde_json::json;

async fn download(client: &arca_client::Client) -> Vec<u8> {
    let mut d = within("backup", client.backup()).await.unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = within("chunk", d.chunk()).await.unwrap() {
        out.extend_from_slice(&chunk);
    }
    out
}

/// A keystore loaded with the backup's seal record and unsealed with `shares`.
fn keystore_for(file: &[u8], shares: &[String]) -> Arc<dyn Keystore> {
    let header = futures_header(file);
    let ks = ShamirKeystore::new();
    ks.load(backup::seal_record_of(&header).unwrap()).unwrap();
    for s in shares {
        ks.unseal(UnsealInput::Share(s)).unwrap();
    }
    assert!(!ks.status().sealed);
    Arc::new(ks)
}

fn futures_header(file: &[u8]) -> backup::format::BackupHeader {
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current()
            .block_on(async { backup::open(file).await.unwrap().header().clone() })
    })
}

/// Replaces the trailer's digest so the file passes the offline check again: only the frames'
/// tags can then tell it was changed.
fn with_fixed_checksum(mut file: Vec<u8>) -> Vec<u8> {
    let body = file.len() - 40;
    let digest = arca_crypto::hash::sha256(&file[..body]);
    file[body + 8..].copy_from_slice(&digest);
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_into_an_empty_database() {
    let env = Env::shamir();
    let (server, admin, init) = ready_server(&env, 3, 2).await;
    let kms = admin
        .create_instance("keys", ServiceKind::Kms)
        .await
        .unwrap();
    let sm_instance = admin
        .create_instance("secrets", ServiceKind::SecretsManager)
        .await
        .unwrap();
    let kp = admin.kp(&kms.id);
    let key = within("key", kp.create_key(&NewKey::root("backed-up")))
        .await
        .unwrap();
    let wrapped = kp
        .wrap(&key.id, Some(b"data key 32 bytes long.........."), &[])
        .await
        .unwrap();
    let sm = admin.sm(&sm_instance.id);
    let secret = sm
        .create_secret(&json!({"secret_type": "arbitrary", "name": "db-password",
                               "payload": "backed up payload"}))
        .await
        .unwrap();
    let secret_id = secret["id"].as_str().unwrap().to_owned();

    // Administrators only.
    let anonymous = server.client(None).backup().await.unwrap_err();
    assert_eq!(anonymous.status(), Some(401), "{anonymous}");

    let file = download(&admin).await;
    // Nothing stored is visible in the file: names, payloads, ids are all in sealed frames.
    for needle in [
        &b"db-password"[..],
        b"backed up payload",
        b"backed-up",
        key.id.as_bytes(),
    ] {
        assert!(!file.windows(needle.len()).any(|w| w == needle));
    }
    let report = backup::verify_structure(backup::open(&file[..]).await.unwrap(), &|_| {})
        .await
        .unwrap();
    assert!(report.rows >= 10, "{report:?}");
    assert_eq!(report.header.backend, "sqlite");
    let shares = &init.shares[1..3];
    let keystore = keystore_for(&file, shares);
    let full = backup::verify_contents(backup::open(&file[..]).await.unwrap(), &*keystore, &|_| {})
        .await
        .unwrap();
    let tables = full.tables.unwrap();
    assert!(
        tables.iter().any(|(t, n)| t == "kp_keys" && *n == 1),
        "{tables:?}"
    );
    assert!(
        tables.iter().any(|(t, n)| t == "sm_secrets" && *n == 1),
        "{tables:?}"
    );

    // Damage the offline check finds: a flipped byte, a cut file, bytes after the end.
    let mut flipped = file.clone();
    let mid = file.len() / 2;
    flipped[mid] ^= 0x40;
    let cut = &file[..file.len() - 100];
    let mut longer = file.clone();
    longer.push(0);
    for (what, bad) in [
        ("flipped", &flipped[..]),
        ("cut", cut),
        ("longer", &longer[..]),
    ] {
        let r = match backup::open(bad).await {
            Ok(reader) => backup::verify_structure(reader, &|_| {}).await.map(|_| ()),
            Err(e) => Err(e),
        };
        assert!(matches!(r, Err(BackupError::Format(_))), "{what}: {r:?}");
    }
    // With the checksum made to match, only the frames' tags tell: a restore refuses and
    // writes nothing.
    let forged = with_fixed_checksum(flipped);
    backup::verify_structure(backup::open(&forged[..]).await.unwrap(), &|_| {})
        .await
        .unwrap();
    let target = Env::shamir();
    std::fs::create_dir_all(target.data_dir()).unwrap();
    let store = SqliteStore::open(&target.data_dir().join("arca.db"))
        .await
        .unwrap();
    let r = backup::restore(
        backup::open(&forged[..]).await.unwrap(),
        &*keystore,
        &store,
        &|_| {},
    )
    .await;
    assert!(matches!(r, Err(BackupError::Authentication)), "{r:?}");

    // Another root of trust opens nothing.
    let other_env = Env::shamir();
    let (other, _, other_init) = ready_server(&other_env, 3, 2).await;
    let other_file = download(&other.client(Some(&other_init.api_key))).await;
    other.shutdown().await;
    let foreign = keystore_for(&other_file, &other_init.shares[..2]);
    let r =
        backup::verify_contents(backup::open(&file[..]).await.unwrap(), &*foreign, &|_| {}).await;
    assert!(matches!(r, Err(BackupError::Authentication)), "{r:?}");

    // The real restore.
    let mut progress = std::sync::Mutex::new(0u64);
    let restored = backup::restore(
        backup::open(&file[..]).await.unwrap(),
        &*keystore,
        &store,
        &|n| {
            *progress.lock().unwrap() = n;
        },
    )
    .await
    .unwrap();
    assert_eq!(restored.rows, report.rows);
    assert_eq!(*progress.get_mut().unwrap(), report.rows);
    // Only into an empty store.
    let again = backup::restore(
        backup::open(&file[..]).await.unwrap(),
        &*keystore,
        &store,
        &|_| {},
    )
    .await;
    assert!(
        matches!(again, Err(BackupError::Store(StoreError::NotEmpty))),
        "{again:?}"
    );
    store.close().await;
    server.shutdown().await;

    // A server on the restored database: sealed, unsealed by the same shares, serving the
    // same keys and secrets to the same API key.
    let restored_server = target.start().await;
    let anon = restored_server.client(None);
    assert!(within("status", anon.seal_status()).await.unwrap().sealed);
    for s in &init.shares[..2] {
        within("unseal", anon.unseal(Some(s))).await.unwrap();
    }
    let admin2 = restored_server.client(Some(&init.api_key));
    let unwrapped = admin2
        .kp(&kms.id)
        .unwrap(&key.id, &wrapped.ciphertext, &[])
        .await
        .unwrap();
    assert_eq!(
        unwrapped.plaintext.unwrap().as_slice(),
        b"data key 32 bytes long.........."
    );
    assert_eq!(
        admin2
            .sm(&sm_instance.id)
            .get_secret(&secret_id)
            .await
            .unwrap()["payload"],
        "backed up payload"
    );
    restored_server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_keep_the_newest() {
    let mut env = Env::shamir();
    let dir = env.dir.path().join("backups");
    env.config.jobs_interval = Duration::from_secs(1);
    env.config.backup = Some(backup::BackupSchedule {
        dir: dir.clone(),
        interval: Duration::from_secs(24 * 3600),
        keep: 2,
    });
    let clock = Arc::new(ManualClock::new(
        time::macros::datetime!(2026-11-23 06:00 UTC),
    ));
    let running = within(
        "start",
        arca_server::start_with_clock(&env.config, clock.clone()),
    )
    .await
    .unwrap();
    let client = arca_client::Client::new(
        &format!("https://{}", running.local_addr()),
        Some(&env.ca_pem),
        None,
    )
    .unwrap();
    let init = init_and_unseal(&client, 1, 1).await;
    let names = || {
        let mut v: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let wait_for = |n: usize, newest: &'static str| {
        let names = &names;
        async move {
            for _ in 0..200 {
                let v = names();
                if v.len() == n && v.last().map(String::as_str) == Some(newest) {
                    return v;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("expected {n} backups up to {newest}, found {:?}", names());
        }
    };
    wait_for(1, "arca-backup-20261123T060000Z.arcabk").await;
    // Not due again before the interval.
    clock.advance(time::Duration::hours(23));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(names().len(), 1);
    clock.advance(time::Duration::hours(1));
    wait_for(2, "arca-backup-20261124T060000Z.arcabk").await;
    clock.advance(time::Duration::hours(24));
    let kept = wait_for(2, "arca-backup-20261125T060000Z.arcabk").await;
    assert_eq!(kept[0], "arca-backup-20261124T060000Z.arcabk");
    // Each is a whole backup that the cluster's share opens.
    let bytes = std::fs::read(dir.join(&kept[1])).unwrap();
    let ks = keystore_for(&bytes, &init.shares);
    backup::verify_contents(backup::open(&bytes[..]).await.unwrap(), &*ks, &|_| {})
        .await
        .unwrap();
    within("shutdown", running.shutdown()).await;
}
