//! `GET`/`HEAD /api/v2/keys` with `search`, `sort` and `filter` (Key Protect §6.3 to §6.5), and
//! the deprecated `POST /api/v2/keys/{id}?action=<a>` route (§3.1, statuses per §10.4), over
//! HTTPS against a dev server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use arca_client::RawResponse;
use arca_client::kp::KpClient;
use axum::http::Method;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{start_dev, within};
use serde_json::{Value, json};

const KEY_MEDIA: &str = "application/vnd.ibm.kms.key+json";
const ACTION_MEDIA: &str = "application/vnd.ibm.kms.key_action+json";

/// Percent-encodes a query value.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn raw(
    kp: &KpClient,
    method: Method,
    path: &str,
    ct: Option<&str>,
    body: Vec<u8>,
) -> RawResponse {
    let what = format!("{method} {path}");
    within(&what, kp.raw(method, path, ct, body))
        .await
        .unwrap_or_else(|e| panic!("{what}: {e:?}"))
}

fn json_of(what: &str, resp: &RawResponse) -> Value {
    serde_json::from_slice(&resp.body).unwrap_or_else(|e| {
        panic!(
            "{what}: not JSON ({e}): {:?}",
            String::from_utf8_lossy(&resp.body)
        )
    })
}

async fn create(kp: &KpClient, name: &str, extractable: bool) -> Value {
    let body = json!({
        "metadata": {"collectionType": KEY_MEDIA, "collectionTotal": 1},
        "resources": [{"type": KEY_MEDIA, "name": name, "extractable": extractable}],
    });
    let resp = raw(
        kp,
        Method::POST,
        "keys",
        Some(KEY_MEDIA),
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(resp.status, 201, "create {name}");
    // Distinct creation times (milliseconds) so date filters and sorts are unambiguous.
    tokio::time::sleep(Duration::from_millis(15)).await;
    json_of("create", &resp)["resources"][0].clone()
}

/// `GET keys?<query>`: (ids in order, metadata).
async fn list(kp: &KpClient, query: &str) -> (Vec<String>, Value) {
    let resp = raw(kp, Method::GET, &format!("keys?{query}"), None, Vec::new()).await;
    let body = json_of(query, &resp);
    assert_eq!(resp.status, 200, "GET keys?{query}: {body}");
    let ids = body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, body["metadata"].clone())
}

async fn ids(kp: &KpClient, query: &str) -> Vec<String> {
    list(kp, query).await.0
}

/// `HEAD keys?<query>`: `Key-Total`.
async fn count(kp: &KpClient, query: &str) -> i64 {
    let resp = raw(kp, Method::HEAD, &format!("keys?{query}"), None, Vec::new()).await;
    assert_eq!(resp.status, 200, "HEAD keys?{query}");
    resp.headers["key-total"].to_str().unwrap().parse().unwrap()
}

/// Asserts a 400 in Key Protect's error envelope; returns the reason code.
fn assert_kp_400(what: &str, resp: &RawResponse) -> String {
    assert_eq!(
        resp.status,
        400,
        "{what}: {}",
        String::from_utf8_lossy(&resp.body)
    );
    if resp.body.is_empty() {
        return String::new(); // HEAD
    }
    let body = json_of(what, resp);
    assert_eq!(
        body["metadata"]["collectionType"], "application/vnd.ibm.kms.error+json",
        "{what}"
    );
    let reason = &body["resources"][0]["reasons"][0];
    assert_eq!(reason["status"], 400, "{what}");
    assert!(
        !body["resources"][0]["errorMsg"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{what}"
    );
    reason["code"].as_str().unwrap().to_owned()
}

fn id(k: &Value) -> String {
    k["id"].as_str().unwrap().to_owned()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The instance's keys: (alpha-one root, Alpha-Two standard, beta root disabled, gamma root
/// rotated with the alias `alpha`, `not:special` standard, delta standard deleted).
struct Keys {
    alpha1: String,
    alpha2: String,
    beta: String,
    gamma: String,
    special: String,
    delta: String,
    beta_created: String,
}

async fn setup(kp: &KpClient) -> Keys {
    let alpha1 = id(&create(kp, "alpha-one", false).await);
    let alpha2 = id(&create(kp, "Alpha-Two", true).await);
    let beta_key = create(kp, "beta", false).await;
    let beta = id(&beta_key);
    let gamma = id(&create(kp, "gamma", false).await);
    let special = id(&create(kp, "not:special", true).await);
    let delta = id(&create(kp, "delta", true).await);
    for (key, alias) in [(&alpha1, "prod-db"), (&gamma, "alpha")] {
        let resp = raw(
            kp,
            Method::POST,
            &format!("keys/{key}/aliases/{alias}"),
            None,
            Vec::new(),
        )
        .await;
        assert!(resp.status == 201 || resp.status == 200, "alias {alias}");
    }
    kp.disable(&beta).await.unwrap();
    kp.rotate(&gamma, None).await.unwrap();
    let resp = raw(
        kp,
        Method::DELETE,
        &format!("keys/{delta}"),
        None,
        Vec::new(),
    )
    .await;
    assert!(resp.status == 204 || resp.status == 200, "delete");
    Keys {
        alpha1,
        alpha2,
        beta,
        gamma,
        special,
        delta,
        beta_created: beta_key["creationDate"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_sort_filter_and_legacy_actions() {
    let (dir, server, info, admin) = start_dev().await;
    let kp = admin.kp(&info.kms_instance_id);
    let k = setup(&kp).await;
    let live = sorted(vec![
        k.alpha1.clone(),
        k.alpha2.clone(),
        k.beta.clone(),
        k.gamma.clone(),
        k.special.clone(),
    ]);

    // The default order is by id.
    assert_eq!(ids(&kp, "").await, live);
    assert_eq!(ids(&kp, "state=&search=&sort=&filter=").await, live);

    search(&kp, &k).await;
    sort(&kp, &k, &live).await;
    filter(&kp, &k, &live).await;
    legacy_actions(&kp).await;

    within("shutdown", server.shutdown()).await;
    drop(dir);
}

async fn search(kp: &KpClient, k: &Keys) {
    // Case-insensitive substring on names and aliases (gamma has the alias `alpha`).
    let (got, meta) = list(kp, "search=ALPHA").await;
    assert_eq!(
        got,
        sorted(vec![k.alpha1.clone(), k.alpha2.clone(), k.gamma.clone()])
    );
    assert_eq!(
        meta["searchQuery"],
        json!({"query": "ALPHA", "scopes": ["name", "alias"]})
    );
    // The alias lookup (exact alias) hit comes first, then the others by id.
    let (got, meta) = list(kp, "search=alpha").await;
    let mut want = vec![k.gamma.clone()];
    want.extend(sorted(vec![k.alpha1.clone(), k.alpha2.clone()]));
    assert_eq!(got, want);
    assert_eq!(meta["incompleteSearch"], false);
    assert_eq!(meta["collectionTotal"], 3);
    assert_eq!(count(kp, "search=alpha").await, 3);

    // name: only names, no lookup.
    let (got, meta) = list(kp, "search=name:alpha").await;
    assert_eq!(got, sorted(vec![k.alpha1.clone(), k.alpha2.clone()]));
    assert_eq!(meta["searchQuery"]["scopes"], json!(["name"]));
    // alias: only aliases.
    let (got, meta) = list(kp, &format!("search={}", enc("alias:prod"))).await;
    assert_eq!(got, vec![k.alpha1.clone()]);
    assert_eq!(
        meta["searchQuery"],
        json!({"query": "prod", "scopes": ["alias"]})
    );
    assert!(ids(kp, "search=name:prod").await.is_empty());
    // Scopes combine (OR).
    assert_eq!(
        ids(kp, "search=name:alias:prod").await,
        vec![k.alpha1.clone()]
    );

    // not: no scope may match.
    let (got, meta) = list(kp, "search=not:alpha").await;
    assert_eq!(got, sorted(vec![k.beta.clone(), k.special.clone()]));
    assert_eq!(meta["searchQuery"]["not"], true);
    assert_eq!(
        ids(kp, "search=alias:not:alpha").await,
        sorted(vec![
            k.alpha1.clone(),
            k.alpha2.clone(),
            k.beta.clone(),
            k.special.clone()
        ])
    );

    // exact: whole values (still case-insensitive).
    let (got, meta) = list(kp, "search=exact:BETA").await;
    assert_eq!(got, vec![k.beta.clone()]);
    assert_eq!(meta["searchQuery"]["exact"], true);
    assert!(ids(kp, "search=exact:bet").await.is_empty());
    assert_eq!(ids(kp, "search=not:exact:beta").await.len(), 4);

    // escape: the rest is literal.
    let (got, meta) = list(kp, "search=escape:not:").await;
    assert_eq!(got, vec![k.special.clone()]);
    assert_eq!(meta["searchQuery"]["query"], "not:");
    assert!(meta["searchQuery"].get("not").is_none());
    assert_eq!(
        ids(kp, "search=exact:escape:not:special").await,
        vec![k.special.clone()]
    );

    // A full key id is looked up directly (and listed once).
    let (got, meta) = list(kp, &format!("search={}", k.beta.to_uppercase())).await;
    assert_eq!(got, vec![k.beta.clone()]);
    assert_eq!(meta["collectionTotal"], 1);
    // The lookup respects the state filter: a deleted key is not listed by default...
    assert!(ids(kp, &format!("search={}", k.delta)).await.is_empty());
    // ...but is with state=5.
    assert_eq!(
        ids(kp, &format!("search={}&state=5", k.delta)).await,
        vec![k.delta.clone()]
    );
    // Search and pages: the lookup hit is first in the whole list.
    assert_eq!(ids(kp, "search=alpha&limit=1").await, vec![k.gamma.clone()]);
    assert_eq!(ids(kp, "search=alpha&limit=2&offset=1").await.len(), 2);
    // Combined with sort: the lookup hit stays first.
    let got = ids(kp, "search=alpha&sort=-id").await;
    assert_eq!(got[0], k.gamma);
    let mut rest = sorted(vec![k.alpha1.clone(), k.alpha2.clone()]);
    rest.reverse();
    assert_eq!(got[1..], rest[..]);

    // Nothing to search for.
    for bad in ["not:", "escape:", "alias:exact:"] {
        let resp = raw(
            kp,
            Method::GET,
            &format!("keys?search={}", enc(bad)),
            None,
            Vec::new(),
        )
        .await;
        assert_kp_400(bad, &resp);
    }
}

async fn sort(kp: &KpClient, k: &Keys, live: &[String]) {
    let mut desc = live.to_vec();
    desc.reverse();
    assert_eq!(ids(kp, "sort=id").await, live);
    assert_eq!(ids(kp, "sort=-id").await, desc);

    // Creation order (each key was created at a distinct millisecond).
    let created = vec![
        k.alpha1.clone(),
        k.alpha2.clone(),
        k.beta.clone(),
        k.gamma.clone(),
        k.special.clone(),
    ];
    assert_eq!(ids(kp, "sort=creationDate").await, created);
    let mut newest = created.clone();
    newest.reverse();
    assert_eq!(ids(kp, "sort=-creationDate").await, newest);

    // state: active (1) before suspended (2); ties by id.
    let got = ids(kp, "sort=-state").await;
    assert_eq!(got[0], k.beta);
    assert_eq!(
        got[1..],
        live.iter()
            .filter(|i| **i != k.beta)
            .cloned()
            .collect::<Vec<_>>()[..]
    );
    let got = ids(kp, &format!("sort={}", enc("state,-id"))).await;
    assert_eq!(*got.last().unwrap(), k.beta);

    // extractable: roots (false) first.
    let roots = sorted(vec![k.alpha1.clone(), k.beta.clone(), k.gamma.clone()]);
    let standard = sorted(vec![k.alpha2.clone(), k.special.clone()]);
    let got = ids(kp, "sort=extractable").await;
    assert_eq!(got, [roots.clone(), standard.clone()].concat());
    let got = ids(kp, "sort=-extractable").await;
    assert_eq!(got, [standard, roots].concat());

    // lastRotateDate: never rotated first ascending, last descending.
    let got = ids(kp, "sort=lastRotateDate").await;
    assert_eq!(*got.last().unwrap(), k.gamma);
    let got = ids(kp, "sort=-lastRotateDate").await;
    assert_eq!(got[0], k.gamma);
    // lastUpdateDate: the rotation (gamma), after the disable (beta), are the latest changes.
    let got = ids(kp, "sort=-lastUpdateDate").await;
    assert_eq!(got[..2], [k.gamma.clone(), k.beta.clone()]);
    // deletionDate with the deleted key; imported, expirationDate accepted.
    let got = ids(kp, "sort=-deletionDate&state=1,2,5").await;
    assert_eq!(got[0], k.delta);
    assert_eq!(ids(kp, "sort=imported,-expirationDate").await, live);

    for bad in ["name", "id,id", "id,", "-"] {
        let resp = raw(
            kp,
            Method::GET,
            &format!("keys?sort={}", enc(bad)),
            None,
            Vec::new(),
        )
        .await;
        assert_kp_400(&format!("sort {bad}"), &resp);
    }
}

async fn filter(kp: &KpClient, k: &Keys, live: &[String]) {
    let f = |text: &str| format!("filter={}", enc(text));
    let all_states = "state=0,1,2,3,5";

    // extractable (case-insensitive).
    let standard = sorted(vec![k.alpha2.clone(), k.special.clone()]);
    assert_eq!(ids(kp, &f("extractable=TRUE")).await, standard);
    assert_eq!(count(kp, &f("extractable=true")).await, 2);
    assert_eq!(
        ids(kp, &f("extractable=false")).await,
        sorted(vec![k.alpha1.clone(), k.beta.clone(), k.gamma.clone()])
    );
    // state.
    assert_eq!(ids(kp, &f("state=2")).await, vec![k.beta.clone()]);
    assert_eq!(ids(kp, &f("state=5")).await, vec![k.delta.clone()]);
    assert_eq!(count(kp, &f("state=1,2,5")).await, 6);
    assert_eq!(
        ids(kp, &f("state=5 extractable=true")).await,
        vec![k.delta.clone()]
    );
    // The SDK's empty `state=` is "not given", so no conflict.
    assert_eq!(
        ids(kp, &format!("state=&{}", f("state=2"))).await,
        vec![k.beta.clone()]
    );

    // Dates: none.
    let not_gamma: Vec<String> = live.iter().filter(|i| **i != k.gamma).cloned().collect();
    assert_eq!(ids(kp, &f("lastRotateDate=none")).await, not_gamma);
    assert_eq!(ids(kp, &f("lastRotateDate=NONE")).await, not_gamma);
    assert_eq!(
        ids(kp, &f("lastRotateDate=gte:\"2000-01-01T00:00:00Z\"")).await,
        vec![k.gamma.clone()]
    );
    assert_eq!(
        ids(kp, &f(&format!("deletionDate=none {all_states}"))).await,
        live
    );
    assert_eq!(
        ids(
            kp,
            &f(&format!(
                "deletionDate=gt:\"2000-01-01T00:00:00Z\" {all_states}"
            ))
        )
        .await,
        vec![k.delta.clone()]
    );
    assert_eq!(ids(kp, &f("expirationDate=none")).await, live);
    assert!(
        ids(kp, &f("expirationDate=lt:\"2100-01-01T00:00:00Z\""))
            .await
            .is_empty()
    );

    // Dates: comparisons around beta's creation.
    let at = &k.beta_created;
    assert_eq!(
        ids(kp, &f(&format!("creationDate=\"{at}\""))).await,
        vec![k.beta.clone()]
    );
    assert_eq!(
        ids(kp, &f(&format!("creationDate=lt:\"{at}\""))).await,
        sorted(vec![k.alpha1.clone(), k.alpha2.clone()])
    );
    assert_eq!(
        ids(kp, &f(&format!("creationDate=lte:\"{at}\""))).await,
        sorted(vec![k.alpha1.clone(), k.alpha2.clone(), k.beta.clone()])
    );
    assert_eq!(
        ids(kp, &f(&format!("creationDate=gt:\"{at}\""))).await,
        sorted(vec![k.gamma.clone(), k.special.clone()])
    );
    let between = format!(
        "creationDate=gte:\"{at}\" creationDate=lt:\"2100-01-01T00:00:00Z\" extractable=false"
    );
    assert_eq!(
        ids(kp, &f(&between)).await,
        sorted(vec![k.beta.clone(), k.gamma.clone()])
    );
    assert_eq!(count(kp, &f(&between)).await, 2);
    // lastUpdateDate: every key was updated at or after its creation.
    assert_eq!(
        ids(kp, &f("lastUpdateDate=gte:\"2000-01-01T00:00:00Z\"")).await,
        live
    );
    // filter with sort and search.
    assert_eq!(
        ids(kp, &format!("{}&sort=-id&search=a", f("extractable=true"))).await,
        {
            let mut s = sorted(vec![k.alpha2.clone(), k.special.clone()]);
            s.reverse();
            s
        }
    );

    // Conflicts with the separate parameters, and malformed filters: 400 in the KP envelope
    // (HEAD too, without a body).
    for (what, query) in [
        ("state twice", format!("state=1&{}", f("state=2"))),
        (
            "extractable twice",
            format!("extractable=true&{}", f("extractable=true")),
        ),
        ("unquoted date", f("creationDate=2022-02-15T00:00:00Z")),
        (
            "bad operator",
            f("creationDate=eq:\"2022-02-15T00:00:00Z\""),
        ),
        ("none with operator", f("creationDate=lt:none")),
        ("bad boolean", f("extractable=yes")),
        ("unknown property", f("name=x")),
        ("four terms", f("state=1 state=1 state=1 state=1")),
        ("open quote", f("creationDate=\"2022")),
        ("bad state", f("state=9")),
    ] {
        let resp = raw(kp, Method::GET, &format!("keys?{query}"), None, Vec::new()).await;
        assert_kp_400(what, &resp);
        let resp = raw(kp, Method::HEAD, &format!("keys?{query}"), None, Vec::new()).await;
        assert_kp_400(&format!("HEAD {what}"), &resp);
    }
    // Three terms of one property are fine.
    assert_eq!(
        ids(kp, &f("state=1,2 state=1,2 state=2")).await,
        vec![k.beta.clone()]
    );
}

async fn state(kp: &KpClient, id: &str) -> i64 {
    let resp = raw(
        kp,
        Method::GET,
        &format!("keys/{id}/metadata"),
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(resp.status, 200, "metadata");
    json_of("metadata", &resp)["resources"][0]["state"]
        .as_i64()
        .unwrap()
}

async fn legacy_actions(kp: &KpClient) {
    let root = id(&create(kp, "legacy-root", false).await);
    let action = |a: &str| format!("keys/{root}?action={a}");

    // wrap and unwrap: 200 with a body.
    let dek = b"plaintext-data-key";
    let body = json!({"plaintext": STANDARD.encode(dek)});
    let resp = raw(
        kp,
        Method::POST,
        &action("wrap"),
        Some(ACTION_MEDIA),
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(resp.status, 200, "wrap");
    let wrapped = json_of("wrap", &resp);
    let ciphertext = wrapped["ciphertext"].as_str().unwrap().to_owned();
    let unwrap_body = serde_json::to_vec(&json!({"ciphertext": ciphertext})).unwrap();
    let resp = raw(
        kp,
        Method::POST,
        &action("unwrap"),
        Some(ACTION_MEDIA),
        unwrap_body.clone(),
    )
    .await;
    assert_eq!(resp.status, 200, "unwrap");
    let plain = json_of("unwrap", &resp)["plaintext"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(STANDARD.decode(plain).unwrap(), dek);
    // wrap with no body generates a data key.
    let resp = raw(
        kp,
        Method::POST,
        &action("wrap"),
        Some(ACTION_MEDIA),
        Vec::new(),
    )
    .await;
    assert_eq!(resp.status, 200, "wrap without body");
    assert!(json_of("wrap", &resp)["plaintext"].is_string());
    // rewrap: 200.
    let resp = raw(
        kp,
        Method::POST,
        &action("rewrap"),
        Some(ACTION_MEDIA),
        unwrap_body.clone(),
    )
    .await;
    assert_eq!(resp.status, 200, "rewrap");

    // disable and enable: 204, and the state follows.
    let resp = raw(
        kp,
        Method::POST,
        &action("disable"),
        Some(ACTION_MEDIA),
        Vec::new(),
    )
    .await;
    assert_eq!(resp.status, 204, "disable");
    assert!(resp.body.is_empty());
    assert_eq!(state(kp, &root).await, 2);
    let resp = raw(
        kp,
        Method::POST,
        &action("wrap"),
        Some(ACTION_MEDIA),
        Vec::new(),
    )
    .await;
    assert_eq!(resp.status, 409, "wrap while disabled");
    let resp = raw(
        kp,
        Method::POST,
        &action("enable"),
        Some(ACTION_MEDIA),
        Vec::new(),
    )
    .await;
    assert_eq!(resp.status, 204, "enable");
    assert_eq!(state(kp, &root).await, 1);

    // rotate: 204; old ciphertexts still unwrap.
    let resp = raw(
        kp,
        Method::POST,
        &action("rotate"),
        Some(ACTION_MEDIA),
        Vec::new(),
    )
    .await;
    assert_eq!(resp.status, 204, "rotate");
    let resp = raw(
        kp,
        Method::POST,
        &action("unwrap"),
        Some(ACTION_MEDIA),
        unwrap_body,
    )
    .await;
    assert_eq!(resp.status, 200, "unwrap after rotate");

    // restore: 201 with the key.
    let resp = raw(
        kp,
        Method::DELETE,
        &format!("keys/{root}"),
        None,
        Vec::new(),
    )
    .await;
    assert!(resp.status == 204 || resp.status == 200, "delete");
    assert_eq!(state(kp, &root).await, 5);
    let resp = raw(
        kp,
        Method::POST,
        &action("restore"),
        Some(ACTION_MEDIA),
        Vec::new(),
    )
    .await;
    assert_eq!(
        resp.status,
        201,
        "restore: {}",
        String::from_utf8_lossy(&resp.body)
    );
    let restored = json_of("restore", &resp);
    assert_eq!(restored["resources"][0]["id"], root.as_str());
    assert_eq!(restored["resources"][0]["state"], 1);

    // Unknown or missing action: 400 in the KP envelope; restore is not a new-style action.
    for (what, path) in [
        ("unknown action", action("explode")),
        ("sync is not a legacy action", action("sync")),
        ("no action", format!("keys/{root}")),
        ("empty action", action("")),
    ] {
        let resp = raw(kp, Method::POST, &path, Some(ACTION_MEDIA), Vec::new()).await;
        assert_kp_400(what, &resp);
    }
    let resp = raw(
        kp,
        Method::POST,
        &format!("keys/{root}/actions/restore"),
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(resp.status, 404);
    // An unknown key.
    let resp = raw(
        kp,
        Method::POST,
        "keys/00000000-0000-4000-8000-000000000000?action=disable",
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(resp.status, 404);
}
