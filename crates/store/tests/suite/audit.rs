//! Suite cases of the audit trail: append in batches, list, one chain across batches and
//! accounts.

use arca_store::Store;
use arca_store::audit::{AuditQuery, AuditRecord, GENESIS_HASH, NewAuditEvent};

pub(crate) fn event(account: &str, n: i64) -> NewAuditEvent {
    NewAuditEvent {
        time: 1_000 + n,
        account_id: account.into(),
        initiator: format!("user-{account}"),
        action: "kms.keys.wrap".into(),
        instance_id: format!("inst-{account}"),
        target: format!("/api/v2/keys/k{n}/actions/wrap"),
        outcome: "success".into(),
        reason_code: 200,
        correlation_id: format!("corr-{n}"),
        source_address: "127.0.0.1".into(),
    }
}

fn all() -> AuditQuery {
    AuditQuery {
        limit: 1_000,
        ..Default::default()
    }
}

/// Every record's hash is its own, each links to the one before, and each to its account's
/// previous one.
pub(crate) fn assert_chain(records: &[AuditRecord]) {
    let mut prev = GENESIS_HASH.to_vec();
    let mut accounts: std::collections::HashMap<String, Vec<u8>> = Default::default();
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.seq, i64::try_from(i).unwrap() + 1, "no gaps");
        assert_eq!(r.hash, r.compute_hash().to_vec(), "seq {}", r.seq);
        assert_eq!(r.prev_hash, prev, "seq {}", r.seq);
        let account_prev = accounts
            .get(&r.event.account_id)
            .cloned()
            .unwrap_or_else(|| GENESIS_HASH.to_vec());
        assert_eq!(r.account_prev_hash, account_prev, "seq {}", r.seq);
        accounts.insert(r.event.account_id.clone(), r.hash.clone());
        prev = r.hash.clone();
    }
}

pub(crate) async fn audit_append_and_list(store: &dyn Store) {
    let head = store.audit_head().await.unwrap();
    assert_eq!((head.seq, head.hash), (0, GENESIS_HASH.to_vec()));
    assert!(store.list_audit_events(&all()).await.unwrap().is_empty());

    // Three batches, two accounts interleaved, one empty batch.
    let batch1: Vec<_> = (1..=3).map(|n| event("a", n)).collect();
    let head1 = store.append_audit_events(&batch1).await.unwrap();
    assert_eq!(head1.seq, 3);
    let head_empty = store.append_audit_events(&[]).await.unwrap();
    assert_eq!(head_empty, head1);
    let batch2 = vec![event("b", 4), event("a", 5), event("b", 6)];
    store.append_audit_events(&batch2).await.unwrap();
    let head3 = store.append_audit_events(&[event("a", 7)]).await.unwrap();
    assert_eq!(head3.seq, 7);

    let records = store.list_audit_events(&all()).await.unwrap();
    assert_eq!(records.len(), 7);
    assert_chain(&records);
    assert_eq!(records[6].hash, head3.hash);
    assert_eq!(store.audit_head().await.unwrap(), head3);
    // The events come back as they went in.
    assert_eq!(records[0].event, event("a", 1));
    assert_eq!(records[3].event, event("b", 4));

    // An account's slice, paged.
    let mut q = AuditQuery {
        account_id: Some("a".into()),
        limit: 2,
        ..Default::default()
    };
    let page1 = store.list_audit_events(&q).await.unwrap();
    assert_eq!(page1.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
    q.after_seq = 2;
    let page2 = store.list_audit_events(&q).await.unwrap();
    assert_eq!(page2.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 5]);
    q.after_seq = 5;
    let page3 = store.list_audit_events(&q).await.unwrap();
    assert_eq!(page3.iter().map(|r| r.seq).collect::<Vec<_>>(), [7]);
    // The account link skips the other account's records.
    assert_eq!(page2[1].account_prev_hash, page2[0].hash);
    assert_eq!(page3[0].account_prev_hash, page2[1].hash);

    // Filters.
    let b = store
        .list_audit_events(&AuditQuery {
            account_id: Some("b".into()),
            instance_id: Some("inst-b".into()),
            action: Some("kms.keys.wrap".into()),
            initiator: Some("user-b".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(b.iter().map(|r| r.seq).collect::<Vec<_>>(), [4, 6]);
    let none = store
        .list_audit_events(&AuditQuery {
            action: Some("kms.keys.unwrap".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());

    // A large batch (more rows than one insert statement carries), three accounts, one of them
    // new: the chain and every account's links go on.
    let big: Vec<_> = (100..170)
        .map(|n| event(["a", "b", "c"][usize::try_from(n % 3).unwrap()], n))
        .collect();
    let head_big = store.append_audit_events(&big).await.unwrap();
    assert_eq!(head_big.seq, 77);
    let records = store.list_audit_events(&all()).await.unwrap();
    assert_eq!(records.len(), 77);
    assert_chain(&records);
    assert_eq!(records[76].hash, head_big.hash);
    assert_eq!(records[7].event, big[0]);
    assert_eq!(records[76].event, big[69]);
    assert_eq!(store.audit_head().await.unwrap(), head_big);
}

/// Concurrent appenders (on PostgreSQL, several pool connections) extend one chain: no seq is
/// used twice, none is skipped, every link holds.
pub(crate) async fn audit_concurrent_appends_form_one_chain(store: &dyn Store) {
    let batches: Vec<Vec<NewAuditEvent>> = (0..8)
        .map(|b| {
            (0..5)
                .map(|n| event(if n % 2 == 0 { "a" } else { "b" }, b * 10 + n))
                .collect()
        })
        .collect();
    let appends = batches.iter().map(|b| store.append_audit_events(b));
    let heads = futures_join_all(appends).await;
    for h in &heads {
        assert!(h.is_ok(), "{h:?}");
    }
    let records = store.list_audit_events(&all()).await.unwrap();
    assert_eq!(records.len(), 40);
    assert_chain(&records);
    assert_eq!(store.audit_head().await.unwrap().seq, 40);
}

/// Every future at once on this task, results in order.
async fn futures_join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, fut) in pending.iter_mut().enumerate() {
            if results[i].is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => results[i] = Some(out),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}

/// Checkpoints are kept by seq (the first one for a seq stays) and listed in order, paged.
pub(crate) async fn audit_checkpoints(store: &dyn Store) {
    use arca_store::audit::AuditCheckpoint;
    let cp = |seq: i64, tag: u8| AuditCheckpoint {
        seq,
        hash: vec![tag; 32],
        mac: vec![tag ^ 0xff; 32],
        created_at: 1_000 + seq,
    };
    assert!(
        store
            .list_audit_checkpoints(0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    for c in [cp(5, 1), cp(2, 2), cp(9, 3)] {
        store.put_audit_checkpoint(&c).await.unwrap();
    }
    store.put_audit_checkpoint(&cp(5, 7)).await.unwrap();
    let all = store.list_audit_checkpoints(0, 10).await.unwrap();
    assert_eq!(all, vec![cp(2, 2), cp(5, 1), cp(9, 3)]);
    assert_eq!(
        store.list_audit_checkpoints(2, 1).await.unwrap(),
        vec![cp(5, 1)]
    );
    assert!(
        store
            .list_audit_checkpoints(9, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
