//! Secure key import (BYOK) through import tokens, over the wire as IBM's clients do it:
//! RSA-OAEP-encrypted material plus the token's nonce AES-GCM-encrypted with that material.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use arca_client::Client;
use arca_client::kp::KpClient;
use arca_crypto::aead::AeadKey;
use arca_crypto::oaep::{OaepHash, encrypt_to_public_key};
use arca_proto::instance::ServiceKind;
use arca_services::{Clock as _, ManualClock, SystemClock};
use axum::http::Method;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Env, init_and_unseal, within};
use serde_json::{Value, json};

const KEY_MEDIA: &str = "application/vnd.ibm.kms.key+json";

struct Token {
    spki_der: Vec<u8>,
    nonce: Vec<u8>,
}

async fn call(kp: &KpClient, method: Method, path: &str, body: Value) -> (u16, Value) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let resp = within(path, kp.raw(method, path, Some("application/json"), bytes))
        .await
        .unwrap();
    let value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    (resp.status, value)
}

async fn new_token(kp: &KpClient, retrievals: i64) -> Token {
    let (status, created) = call(
        kp,
        Method::POST,
        "import_token",
        json!({"expiration": 600, "maxAllowedRetrievals": retrievals}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["remainingRetrievals"], retrievals);
    let (status, got) = call(kp, Method::GET, "import_token", Value::Null).await;
    assert_eq!(status, 200, "{got}");
    let pem =
        String::from_utf8(STANDARD.decode(got["payload"].as_str().unwrap()).unwrap()).unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    Token {
        spki_der: STANDARD.decode(body).unwrap(),
        nonce: STANDARD.decode(got["nonce"].as_str().unwrap()).unwrap(),
    }
}

/// The resource item of a secure import of `material`, proving `nonce`.
fn secure_item(
    token: &Token,
    material: &[u8],
    nonce: &[u8],
    hash: OaepHash,
    algorithm: &str,
) -> Value {
    let iv = [7u8; 12];
    let encrypted_nonce = AeadKey::from_bytes_any_size(material)
        .unwrap()
        .seal_with_nonce(&iv, &[], nonce)
        .unwrap();
    let payload = encrypt_to_public_key(&token.spki_der, hash, material).unwrap();
    json!({
        "type": KEY_MEDIA,
        "name": "imported-root",
        "extractable": false,
        "payload": STANDARD.encode(payload),
        "encryptedNonce": STANDARD.encode(encrypted_nonce),
        "iv": STANDARD.encode(iv),
        "encryptionAlgorithm": algorithm,
    })
}

fn envelope(item: Value) -> Value {
    json!({"metadata": {"collectionType": KEY_MEDIA, "collectionTotal": 1}, "resources": [item]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_import_creates_and_rotates_keys_and_refuses_bad_proofs() {
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
        .create_instance("byok", ServiceKind::Kms)
        .await
        .unwrap();
    let kp = admin.kp(&instance.id);

    // No token yet.
    let material = [0x11u8; 32];
    let (status, _) = call(&kp, Method::GET, "import_token", Value::Null).await;
    assert_eq!(status, 404);

    let token = new_token(&kp, 1).await;
    // The single retrieval is used up.
    let (status, body) = call(&kp, Method::GET, "import_token", Value::Null).await;
    assert_eq!(status, 409, "{body}");

    // A wrong nonce, a payload for another key, a bad algorithm, a standard key: refused, 4xx.
    let wrong_nonce = secure_item(
        &token,
        &material,
        b"not-the-nonce",
        OaepHash::Sha256,
        "RSAES_OAEP_SHA_256",
    );
    let (status, body) = call(&kp, Method::POST, "keys", envelope(wrong_nonce)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("nonce"), "{body}");
    let mut garbage = secure_item(
        &token,
        &material,
        &token.nonce,
        OaepHash::Sha256,
        "RSAES_OAEP_SHA_256",
    );
    garbage["payload"] = json!(STANDARD.encode([1u8; 512]));
    assert_eq!(
        call(&kp, Method::POST, "keys", envelope(garbage)).await.0,
        400
    );
    let bad_alg = secure_item(
        &token,
        &material,
        &token.nonce,
        OaepHash::Sha256,
        "RSAES_PKCS1_V1_5",
    );
    assert_eq!(
        call(&kp, Method::POST, "keys", envelope(bad_alg)).await.0,
        400
    );
    let mut standard = secure_item(
        &token,
        &material,
        &token.nonce,
        OaepHash::Sha256,
        "RSAES_OAEP_SHA_256",
    );
    standard["extractable"] = json!(true);
    assert_eq!(
        call(&kp, Method::POST, "keys", envelope(standard)).await.0,
        400
    );
    let mut half = secure_item(
        &token,
        &material,
        &token.nonce,
        OaepHash::Sha256,
        "RSAES_OAEP_SHA_256",
    );
    half.as_object_mut().unwrap().remove("iv");
    assert_eq!(call(&kp, Method::POST, "keys", envelope(half)).await.0, 400);

    // The real thing (SHA-256), then SHA-1 with a 128-bit key.
    let good = secure_item(
        &token,
        &material,
        &token.nonce,
        OaepHash::Sha256,
        "RSAES_OAEP_SHA_256",
    );
    let (status, created) = call(&kp, Method::POST, "keys", envelope(good)).await;
    assert_eq!(status, 201, "{created}");
    let key = &created["resources"][0];
    assert_eq!(key["imported"], true);
    assert!(
        key.get("payload").is_none(),
        "root key material is never returned"
    );
    let id = key["id"].as_str().unwrap().to_owned();
    let wrapped = kp.wrap(&id, Some(b"data key"), &[]).await.unwrap();
    assert_eq!(
        kp.unwrap(&id, &wrapped.ciphertext, &[])
            .await
            .unwrap()
            .plaintext
            .unwrap()
            .as_slice(),
        b"data key"
    );
    let short = [0x22u8; 16];
    let sha1 = secure_item(
        &token,
        &short,
        &token.nonce,
        OaepHash::Sha1,
        "RSAES_OAEP_SHA_1",
    );
    assert_eq!(call(&kp, Method::POST, "keys", envelope(sha1)).await.0, 201);

    // Rotation of the imported key with new securely imported material.
    let next = [0x33u8; 32];
    let mut rotate = secure_item(
        &token,
        &next,
        &token.nonce,
        OaepHash::Sha256,
        "RSAES_OAEP_SHA_256",
    );
    for k in ["type", "name", "extractable"] {
        rotate.as_object_mut().unwrap().remove(k);
    }
    let (status, body) = call(
        &kp,
        Method::POST,
        &format!("keys/{id}/actions/rotate"),
        rotate.clone(),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let again = kp.unwrap(&id, &wrapped.ciphertext, &[]).await.unwrap();
    assert!(
        again.ciphertext.is_some(),
        "the old ciphertext comes back rewrapped"
    );
    assert_eq!(again.plaintext.unwrap().as_slice(), b"data key");

    // After the token's lifetime, it opens nothing more.
    clock.advance(time::Duration::seconds(601));
    let late = secure_item(
        &token,
        &material,
        &token.nonce,
        OaepHash::Sha256,
        "RSAES_OAEP_SHA_256",
    );
    let (status, body) = call(&kp, Method::POST, "keys", envelope(late)).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("expired"), "{body}");
    let (status, _) = call(
        &kp,
        Method::POST,
        &format!("keys/{id}/actions/rotate"),
        rotate,
    )
    .await;
    assert_eq!(status, 409);
    running.shutdown().await;
}
