//! Reading a document for `autosurgeon::hydrate` with one pass over each object (issue #14).
//!
//! `hydrate` asks the document for one field at a time (`get(obj, "status")`, then `get(obj,
//! "events")`, then each event by index, and each of its fields), and Automerge answers every
//! `get` with a fresh seek through the object's operations. A case has a few hundred fields, so
//! hydrating it was a quarter of applying a received batch. [`OnePass`] answers the same calls
//! from a listing of each object made the first time the object is asked about (`map_range` or
//! `list_range`: one pass over its operations), so each object is read once whatever the number of
//! its fields. It returns exactly what the document would (the winning value of a conflicted
//! field, the object ids), which the tests below check against a plain `hydrate`.

use automerge::{Automerge, AutomergeError, ObjId, ObjType, Prop, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::RangeBounds;
use std::rc::Rc;

/// One object's current values: by key for a map (sorted by key, as `map_range` lists them, and
/// found by binary search: a case's maps have a few dozen keys, too few to pay for hashing each
/// into a table), in order for a list.
#[derive(Debug)]
enum Listing {
    Map(Vec<(String, (Value<'static>, ObjId))>),
    List(Vec<(Value<'static>, ObjId)>),
}

/// An [`Automerge`] document read through per-object listings (see the module docs).
#[derive(Debug)]
pub struct OnePass<'a> {
    doc: &'a Automerge,
    listings: RefCell<HashMap<ObjId, Rc<Listing>>>,
}

impl<'a> OnePass<'a> {
    /// A reader over `doc`; nothing is read until `hydrate` asks.
    pub fn new(doc: &'a Automerge) -> Self {
        Self {
            doc,
            listings: RefCell::new(HashMap::new()),
        }
    }

    /// The listing of `obj`, made at the first call.
    fn listing(&self, obj: &ObjId) -> Option<Rc<Listing>> {
        if let Some(l) = self.listings.borrow().get(obj) {
            return Some(l.clone());
        }
        let listing = match automerge::ReadDoc::object_type(self.doc, obj).ok()? {
            ObjType::Map | ObjType::Table => {
                let mut entries: Vec<(String, (Value<'static>, ObjId))> =
                    automerge::ReadDoc::map_range(self.doc, obj, ..)
                        .map(|item| {
                            let id = item.id();
                            (item.key.into_owned(), (item.value.into_value(), id))
                        })
                        .collect();
                // `map_range` lists keys in order; sorting is only a safeguard, and free on
                // sorted input.
                if !entries.is_sorted_by(|a, b| a.0 <= b.0) {
                    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                }
                Listing::Map(entries)
            }
            ObjType::List => Listing::List(
                automerge::ReadDoc::list_range(self.doc, obj, ..)
                    .map(|item| {
                        let id = item.id();
                        (item.value.into_value(), id)
                    })
                    .collect(),
            ),
            // Text is read whole by `text`; nothing to list.
            ObjType::Text => return None,
        };
        let listing = Rc::new(listing);
        self.listings
            .borrow_mut()
            .insert(obj.clone(), listing.clone());
        Some(listing)
    }
}

impl autosurgeon::ReadDoc for OnePass<'_> {
    type Parents<'b>
        = automerge::Parents<'b>
    where
        Self: 'b;

    fn get_heads(&self) -> Vec<automerge::ChangeHash> {
        self.doc.get_heads()
    }

    fn get<P: Into<Prop>>(
        &self,
        obj: &ObjId,
        prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        let prop = prop.into();
        let Some(listing) = self.listing(obj) else {
            // Text, or an object the document does not have: the document's own answer (and
            // error).
            return automerge::ReadDoc::get(self.doc, obj, prop);
        };
        Ok(match (&*listing, &prop) {
            (Listing::Map(m), Prop::Map(key)) => m
                .binary_search_by(|(k, _)| k.as_str().cmp(key.as_str()))
                .ok()
                .map(|i| m[i].1.clone()),
            (Listing::List(l), Prop::Seq(i)) => l.get(*i).cloned(),
            // A key into a list or an index into a map: the document's own error.
            _ => return automerge::ReadDoc::get(self.doc, obj, prop),
        })
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Option<ObjType> {
        automerge::ReadDoc::object_type(self.doc, obj).ok()
    }

    fn map_range<'b, O, R>(&'b self, obj: O, range: R) -> automerge::iter::MapRange<'b>
    where
        R: RangeBounds<String> + 'b,
        O: AsRef<ObjId>,
        R: RangeBounds<String>,
    {
        automerge::ReadDoc::map_range(self.doc, obj, range)
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> automerge::iter::ListRange<'_> {
        automerge::ReadDoc::list_range(self.doc, obj, range)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        match self.listing(obj.as_ref()).as_deref() {
            Some(Listing::List(l)) => l.len(),
            Some(Listing::Map(m)) => m.len(),
            None => automerge::ReadDoc::length(self.doc, obj),
        }
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        automerge::ReadDoc::text(self.doc, obj)
    }

    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Self::Parents<'_>, AutomergeError> {
        automerge::ReadDoc::parents(self.doc, obj)
    }

    fn is_empty(&self) -> bool {
        automerge::ReadDoc::keys(self.doc, automerge::ROOT).count() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable as _;
    use autosurgeon::{Hydrate, Reconcile};

    #[derive(Debug, Clone, PartialEq, Hydrate, Reconcile)]
    struct Inner {
        name: String,
        tags: Vec<String>,
        #[autosurgeon(missing = "Default::default")]
        note: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Hydrate, Reconcile)]
    struct Outer {
        n: i64,
        flag: bool,
        inner: Inner,
        list: Vec<Inner>,
        map: std::collections::BTreeMap<String, u32>,
        #[autosurgeon(missing = "Default::default")]
        absent: Option<i64>,
    }

    fn sample() -> Outer {
        Outer {
            n: -7,
            flag: true,
            inner: Inner {
                name: "王秀英".into(),
                tags: vec!["a".into(), "b".into()],
                note: Some("x".into()),
            },
            list: (0..5)
                .map(|i| Inner {
                    name: format!("n{i}"),
                    tags: vec![format!("t{i}")],
                    note: None,
                })
                .collect(),
            map: [("公安局".to_string(), 1), ("税务局".to_string(), 2)]
                .into_iter()
                .collect(),
            absent: None,
        }
    }

    /// The same struct comes out as with a plain `hydrate`, also when two copies changed the same
    /// field concurrently (the winner is the document's winner) and a field is missing.
    #[test]
    fn one_pass_hydrates_what_the_document_holds() {
        let mut a = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut a, sample()).unwrap();
        let mut b = a.fork();
        a.put(automerge::ROOT, "n", 1_i64).unwrap();
        b.put(automerge::ROOT, "n", 2_i64).unwrap();
        a.merge(&mut b).unwrap();
        let doc = a.document().clone();
        let plain: Outer = autosurgeon::hydrate(&doc).unwrap();
        let fast: Outer = autosurgeon::hydrate(&OnePass::new(&doc)).unwrap();
        assert_eq!(fast, plain);
        assert!(plain.n == 1 || plain.n == 2);
        assert_eq!(fast.list.len(), 5);
        assert_eq!(fast.absent, None);
        // A document whose root lacks a required field fails alike.
        let empty = Automerge::new();
        assert!(autosurgeon::hydrate::<_, Outer>(&OnePass::new(&empty)).is_err());
        assert!(autosurgeon::hydrate::<_, Outer>(&empty).is_err());
    }
}
