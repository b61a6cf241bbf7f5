//! A case document as stored: its copy of the item reads back typed, and a value this version
//! does not know is refused with the document's id and the value, never guessed.

use crate::common::{case_doc, default_item};
use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ROOT, ReadDoc};
use yizhan_node::NodeError;
use yizhan_node::case::doc::{read_case, write_case};
use yizhan_node::catalog::CaseKind;
use yizhan_node::station::Tier;

/// A stored case whose item field `field` is then overwritten with `value`.
fn case_with_item_field(field: &str, value: &str) -> Automerge {
    let mut am = Automerge::new();
    write_case(&mut am, &case_doc("c1", default_item("CT-001"), "C01", 0)).expect("write");
    let item = item_obj(&am);
    let mut tx = am.transaction();
    tx.put(&item, field, value).expect("put");
    tx.commit();
    am
}

#[test]
fn the_item_kind_and_tier_read_back_typed_from_their_stored_strings() {
    let am = case_with_item_field("kind", "instant");
    let doc = read_case(&am, "c1").expect("read");
    assert_eq!(doc.item.kind, CaseKind::Instant);
    assert_eq!(doc.item.tier, Tier::City);
    let stored = match am.get(item_obj(&am), "tier").expect("get") {
        Some((automerge::Value::Scalar(s), _)) => s.to_string(),
        other => panic!("no tier: {other:?}"),
    };
    assert_eq!(stored, "\"city\"");
}

#[test]
fn an_unknown_item_kind_or_tier_is_refused_naming_it() {
    for (field, value) in [("kind", "express"), ("tier", "county")] {
        let am = case_with_item_field(field, value);
        match read_case(&am, "c1") {
            Err(e @ NodeError::CorruptDocument { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("c1") && msg.contains(value), "{msg}");
            }
            other => panic!("{field} {value:?}: expected CorruptDocument, got {other:?}"),
        }
    }
}

fn item_obj(am: &Automerge) -> automerge::ObjId {
    match am.get(ROOT, "item").expect("get") {
        Some((automerge::Value::Object(ObjType::Map), obj)) => obj,
        other => panic!("no item map: {other:?}"),
    }
}
