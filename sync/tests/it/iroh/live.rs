//! Sessions between a city and a township: local writes pushed within seconds on a continuous
//! session, the contact kept fresh while a session lives and ageing once it is cut, and a refused
//! node told why.

use super::*;

/// Takes in a case of `item` at `from` and forwards it to `to`'s station; the case and how long
/// it took to reach `to`, which must be within `limit`.
async fn forwarded(
    from: &Peer,
    to: &Peer,
    item: &str,
    applicant: &str,
    limit: Duration,
) -> (String, Duration) {
    let id = from.new_case(item, applicant, false).await;
    from.act(
        &id,
        Action::Forward {
            to: to.name.clone(),
        },
    )
    .await;
    let took = within(limit, async || to.ids().await.contains(&id))
        .await
        .unwrap_or_else(|| {
            panic!(
                "the case forwarded at {} did not reach {}",
                from.name, to.name
            )
        });
    (id, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuous_session_pushes_within_seconds() {
    let (_tmp, c, t1) = city_and_township().await;
    let task = t1.keep_synced_with(&c);
    let limit = Duration::from_secs(5);
    // Up: forwarded at T1 to the city.
    let (_, took) = forwarded(&t1, &c, "CT-001", "镇民", limit).await;
    eprintln!("push T1 → C: {took:?}");
    // Down: created at the city and forwarded to T1 (the accepting side pushes too).
    let (down, took) = forwarded(&c, &t1, "TS-004", "市民", limit).await;
    eprintln!("push C → T1: {took:?}");
    // And an action on an existing case travels too.
    t1.act(&down, Action::Accept).await;
    let took = within(limit, async || c.summary(&down).await.status == "accepted")
        .await
        .expect("the acceptance at T1 did not reach the city");
    eprintln!("push of an action T1 → C: {took:?}");
    assert!(!c.ids().await.is_empty());
    stop_live(task, &t1, &c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_exchange_nothing_is_pending_and_the_contact_is_now() {
    let (_tmp, c, t1) = city_and_township().await;
    assert_eq!(
        peer_state(&t1, &c).await.0,
        0,
        "what the township received at enrolment came from the city"
    );
    // Both sides have something the other lacks, and act on a shared case: whichever side goes
    // idle last must still learn that the other has everything.
    let up = t1.new_case("CT-001", "镇民", false).await;
    t1.act(&up, Action::Forward { to: "C".into() }).await;
    let down = c.new_case("TS-004", "市民", false).await;
    c.act(&down, Action::Forward { to: "T1".into() }).await;
    assert!(peer_state(&t1, &c).await.0 > 0, "T1 has something to send");
    t1.sync(&c).await;
    t1.act(&down, Action::Accept).await;
    c.act(&up, Action::Accept).await;
    t1.sync(&c).await;
    for (at, other) in [(&t1, &c), (&c, &t1)] {
        let (pending, contact, error) = peer_state(at, other).await;
        assert_eq!(
            pending, 0,
            "{} still counts documents for {}",
            at.name, other.name
        );
        assert_eq!(
            contact,
            Some(NOW),
            "{}'s last contact with {}",
            at.name,
            other.name
        );
        assert_eq!(error, None);
    }
    // A continuous session drains the count as well, on the accepting side too.
    let task = t1.keep_synced_with(&c);
    let more = c.new_case("TS-004", "又一位市民", false).await;
    c.act(&more, Action::Forward { to: "T1".into() }).await;
    within(Duration::from_secs(10), async || {
        t1.ids().await.contains(&more)
            && peer_state(&c, &t1).await.0 == 0
            && peer_state(&t1, &c).await.0 == 0
    })
    .await
    .expect("the counts did not return to 0 on a continuous session");
    stop_live(task, &t1, &c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_keeps_the_contact_fresh_and_a_cut_one_ages() {
    let (_tmp, c, t1) = city_and_township().await;
    let task = t1.keep_synced_with(&c);
    within(Duration::from_secs(10), async || {
        peer_state(&c, &t1).await.1 == Some(NOW)
    })
    .await
    .expect("the city recorded no completed exchange");
    // Time passes on both clocks while the session stays up with nothing to say: the heartbeat
    // (every 10 s) still records a completed exchange.
    let later = NOW + 30_000;
    for p in [&c, &t1] {
        p.call(move |n| {
            n.set_clock(Clock::Fixed(later));
            Ok(())
        })
        .await;
    }
    within(Duration::from_secs(25), async || {
        peer_state(&c, &t1).await.1 == Some(later)
    })
    .await
    .expect("an idle live session did not keep the last contact fresh");
    // The link is cut: a minute later the city's last contact with T1 is a minute old.
    task.abort();
    t1.shutdown().await;
    c.call(move |n| {
        n.set_clock(Clock::Fixed(later + 60_000));
        Ok(())
    })
    .await;
    let (_, contact, _) = peer_state(&c, &t1).await;
    assert_eq!(
        contact,
        Some(later),
        "the contact stays where the link was cut"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_node_is_told_why() {
    let (tmp, c, t1) = city_and_township().await;
    let x = Peer::start("X", city(&tmp.path().join("x"))).await;
    let err = x.net.sync_once(&c.id, &c.addrs).await.unwrap_err();
    assert_eq!(
        err.kind(),
        yizhan_sync::ErrorKind::RefusedBy(yizhan_sync::Denial::OtherNetwork),
        "{err}"
    );
    let t1_id = t1.id.clone();
    c.call(move |n| n.revoke(&t1_id, "丢失")).await;
    let err = t1.net.sync_once(&c.id, &c.addrs).await.unwrap_err();
    assert_eq!(
        err.kind(),
        yizhan_sync::ErrorKind::RefusedBy(yizhan_sync::Denial::Revoked),
        "{err}"
    );
    // The refused side keeps the reason with the peer, in a form the window words in Chinese.
    let (_, _, error) = peer_state(&t1, &c).await;
    let error = error.expect("T1 recorded the refusal");
    assert_eq!(
        yizhan_sync::ErrorKind::of_stored(&error),
        yizhan_sync::ErrorKind::RefusedBy(yizhan_sync::Denial::Revoked),
        "{error}"
    );
    x.shutdown().await;
    t1.shutdown().await;
    c.shutdown().await;
}
