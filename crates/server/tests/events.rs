//! Lifecycle events through the API against a server on a manual clock: a local receiver checks
//! every signature and records what it gets — a key rotation, a secret rotated by its policy, a
//! certificate nearing expiry (30, 7 and 1 days before, each once, then expired), a test send —
//! and a receiver that is down gets its event after the backoff once it is back. No sleeping:
//! the jobs are run directly after moving the clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use arca_client::events::DeliveryFilter;
use arca_client::kp::{NewKey, RotationPolicy};
use arca_pki::{CaParams, CaSigner, KeyType, LeafRequest, Template};
use arca_proto::events::CreateEventRegistration;
use arca_proto::instance::ServiceKind;
use arca_services::{Clock as _, ManualClock, SystemClock};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use common::{Env, init_and_unseal, status_of, within};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tokio::net::TcpListener;

const SECRET: &str = "receiver-secret-0123456789";

/// What the receiver accepted.
#[derive(Debug, Clone)]
struct Received {
    event_type: String,
    body: Value,
}

#[derive(Clone, Default)]
struct Hook {
    secrets: Arc<Mutex<Vec<String>>>,
    received: Arc<Mutex<Vec<Received>>>,
    rejected: Arc<AtomicUsize>,
}

impl Hook {
    fn with_secret(secret: &str) -> Self {
        let hook = Self::default();
        hook.secrets.lock().unwrap().push(secret.to_owned());
        hook
    }

    fn of_type(&self, t: &str) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.event_type == t)
            .map(|r| r.body.clone())
            .collect()
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

/// The verification recipe of the README.
fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(sig), Some(ts)) = (header("arca-signature"), header("arca-timestamp")) else {
        return false;
    };
    let mut t = None;
    let mut v1 = None;
    for part in sig.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if t != ts {
        return false;
    }
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let expected = hex::encode(arca_crypto::hash::hmac_sha256(secret.as_bytes(), &signed));
    arca_crypto::hash::ct_eq(expected.as_bytes(), v1.as_bytes())
}

async fn receive(State(hook): State<Hook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let secrets = hook.secrets.lock().unwrap().clone();
    if !secrets.iter().any(|s| verify(s, &headers, &body)) {
        hook.rejected.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if header("arca-event-id") != value["id"].as_str().unwrap_or("-")
        || header("arca-event-type") != value["type"].as_str().unwrap_or("-")
    {
        return StatusCode::BAD_REQUEST;
    }
    hook.received.lock().unwrap().push(Received {
        event_type: header("arca-event-type").to_owned(),
        body: value,
    });
    StatusCode::NO_CONTENT
}

/// Serves `hook` on `listener` until the returned handle is aborted.
fn serve(listener: TcpListener, hook: Hook) -> tokio::task::JoinHandle<()> {
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(hook);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

async fn start_receiver(hook: Hook) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, serve(listener, hook))
}

struct Clocked {
    _env: Env,
    clock: Arc<ManualClock>,
    running: arca_server::RunningServer,
    admin: arca_client::Client,
}

impl Clocked {
    fn arca(&self) -> &arca_services::Arca {
        &self.running.assembled().arca
    }

    async fn advance_and_run(&self, by: Duration) -> arca_services::events::EventsDueWork {
        self.clock.advance(by);
        self.arca().keys.run_due_work_now().await.unwrap();
        self.arca().secrets.run_due_work_now().await.unwrap();
        self.arca().events.run_due_work_now().await.unwrap()
    }
}

async fn clocked() -> Clocked {
    let mut env = Env::shamir();
    // The background jobs stay out of the way: the test runs them when it moves the clock.
    env.config.jobs_interval = StdDuration::from_secs(86_400);
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
    Clocked {
        _env: env,
        clock,
        running,
        admin,
    }
}

fn registration(url: &str, types: &[&str], secret: Option<&str>) -> CreateEventRegistration {
    CreateEventRegistration {
        url: url.to_owned(),
        event_types: types.iter().map(|t| (*t).to_owned()).collect(),
        secret: secret.map(str::to_owned),
    }
}

fn parse_time(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(
        v.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_events_for_keys_secrets_and_certificates() {
    let c = clocked().await;
    let kms = c
        .admin
        .create_instance("keys", ServiceKind::Kms)
        .await
        .unwrap();
    let sm_instance = c
        .admin
        .create_instance("secrets", ServiceKind::SecretsManager)
        .await
        .unwrap();
    let hook = Hook::with_secret(SECRET);
    let (addr, _receiver) = start_receiver(hook.clone()).await;
    let url = format!("http://{addr}/hook");

    // Bad registrations: 400, nothing stored.
    for (what, bad) in [
        ("ftp", registration("ftp://127.0.0.1/x", &[], None)),
        (
            "http off loopback",
            registration("http://example.com/hook", &[], None),
        ),
        (
            "credentials",
            registration("https://u:p@example.com/hook", &[], None),
        ),
        ("not a URL", registration("hook", &[], None)),
        ("unknown type", registration(&url, &["key.exploded"], None)),
        ("short secret", registration(&url, &[], Some("short"))),
    ] {
        assert_eq!(
            status_of(what, c.admin.create_event_registration(&kms.id, &bad).await),
            400,
            "{what}"
        );
    }
    assert!(
        c.admin
            .event_registrations(&kms.id)
            .await
            .unwrap()
            .is_empty()
    );

    // A registration with the receiver's secret; the secret is never shown again.
    let created = c
        .admin
        .create_event_registration(&kms.id, &registration(&url, &[], Some(SECRET)))
        .await
        .unwrap();
    assert_eq!(created.secret, SECRET);
    let rid = created.registration.id.clone();
    let listed = c.admin.event_registrations(&kms.id).await.unwrap();
    assert_eq!(listed, vec![created.registration.clone()]);
    let raw = c
        .admin
        .raw(
            Method::GET,
            &format!("/v1/instances/{}/event_registrations/{rid}", kms.id),
            None,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(raw.status, 200);
    assert!(!String::from_utf8_lossy(&raw.body).contains(SECRET));

    // Key created and rotated: signed events, ids and states only.
    let kp = c.admin.kp(&kms.id);
    let key = kp.create_key(&NewKey::root("evented")).await.unwrap();
    kp.rotate(&key.id, None).await.unwrap();
    assert_eq!(hook.count(), 0, "nothing is sent before the jobs run");
    let work = c.arca().events.run_due_work_now().await.unwrap();
    assert_eq!(work.delivered, 2, "{work:?}");
    let rotated = hook.of_type("key.rotated");
    assert_eq!(rotated.len(), 1);
    let e = &rotated[0];
    assert_eq!(e["instance_id"], kms.id.as_str());
    assert_eq!(e["subject"], key.id.as_str());
    assert_eq!(e["data"]["key_id"], key.id.as_str());
    assert_eq!(e["data"]["key_version"], 2);
    assert_eq!(e["data"]["key_type"], "root");
    assert_eq!(hook.of_type("key.created").len(), 1);
    // Sent once: a second pass has nothing to do.
    assert_eq!(
        c.arca().events.run_due_work_now().await.unwrap().delivered,
        0
    );
    let log = c
        .admin
        .event_deliveries(&kms.id, &DeliveryFilter::default())
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
    assert!(
        log.iter()
            .all(|d| d.state == "delivered" && d.attempts == 1 && d.last_status == Some(204))
    );

    // Test send, with a server-made secret the receiver learns: delivered and logged.
    let made = c
        .admin
        .create_event_registration(&kms.id, &registration(&url, &["key.deleted"], None))
        .await
        .unwrap();
    assert_eq!(made.secret.len(), 64);
    hook.secrets.lock().unwrap().push(made.secret.clone());
    let sent = c
        .admin
        .test_event_registration(&kms.id, &made.registration.id)
        .await
        .unwrap();
    assert_eq!(
        (sent.state.as_str(), sent.event_type.as_str()),
        ("delivered", "arca.test")
    );
    assert_eq!(hook.of_type("arca.test").len(), 1);
    // The filter holds: a rotation is not sent to it.
    kp.rotate(&key.id, None).await.unwrap();
    c.arca().events.run_due_work_now().await.unwrap();
    let of_made = c
        .admin
        .event_deliveries(
            &kms.id,
            &DeliveryFilter {
                registration_id: Some(made.registration.id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(of_made.len(), 1, "{of_made:?}");
    assert_eq!(hook.of_type("key.rotated").len(), 2);

    // A wrong signature fails: a registration whose secret the receiver does not know is
    // refused (401), and the delivery stays pending with the status logged.
    let stranger = c
        .admin
        .create_event_registration(
            &kms.id,
            &registration(&url, &[], Some("not-the-receiver-secret")),
        )
        .await
        .unwrap();
    let refused = c
        .admin
        .test_event_registration(&kms.id, &stranger.registration.id)
        .await
        .unwrap();
    assert_eq!(refused.state, "pending");
    assert_eq!(refused.last_status, Some(401));
    assert!(refused.next_attempt_at.is_some());
    assert_eq!(hook.rejected.load(Ordering::SeqCst), 1);
    c.admin
        .delete_event_registration(&kms.id, &stranger.registration.id)
        .await
        .unwrap();
    assert_eq!(
        status_of(
            "deleted",
            c.admin
                .event_registration(&kms.id, &stranger.registration.id)
                .await
        ),
        404
    );

    // A root key with a monthly rotation policy: the jobs rotate it, and say so.
    let mut monthly = NewKey::root("monthly");
    monthly.rotation = Some(RotationPolicy {
        enabled: true,
        interval_month: Some(1),
    });
    let monthly = kp.create_key(&monthly).await.unwrap();
    let by_policy = |hook: &Hook| {
        hook.of_type("key.rotated")
            .into_iter()
            .filter(|e| e["subject"] == monthly.id.as_str())
            .count()
    };
    c.advance_and_run(Duration::days(29)).await;
    assert_eq!(by_policy(&hook), 0);
    c.advance_and_run(Duration::days(1) + Duration::minutes(1))
        .await;
    assert_eq!(by_policy(&hook), 1, "rotated by its policy after 30 days");

    // Secrets: rotation by policy through the jobs, and a certificate nearing expiry.
    c.admin
        .create_event_registration(
            &sm_instance.id,
            &registration(
                &url,
                &[
                    "secret.rotated",
                    "certificate.expiring",
                    "certificate.expired",
                ],
                Some(SECRET),
            ),
        )
        .await
        .unwrap();
    let sm = c.admin.sm(&sm_instance.id);
    let secret = sm
        .create_secret(&json!({
            "secret_type": "username_password", "name": "db",
            "username": "app", "password": "first-password-0",
            "rotation": {"auto_rotate": true, "interval": 1, "unit": "day"},
        }))
        .await
        .unwrap();
    let secret_id = secret["id"].as_str().unwrap().to_owned();
    let now = c.clock.now();
    let mut params = CaParams::new("Events CA", StdDuration::from_secs(90 * 86_400));
    params.key_type = KeyType::Ec;
    params.key_bits = 256;
    let root = arca_pki::generate_root(&params, now).unwrap();
    let ca = CaSigner::from_pem(&root.certificate_pem, &root.private_key_pem).unwrap();
    let template = Template {
        allowed_domains: vec!["example.com".into()],
        allow_subdomains: true,
        key_type: KeyType::Ec,
        key_bits: 256,
        ..Template::default()
    };
    let leaf = arca_pki::issue(&ca, &template, &LeafRequest::new("www.example.com"), now).unwrap();
    let cert = sm
        .create_secret(&json!({
            "secret_type": "imported_cert", "name": "expiring",
            "certificate": leaf.certificate_pem,
            "intermediate": root.certificate_pem,
            "private_key": leaf.private_key_pem.as_ref().unwrap().to_string(),
        }))
        .await
        .unwrap();
    let cert_id = cert["id"].as_str().unwrap().to_owned();
    let expires = parse_time(&cert["expiration_date"]);
    assert!(expires - now > Duration::days(60), "{expires}");

    // A day later the password rotates by policy: one signed secret.rotated event.
    c.advance_and_run(Duration::days(1) + Duration::minutes(1))
        .await;
    let rotated = hook.of_type("secret.rotated");
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    assert_eq!(rotated[0]["subject"], secret_id.as_str());
    assert_eq!(rotated[0]["data"]["secret_type"], "username_password");
    assert_eq!(rotated[0]["data"]["version"], 2);
    let text = rotated[0].to_string();
    assert!(
        !text.contains("first-password-0") && !text.contains("password\":\""),
        "{text}"
    );

    // The certificate: nothing until 30 days before, then 30, 7 and 1 days, each once.
    let expiring = |hook: &Hook| -> Vec<i64> {
        hook.of_type("certificate.expiring")
            .iter()
            .map(|e| {
                assert_eq!(e["subject"], cert_id.as_str());
                e["data"]["days_before"].as_i64().unwrap()
            })
            .collect()
    };
    let to = |at: OffsetDateTime| at - c.clock.now();
    c.advance_and_run(to(expires - Duration::days(31))).await;
    assert!(expiring(&hook).is_empty());
    c.advance_and_run(to(expires - Duration::days(30))).await;
    assert_eq!(expiring(&hook), [30]);
    c.advance_and_run(Duration::days(1)).await;
    assert_eq!(expiring(&hook), [30], "once per threshold");
    c.advance_and_run(to(expires - Duration::days(6))).await;
    assert_eq!(expiring(&hook), [30, 7]);
    c.advance_and_run(to(expires - Duration::hours(12))).await;
    assert_eq!(expiring(&hook), [30, 7, 1]);
    c.advance_and_run(Duration::hours(1)).await;
    assert_eq!(expiring(&hook), [30, 7, 1]);
    assert!(hook.of_type("certificate.expired").is_empty());
    c.advance_and_run(to(expires + Duration::minutes(1))).await;
    let expired = hook.of_type("certificate.expired");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["subject"], cert_id.as_str());
    assert_eq!(expired[0]["data"]["state"], "destroyed");
    c.advance_and_run(Duration::days(1)).await;
    assert_eq!(hook.of_type("certificate.expired").len(), 1);
    assert_eq!(
        hook.rejected.load(Ordering::SeqCst),
        1,
        "every other signature verified"
    );

    c.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_down_gets_the_event_after_it_comes_back() {
    let c = clocked().await;
    let kms = c
        .admin
        .create_instance("keys", ServiceKind::Kms)
        .await
        .unwrap();
    // A port with nobody listening on it (yet).
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/hook");
    let created = c
        .admin
        .create_event_registration(&kms.id, &registration(&url, &["key.rotated"], Some(SECRET)))
        .await
        .unwrap();
    let kp = c.admin.kp(&kms.id);
    let key = kp.create_key(&NewKey::root("rotating")).await.unwrap();
    kp.rotate(&key.id, None).await.unwrap();

    // Down: the attempt fails, is logged, and is due again after the first backoff (30 s).
    let work = c.arca().events.run_due_work_now().await.unwrap();
    assert_eq!((work.delivered, work.retrying), (0, 1), "{work:?}");
    let log = c
        .admin
        .event_deliveries(&kms.id, &DeliveryFilter::default())
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    let d = &log[0];
    assert_eq!(
        (d.state.as_str(), d.attempts, d.last_status),
        ("pending", 1, None)
    );
    assert!(
        d.last_error.as_deref().unwrap().contains("connect"),
        "{d:?}"
    );
    let due = parse_time(&json!(d.next_attempt_at.clone().unwrap()));
    // (Stored in milliseconds: the clock's sub-millisecond part is cut.)
    assert!((due - c.clock.now() - Duration::seconds(30)).abs() < Duration::seconds(1));
    // Not retried before it is due.
    let work = c.advance_and_run(Duration::seconds(29)).await;
    assert_eq!((work.delivered, work.retrying), (0, 0), "{work:?}");
    // Still down at 30 s: retried, failed again, the next backoff doubles.
    let work = c.advance_and_run(Duration::seconds(1)).await;
    assert_eq!(work.retrying, 1, "{work:?}");
    let d = c
        .admin
        .event_deliveries(&kms.id, &DeliveryFilter::default())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(d.attempts, 2);
    let due = parse_time(&json!(d.next_attempt_at.clone().unwrap()));
    assert!((due - c.clock.now() - Duration::minutes(1)).abs() < Duration::seconds(1));

    // Back up: the next due attempt delivers the event, correctly signed.
    let hook = Hook::with_secret(SECRET);
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let _receiver = serve(listener, hook.clone());
    let work = c.advance_and_run(Duration::minutes(1)).await;
    assert_eq!(work.delivered, 1, "{work:?}");
    let got = hook.of_type("key.rotated");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["data"]["key_id"], key.id.as_str());
    let d = c
        .admin
        .event_deliveries(
            &kms.id,
            &DeliveryFilter {
                registration_id: Some(created.registration.id.clone()),
                state: Some("delivered".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].attempts, d[0].last_status), (3, Some(204)));
    assert_eq!(
        status_of(
            "bad state filter",
            c.admin
                .event_deliveries(
                    &kms.id,
                    &DeliveryFilter {
                        state: Some("lost".into()),
                        ..Default::default()
                    },
                )
                .await
        ),
        400
    );

    // The instance's own events: deleted and restored go through the jobs; reclaimed is sent
    // at once, right before the purge removes every registration, event and delivery of it.
    let instance_types = [
        "instance.deleted",
        "instance.restored",
        "instance.reclaimed",
    ];
    c.admin
        .create_event_registration(&kms.id, &registration(&url, &instance_types, Some(SECRET)))
        .await
        .unwrap();
    kp.delete_key(&key.id, false).await.unwrap();
    c.admin.delete_instance(&kms.id).await.unwrap();
    c.arca().events.run_due_work_now().await.unwrap();
    let deleted = hook.of_type("instance.deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["subject"], kms.id.as_str());
    assert_eq!(deleted[0]["data"]["state"], "reclaiming");
    c.admin.restore_instance(&kms.id).await.unwrap();
    c.arca().events.run_due_work_now().await.unwrap();
    assert_eq!(hook.of_type("instance.restored").len(), 1);
    // Its registrations came back with it.
    assert_eq!(c.admin.event_registrations(&kms.id).await.unwrap().len(), 2);
    c.admin.delete_instance(&kms.id).await.unwrap();
    c.admin.reclaim_instance(&kms.id).await.unwrap();
    let reclaimed = hook.of_type("instance.reclaimed");
    assert_eq!(
        reclaimed.len(),
        1,
        "sent before the purge, without the jobs"
    );
    assert_eq!(reclaimed[0]["instance_id"], kms.id.as_str());
    assert_eq!(
        hook.of_type("instance.deleted").len(),
        1,
        "the second delete is pending"
    );
    // Gone with the instance: the pending instance.deleted of the second delete too.
    assert_eq!(
        c.arca().events.run_due_work_now().await.unwrap(),
        Default::default()
    );
    assert_eq!(hook.of_type("instance.deleted").len(), 1);
    assert_eq!(
        status_of(
            "gone",
            c.admin
                .event_deliveries(&kms.id, &DeliveryFilter::default())
                .await
        ),
        404
    );
    c.running.shutdown().await;
}
