//! Revocation by the city or by the parent township, spreading with the roster.

use crate::common::{network, try_sync};
use yizhan_node::{NewCase, Node};

fn sync(a: &mut Node, b: &mut Node) -> Result<(), String> {
    try_sync(a, b).map(|_| ())
}

#[test]
fn a_township_revokes_its_village_and_the_revocation_spreads() {
    let (_tmp, mut c, [mut t1, mut t2, mut v1, mut v2]) = network([
        ("T1", "township", "C"),
        ("T2", "township", "C"),
        ("V1", "village", "T1"),
        ("V2", "village", "T2"),
    ]);
    sync(&mut v1, &mut t1).unwrap();
    sync(&mut v2, &mut t2).unwrap();
    sync(&mut t1, &mut c).unwrap();
    sync(&mut t2, &mut c).unwrap();
    // Township 1 learns township 2's village from the city's certificates.
    sync(&mut t1, &mut c).unwrap();
    let v1_id = v1.identity().node_id.clone();
    let v2_id = v2.identity().node_id.clone();

    // A township may not revoke another township's village, nor may a village revoke anyone.
    let err = t1.revoke(&v2_id, "不是本镇").unwrap_err();
    assert!(
        err.to_string().contains("its own station and its villages"),
        "{err}"
    );
    assert!(v1.revoke(&v2_id, "").is_err());

    // Township 1 revokes its village's lost laptop; the revocation reaches the city and township 2.
    t1.revoke(&v1_id, "电脑丢失").unwrap();
    sync(&mut t1, &mut c).unwrap();
    assert!(c.roster().is_revoked(&v1_id));
    sync(&mut t2, &mut c).unwrap();
    assert!(t2.roster().is_revoked(&v1_id));

    // The revoked node is refused before anything moves, wherever it turns up.
    v1.new_case(&NewCase {
        item_code: "TS-004".into(),
        applicant_name: "张三".into(),
        ..NewCase::default()
    })
    .unwrap();
    let before = t1.seq().unwrap();
    let err = sync(&mut v1, &mut t1).unwrap_err();
    assert!(err.contains("revoked"), "{err}");
    assert_eq!(t1.seq().unwrap(), before);
    assert!(sync(&mut v1, &mut c).unwrap_err().contains("revoked"));
    // Honest nodes are unaffected.
    sync(&mut v2, &mut t2).unwrap();
}
