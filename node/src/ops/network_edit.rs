//! The city's edits of the network documents: stations, catalog items, the calendar and the
//! settings (and, in [`crate::ops::membership`], revocations).
//!
//! Every edit loads its document inside the store's write transaction, changes the stored form
//! there and reconciles it back ([`edit_network`]), exactly as case actions load their case: an
//! edit therefore sees everything committed before it, including what sync or another process on
//! the same data directory wrote after this node last read the documents, and writes only what it
//! changed. A calendar or settings edit rebuilds the index in the same transaction, from the
//! documents as stored there ([`reindex_in`]). Test:
//! `a_network_edit_keeps_what_was_committed_after_this_node_read_the_documents`.

use crate::calendar::{Calendar, YearRule};
use crate::catalog::{Catalog, CatalogError, MAX_ITEMS, RowError, RowProblem, ServiceItem};
use crate::cert::Members;
use crate::error::{NodeError, Result};
use crate::failpoint;
use crate::network::{
    CALENDAR_ID, CATALOG_ID, CalendarDoc, CatalogDoc, ROSTER_ID, Roster, SETTINGS_ID, Settings,
    SettingsDoc, Station, YearDoc,
};
use crate::node::Node;
use crate::ops::derived::rebuild_index;
use crate::ops::{check_text, hydrate_doc, reconcile_err};
use crate::refusal::Refusal;
use crate::store::{DocType, WriteTx};
use autosurgeon::{Hydrate, Reconcile, reconcile};
use chrono::NaiveDate;

/// Implements [`Node::add_station`].
pub(crate) fn add_station(node: &mut Node, station: Station) -> Result<()> {
    node.refresh()?;
    node.require_city("station add")?;
    check_text("name", &station.name, 100)?;
    let members = &node.net.members;
    failpoint::hit(failpoint::NETWORK_EDIT_BEFORE_WRITE);
    node.store.write(|wtx| {
        edit_network(wtx, ROSTER_ID, |roster: &mut Roster| {
            // The city adopts into the roster the stations it knows from certificates.
            adopt_stations(roster, members);
            roster.add_station(station)
        })
        .map(|_| ())
    })?;
    node.refresh()
}

/// Implements [`Node::import_catalog`].
pub(crate) fn import_catalog(node: &mut Node, catalog: &Catalog) -> Result<()> {
    if catalog.is_empty() || catalog.len() > MAX_ITEMS {
        node.refresh()?;
        node.require_city("catalog import")?;
        return Err(if catalog.is_empty() {
            CatalogError::Empty
        } else {
            CatalogError::TooManyItems {
                found: catalog.len(),
                max: MAX_ITEMS,
            }
        }
        .into());
    }
    edit_catalog(node, "catalog import", |_, doc| {
        *doc = CatalogDoc::from_catalog(catalog);
        Ok(())
    })
}

/// Implements [`Node::add_item`].
pub(crate) fn add_item(node: &mut Node, item: ServiceItem) -> Result<()> {
    edit_catalog(node, "catalog edit", |_, doc| {
        if doc.contains(&item.code) {
            return Err(CatalogError::Rows(vec![RowError {
                row: 1,
                field: "code".into(),
                problem: RowProblem::AlreadyInCatalog(item.code.clone()),
            }])
            .into());
        }
        put_checked(doc, &item)
    })
}

/// Implements [`Node::update_item`].
pub(crate) fn update_item(node: &mut Node, item: ServiceItem) -> Result<()> {
    edit_catalog(node, "catalog edit", |_, doc| {
        if doc.item(&item.code).is_none() {
            return Err(NodeError::UnknownItem(item.code.clone()));
        }
        put_checked(doc, &item)
    })
}

/// Implements [`Node::set_item_retired`].
pub(crate) fn set_item_retired(node: &mut Node, code: &str, retired: bool) -> Result<()> {
    edit_catalog(node, "catalog edit", |_, doc| {
        let mut item = doc
            .item(code)
            .ok_or_else(|| NodeError::UnknownItem(code.to_string()))?;
        item.retired = retired;
        put_checked(doc, &item)
    })
}

/// Implements [`Node::remove_item`].
pub(crate) fn remove_item(node: &mut Node, code: &str) -> Result<()> {
    edit_catalog(node, "catalog edit", |wtx, doc| {
        if doc.item(code).is_none() {
            return Err(NodeError::UnknownItem(code.to_string()));
        }
        // Counted inside the transaction, so that a deletion never races an intake made
        // beside this process.
        let cases = item_case_count(wtx.sql(), code)?;
        if cases > 0 {
            return Err(NodeError::not_allowed(
                "catalog edit",
                Refusal::ItemInUse {
                    code: code.to_string(),
                    cases,
                },
            ));
        }
        doc.remove_item(code);
        if doc.to_catalog().is_empty() {
            return Err(CatalogError::Empty.into());
        }
        Ok(())
    })
}

/// Edits the catalog document as stored, inside the write transaction (city only): the edit
/// sees every item committed before it, including one that sync or another process on this
/// data directory added after this process last read the catalog, and changes only what it
/// means to change.
pub(crate) fn edit_catalog(
    node: &mut Node,
    action: &'static str,
    edit: impl FnOnce(&WriteTx<'_>, &mut CatalogDoc) -> Result<()>,
) -> Result<()> {
    node.refresh()?;
    node.require_city(action)?;
    failpoint::hit(failpoint::NETWORK_EDIT_BEFORE_WRITE);
    node.store
        .write(|wtx| edit_network_with(wtx, CATALOG_ID, edit).map(|_| ()))?;
    node.refresh()
}

/// Implements [`Node::set_settings`].
pub(crate) fn set_settings(node: &mut Node, settings: Settings) -> Result<()> {
    node.refresh()?;
    node.require_city("settings")?;
    settings.validate()?;
    let today = node.today();
    let members = &node.net.members;
    let accounts = &node.net.accounts;
    failpoint::hit(failpoint::NETWORK_EDIT_BEFORE_WRITE);
    // Yellow thresholds are stored in the index; it is rebuilt in the same transaction so
    // that lists agree with the fold even if the process stops right after.
    node.store.write(|wtx| {
        edit_network(wtx, SETTINGS_ID, |doc: &mut SettingsDoc| {
            doc.settings = settings;
            Ok(())
        })?;
        reindex_in(wtx, members, accounts, today)
    })?;
    node.refresh()
}

/// Implements [`Node::set_calendar`].
pub(crate) fn set_calendar(node: &mut Node, calendar: &Calendar) -> Result<()> {
    edit_calendar(node, |doc| {
        *doc = CalendarDoc::from_calendar(calendar);
        Ok(())
    })
}

/// Implements [`Node::set_calendar_year`].
pub(crate) fn set_calendar_year(node: &mut Node, year: i32, rule: YearRule) -> Result<()> {
    edit_calendar(node, |doc| {
        let (mut calendar, _) = doc.to_calendar();
        calendar.set_year(year, rule)?;
        // The rule as validated and normalised; only this year's entry of the stored
        // document changes.
        if let Some(normalised) = calendar.years().get(&year) {
            doc.years
                .insert(year.to_string(), YearDoc::from_rule(normalised));
        }
        Ok(())
    })
}

/// Edits the calendar document as stored, inside the write transaction (city only), and
/// rebuilds the index from what the stored document reads back as (a rule that does not
/// validate falls back to the built-in one), so that the index follows exactly what every
/// node will read.
pub(crate) fn edit_calendar(
    node: &mut Node,
    edit: impl FnOnce(&mut CalendarDoc) -> Result<()>,
) -> Result<()> {
    node.refresh()?;
    node.require_city("calendar")?;
    let today = node.today();
    let members = &node.net.members;
    let accounts = &node.net.accounts;
    failpoint::hit(failpoint::NETWORK_EDIT_BEFORE_WRITE);
    node.store.write(|wtx| {
        edit_network(wtx, CALENDAR_ID, edit)?;
        reindex_in(wtx, members, accounts, today)
    })?;
    node.refresh()
}

/// Loads the network document `doc_id` inside the write transaction, lets `edit` change its
/// stored form, and persists the change. Reading the document here, not from the node's memory,
/// is what keeps concurrent changes: the edit sees everything committed before it, and the
/// reconcile writes only what the edit changed.
pub(crate) fn edit_network<T: Hydrate + Reconcile>(
    wtx: &mut WriteTx<'_>,
    doc_id: &str,
    edit: impl FnOnce(&mut T) -> Result<()>,
) -> Result<T> {
    edit_network_with(wtx, doc_id, |_, value| edit(value))
}

/// [`edit_network`] for an edit that also reads the transaction (the index, another document).
pub(crate) fn edit_network_with<T: Hydrate + Reconcile>(
    wtx: &mut WriteTx<'_>,
    doc_id: &str,
    edit: impl FnOnce(&WriteTx<'_>, &mut T) -> Result<()>,
) -> Result<T> {
    let mut doc = wtx
        .take_doc(doc_id)?
        .ok_or_else(|| NodeError::CorruptDocument {
            doc: doc_id.to_string(),
            reason: "the network document is missing".into(),
        })?;
    let mut value: T = hydrate_doc(doc_id, &doc)?;
    edit(wtx, &mut value)?;
    let before = doc.get_heads();
    let mut tx = doc.transaction();
    reconcile(&mut tx, &value).map_err(reconcile_err)?;
    tx.commit();
    wtx.put_doc(doc_id, DocType::Network, doc, Some(&before))?;
    Ok(value)
}

/// Reads a network document inside the write transaction, without changing it.
pub(crate) fn read_network<T: Hydrate>(wtx: &WriteTx<'_>, doc_id: &str) -> Result<T> {
    wtx.with_doc_uncached(doc_id, |d| hydrate_doc(doc_id, d))
}

/// Adds to a roster the stations known only from certificates (enrolled by a township while the
/// city was out of reach), as every view of the roster does.
pub(crate) fn adopt_stations(roster: &mut Roster, members: &Members) {
    for st in members.stations() {
        roster
            .stations
            .entry(st.code.clone())
            .or_insert_with(|| st.clone());
    }
}

/// Validates one item as an import validates a row and stores it in the catalog document.
pub(crate) fn put_checked(doc: &mut CatalogDoc, item: &ServiceItem) -> Result<()> {
    let problems = Catalog::check_item(item);
    if !problems.is_empty() {
        return Err(CatalogError::Rows(problems).into());
    }
    doc.put_item(item);
    Ok(())
}

pub(crate) fn item_case_count(conn: &rusqlite::Connection, code: &str) -> Result<u64> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM cases WHERE item_code = ?1",
        [code],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Rebuilds the index inside the transaction from the calendar, settings and roster as stored
/// in it (after this transaction's own writes).
pub(crate) fn reindex_in(
    wtx: &mut WriteTx<'_>,
    members: &Members,
    accounts: &crate::account::Directory,
    today: NaiveDate,
) -> Result<()> {
    let (calendar, _) = read_network::<CalendarDoc>(wtx, CALENDAR_ID)?.to_calendar();
    let settings = read_network::<SettingsDoc>(wtx, SETTINGS_ID)?.settings;
    let mut roster: Roster = read_network(wtx, ROSTER_ID)?;
    adopt_stations(&mut roster, members);
    rebuild_index(wtx, &calendar, &settings, accounts, &roster, today).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;
    use crate::case::Action;
    use crate::catalog::CaseKind;
    use crate::node::{InitParams, NewCase};
    use crate::station::Tier;
    use std::path::Path;

    fn city(dir: &Path, clock: &str) -> Node {
        Node::init(
            dir,
            Clock::fixed_from_rfc3339(clock).expect("clock"),
            &InitParams::new("测试市政务服务网", "C01", "测试市政务服务中心"),
        )
        .expect("init")
    }

    fn new_item(node: &Node, code: &str) -> ServiceItem {
        let mut item = node.catalog().items().next().expect("an item").clone();
        item.code = code.into();
        item.name = format!("事项 {code}");
        item
    }

    /// Issue #11: an edit read the catalog from memory and wrote the whole map back, deleting an
    /// item that another process (or sync) committed after that read.
    #[test]
    fn a_network_edit_keeps_what_was_committed_after_this_node_read_the_documents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        let mut a = city(&path, "2026-03-02T10:00:00+08:00");
        let mut b = Node::open(&path, a.clock()).expect("second node on the directory");
        let beside = new_item(&b, "CT-BESIDE");
        let ran = std::rc::Rc::new(std::cell::Cell::new(false));
        {
            let ran = ran.clone();
            let mut pending = Some(beside);
            let _armed = failpoint::arm(failpoint::NETWORK_EDIT_BEFORE_WRITE, move || {
                if let Some(item) = pending.take() {
                    b.add_item(item).expect("the other process adds an item");
                    ran.set(true);
                }
            });
            a.add_item(new_item(&a, "CT-MINE")).expect("add");
        }
        assert!(ran.get(), "the failpoint ran");
        for code in ["CT-BESIDE", "CT-MINE"] {
            assert!(a.catalog().get(code).is_some(), "{code} is kept");
        }
        // The same holds for retiring, updating and removing an item.
        let mut c = Node::open(&path, a.clock()).expect("third node");
        let _armed = failpoint::arm(failpoint::NETWORK_EDIT_BEFORE_WRITE, move || {
            let item = new_item(&c, &format!("CT-X{}", c.catalog().len()));
            c.add_item(item).expect("the other process adds an item");
        });
        let before = a.catalog().len();
        a.set_item_retired("CT-MINE", true).expect("retire");
        a.update_item(new_item(&a, "CT-MINE")).expect("update");
        a.remove_item("CT-MINE").expect("remove");
        assert_eq!(
            a.catalog().len(),
            before - 1 + 3,
            "three items added beside, one removed"
        );
        assert!(a.catalog().get("CT-BESIDE").is_some());
    }

    /// Issue #11: a calendar committed without the index rebuild that follows it (a crash between
    /// the two, or a sync that committed the calendar only) left due dates counted with the old
    /// calendar until someone ran `reindex`.
    #[test]
    fn an_index_left_behind_by_a_calendar_change_is_rebuilt_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        let mut node = city(&path, "2026-12-30T10:00:00+08:00");
        let item = node
            .catalog()
            .items()
            .filter(|i| i.tier == Tier::City && i.kind == CaseKind::Promised && !i.retired)
            .max_by_key(|i| i.promised_days)
            .expect("a promised city item")
            .code
            .clone();
        let case = node
            .new_case(&NewCase {
                item_code: item,
                applicant_name: "曹文静".into(),
                operator: "窗口一".into(),
                ..NewCase::default()
            })
            .expect("intake");
        let view = node
            .act(&case.doc.id, &Action::Accept, "窗口一")
            .expect("accept");
        assert!(
            view.deadline.due_provisional,
            "due in 2027, which has no rule yet"
        );
        let before = node.index_dump().expect("dump");

        {
            let _armed = failpoint::arm(failpoint::SKIP_REINDEX, || {});
            node.set_calendar_year(
                2027,
                YearRule {
                    holidays: vec![NaiveDate::from_ymd_opt(2027, 1, 1).expect("date")],
                    workdays: vec![],
                },
            )
            .expect("set 2027");
        }
        assert_eq!(
            node.index_dump().expect("dump"),
            before,
            "the rebuild was skipped"
        );
        drop(node);

        let mut node = Node::open(
            &path,
            Clock::fixed_from_rfc3339("2026-12-30T10:00:00+08:00").expect("clock"),
        )
        .expect("reopen");
        let reopened = node.index_dump().expect("dump");
        assert_ne!(reopened, before, "the due date is no longer provisional");
        node.reindex().expect("reindex");
        assert_eq!(node.index_dump().expect("dump"), reopened);
        assert!(
            !node
                .case(&case.doc.id)
                .expect("case")
                .deadline
                .due_provisional
        );
    }
}
