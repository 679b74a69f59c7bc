//! Lifecycle events: registrations, the outbox with its deliveries, claims under a lease,
//! attempts, the delivery log, notice marks, expiring secrets, and purge with the instance.

use arca_store::Store;
use arca_store::events::{
    DeliveryAttempt, DeliveryQuery, DeliveryRecord, DeliveryState, EventRecord,
    EventRegistrationRecord,
};
use arca_store::reclamations::ReclamationRecord;

use super::{initial_state, instance};

fn registration(id: &str, instance_id: &str, at: i64) -> EventRegistrationRecord {
    EventRegistrationRecord {
        id: id.into(),
        instance_id: instance_id.into(),
        url: format!("https://hooks.example/{id}"),
        event_types: vec!["key.rotated".into()],
        wrapped_secret: vec![9; 60],
        created_by: "user-a".into(),
        created_at: at,
    }
}

fn event(id: &str, instance_id: &str, at: i64) -> EventRecord {
    EventRecord {
        id: id.into(),
        instance_id: instance_id.into(),
        event_type: "key.rotated".into(),
        subject: "k1".into(),
        body: format!("{{\"id\":\"{id}\"}}"),
        created_at: at,
    }
}

fn delivery(id: &str, event_id: &str, registration_id: &str, due: i64) -> DeliveryRecord {
    DeliveryRecord {
        id: id.into(),
        event_id: event_id.into(),
        registration_id: registration_id.into(),
        instance_id: "i1".into(),
        event_type: "key.rotated".into(),
        state: DeliveryState::Pending,
        attempts: 0,
        next_attempt_at: due,
        lease_until: None,
        last_attempt_at: None,
        last_status: None,
        last_error: None,
        created_at: due,
    }
}

fn all() -> DeliveryQuery {
    DeliveryQuery {
        limit: 100,
        ..Default::default()
    }
}

pub(crate) async fn lifecycle_events(store: &dyn Store) {
    store.initialize(&initial_state("a")).await.unwrap();
    store
        .create_instance(&instance("i1", "acct-a", 1))
        .await
        .unwrap();
    store
        .create_instance(&instance("i2", "acct-a", 2))
        .await
        .unwrap();

    // Registrations.
    let r1 = registration("r1", "i1", 10);
    let mut r2 = registration("r2", "i1", 20);
    r2.event_types = Vec::new();
    store.create_event_registration(&r1).await.unwrap();
    store.create_event_registration(&r2).await.unwrap();
    store
        .create_event_registration(&registration("r3", "i2", 5))
        .await
        .unwrap();
    assert!(store.create_event_registration(&r1).await.is_err());
    assert_eq!(
        store.get_event_registration("i1", "r1").await.unwrap(),
        Some(r1.clone())
    );
    assert_eq!(
        store.get_event_registration("i2", "r1").await.unwrap(),
        None
    );
    assert_eq!(
        store.list_event_registrations("i1").await.unwrap(),
        vec![r1.clone(), r2.clone()]
    );

    // An event with two deliveries; one without any is not stored.
    let e1 = event("e1", "i1", 100);
    assert!(
        store
            .record_event(
                &e1,
                &[
                    delivery("d1", "e1", "r1", 100),
                    delivery("d2", "e1", "r2", 100)
                ],
                None
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .record_event(&event("e0", "i1", 100), &[], None)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .list_event_deliveries("i1", &all())
            .await
            .unwrap()
            .len(),
        2
    );

    // Marks: a notice happens once.
    let e2 = event("e2", "i1", 110);
    assert!(
        store
            .record_event(
                &e2,
                &[delivery("d3", "e2", "r2", 500)],
                Some("expiring:30:7")
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_event(
                &event("e3", "i1", 120),
                &[delivery("d4", "e3", "r2", 120)],
                Some("expiring:30:7")
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .get_event_delivery("i1", "d4")
            .await
            .unwrap()
            .is_none()
    );
    // The same mark in another instance is another notice.
    assert!(
        store
            .record_event(&event("e4", "i2", 120), &[], Some("expiring:30:7"))
            .await
            .unwrap()
    );

    // Claims: due and unleased only, leased until the given time, with event and registration.
    let claimed = store.claim_due_deliveries(100, 160, 10).await.unwrap();
    let ids: Vec<&str> = claimed.iter().map(|d| d.delivery.id.as_str()).collect();
    assert_eq!(ids, ["d1", "d2"]);
    assert_eq!(claimed[0].event, e1);
    assert_eq!(claimed[0].registration, r1);
    assert_eq!(claimed[1].registration, r2);
    assert_eq!(claimed[0].delivery.lease_until, Some(160));
    // Leased: nobody else takes them until the lease ends.
    assert!(
        store
            .claim_due_deliveries(150, 200, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.claim_due_deliveries(160, 220, 1).await.unwrap().len(),
        1
    );

    // Attempts.
    store
        .record_delivery_attempt(
            "d1",
            &DeliveryAttempt {
                state: DeliveryState::Delivered,
                attempted_at: 161,
                next_attempt_at: 161,
                status: Some(204),
                error: None,
            },
        )
        .await
        .unwrap();
    store
        .record_delivery_attempt(
            "d2",
            &DeliveryAttempt {
                state: DeliveryState::Pending,
                attempted_at: 162,
                next_attempt_at: 300,
                status: Some(503),
                error: Some("HTTP 503".into()),
            },
        )
        .await
        .unwrap();
    let d1 = store.get_event_delivery("i1", "d1").await.unwrap().unwrap();
    assert_eq!(d1.state, DeliveryState::Delivered);
    assert_eq!(
        (d1.attempts, d1.last_status, d1.lease_until),
        (1, Some(204), None)
    );
    let d2 = store.get_event_delivery("i1", "d2").await.unwrap().unwrap();
    assert_eq!(
        (
            d2.state,
            d2.attempts,
            d2.next_attempt_at,
            d2.last_error.as_deref()
        ),
        (DeliveryState::Pending, 1, 300, Some("HTTP 503"))
    );
    // Released, but not due before its next attempt.
    assert!(
        store
            .claim_due_deliveries(299, 400, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.claim_due_deliveries(300, 400, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.id, "d2");

    // The log, filtered.
    let pending = store
        .list_event_deliveries(
            "i1",
            &DeliveryQuery {
                state: Some(DeliveryState::Pending),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut ids: Vec<String> = pending.into_iter().map(|d| d.id).collect();
    ids.sort();
    assert_eq!(ids, ["d2", "d3"]);
    let of_r1 = store
        .list_event_deliveries(
            "i1",
            &DeliveryQuery {
                registration_id: Some("r1".into()),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(of_r1.len(), 1);
    assert_eq!(of_r1[0].id, "d1");
    assert!(
        store
            .list_event_deliveries("i2", &all())
            .await
            .unwrap()
            .is_empty()
    );

    // Deleting a registration takes its deliveries.
    assert!(store.delete_event_registration("i1", "r1").await.unwrap());
    assert!(!store.delete_event_registration("i1", "r1").await.unwrap());
    assert!(
        store
            .get_event_delivery("i1", "d1")
            .await
            .unwrap()
            .is_none()
    );

    // The instance's purge removes everything of it; the other instance keeps its own.
    let r = ReclamationRecord {
        instance_id: "i1".into(),
        account_id: "acct-a".into(),
        deleted_by: "user-a".into(),
        deleted_at: 10,
        reclaim_at: 100,
    };
    assert!(store.start_reclamation(&r).await.unwrap());
    assert!(store.purge_instance("i1", "crn:i1").await.unwrap());
    assert!(
        store
            .list_event_registrations("i1")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_event_deliveries("i1", &all())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim_due_deliveries(10_000, 10_100, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.list_event_registrations("i2").await.unwrap().len(), 1);
    // Its marks went too: a new instance of the same id would be notified afresh.
    store
        .create_instance(&instance("i1", "acct-a", 3))
        .await
        .unwrap();
    assert!(
        store
            .record_event(&event("e5", "i1", 130), &[], Some("expiring:30:7"))
            .await
            .unwrap()
    );
}
