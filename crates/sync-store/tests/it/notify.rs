//! Notifications in-app and by email through a real SMTP server (aiosmtpd on loopback).

use jiff::SignedDuration;
use sync_store::{ClaimFilter, NotificationKind, SmtpConfig, SmtpMailer, SmtpSecurity};

use crate::support::{Kind, SmtpSink, TestDb, free_port, report, smtp_python};

both!(
    a_failed_run_is_notified_and_can_be_marked_read,
    email_reaches_a_real_smtp_server,
    an_smtp_outage_keeps_the_notification_and_sends_once_later
);

/// A failed run of a launched integration with two contacts; returns (owner, run id).
async fn failed_run(db: &TestDb) -> (sync_store::Owner, String) {
    let (owner, integration) = db.launched("it-ops", "Directory").await;
    db.store.run_now(&owner.id, &integration.id).await.unwrap();
    let lease = db
        .store
        .claim("w", &ClaimFilter::cloud())
        .await
        .unwrap()
        .unwrap();
    let done = db
        .store
        .finish(
            &lease,
            &report("Directory", Some("Oomnitza answered 401: token revoked")),
        )
        .await
        .unwrap();
    assert_eq!(done.state, sync_store::RunState::Failed);
    (owner, lease.run_id)
}

fn mailer(port: u16) -> SmtpMailer {
    let mut config = SmtpConfig::new(
        "127.0.0.1",
        port,
        SmtpSecurity::None,
        "Quip sync <sync@example.com>",
    );
    config.timeout = std::time::Duration::from_secs(5);
    SmtpMailer::new(&config).unwrap()
}

async fn a_failed_run_is_notified_and_can_be_marked_read(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (owner, run_id) = failed_run(&db).await;
    let unread = db.store.notifications(&owner.id, true).await.unwrap();
    assert_eq!(unread.len(), 1);
    let note = &unread[0];
    assert_eq!(note.kind, NotificationKind::RunFailed);
    assert_eq!(note.run_id.as_deref(), Some(run_id.as_str()));
    assert!(note.body.contains("token revoked"), "{}", note.body);
    let bob = db.store.ensure_owner("bob").await.unwrap();
    assert!(
        db.store
            .notifications(&bob.id, false)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.store
            .mark_read(&bob.id, &note.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    db.store.mark_read(&owner.id, &note.id).await.unwrap();
    db.store.mark_read(&owner.id, &note.id).await.unwrap();
    assert!(
        db.store
            .notifications(&owner.id, true)
            .await
            .unwrap()
            .is_empty()
    );
    let all = db.store.notifications(&owner.id, false).await.unwrap();
    assert!(all[0].read_at.is_some());
}

async fn email_reaches_a_real_smtp_server(kind: Kind) {
    let Some(python) = smtp_python() else { return };
    let db = TestDb::new(kind).await;
    let (_, run_id) = failed_run(&db).await;
    let sink = SmtpSink::start(&python, free_port()).await;
    let sent = db
        .store
        .deliver_outbox(&mailer(sink.port), 10)
        .await
        .unwrap();
    assert_eq!((sent.sent, sent.retrying), (2, 0));
    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    let mut to: Vec<String> = messages
        .iter()
        .map(|m| m["to"][0].as_str().unwrap().to_owned())
        .collect();
    to.sort();
    assert_eq!(to, ["lead@example.com", "ops@example.com"]);
    for m in &messages {
        assert_eq!(m["from"], "sync@example.com");
        let data = m["data"].as_str().unwrap();
        assert!(
            data.contains("Subject: Integration \"Directory\": a run failed"),
            "{data}"
        );
        assert!(data.contains(&run_id), "{data}");
        assert!(data.contains("token revoked"), "{data}");
    }
    assert_eq!(
        db.store
            .deliver_outbox(&mailer(sink.port), 10)
            .await
            .unwrap()
            .sent,
        0
    );
    assert!(
        db.store
            .outbox()
            .await
            .unwrap()
            .iter()
            .all(|e| e.sent_at.is_some())
    );
}

async fn an_smtp_outage_keeps_the_notification_and_sends_once_later(kind: Kind) {
    let Some(python) = smtp_python() else { return };
    let db = TestDb::new(kind).await;
    let (owner, _) = failed_run(&db).await;
    let port = free_port();
    // Nobody listens on the port: the server is down.
    let down = db.store.sweep(Some(&mailer(port))).await.unwrap().email;
    assert_eq!((down.sent, down.retrying), (0, 2));
    assert_eq!(
        db.store
            .notifications(&owner.id, false)
            .await
            .unwrap()
            .len(),
        1,
        "in-app kept"
    );
    let outbox = db.store.outbox().await.unwrap();
    assert!(
        outbox
            .iter()
            .all(|e| e.attempts == 1 && e.last_error.is_some() && e.sent_at.is_none())
    );

    let sink = SmtpSink::start(&python, port).await;
    // Not due again yet (retry after a minute).
    assert_eq!(
        db.store
            .deliver_outbox(&mailer(port), 10)
            .await
            .unwrap()
            .sent,
        0
    );
    db.clock.advance(SignedDuration::from_secs(61));
    let up = db.store.sweep(Some(&mailer(port))).await.unwrap().email;
    assert_eq!(up.sent, 2);
    db.clock.advance(SignedDuration::from_hours(2));
    assert_eq!(
        db.store
            .sweep(Some(&mailer(port)))
            .await
            .unwrap()
            .email
            .sent,
        0
    );
    assert_eq!(sink.messages().len(), 2, "each email sent once");
    assert!(
        db.store
            .outbox()
            .await
            .unwrap()
            .iter()
            .all(|e| e.attempts == 2 && e.sent_at.is_some())
    );
}
