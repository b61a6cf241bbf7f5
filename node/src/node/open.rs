//! Opening and creating a store, and the cache of the network documents (`NetCache`) with its
//! refresh: what [`Node`] holds between calls, as opposed to the facade's one-line methods.

use super::{Identity, InitParams, NetCache, Node};
use crate::calendar::Calendar;
use crate::catalog::Catalog;
use crate::cert::{Cert, CertBody, Members};
use crate::clock::Clock;
use crate::error::{NodeError, Result};
use crate::invalid::Invalid;
use crate::network::{
    CALENDAR_ID, CATALOG_ID, CalendarDoc, CatalogDoc, Member, NETWORK_DOC_IDS, ROSTER_ID, Roster,
    SETTINGS_ID, Settings, SettingsDoc, Station, validate_code,
};
use crate::ops::derived::{INDEX_BASIS, index_basis};
use crate::ops::membership::store_cert;
use crate::ops::network_edit::adopt_stations;
use crate::ops::{self, check_text, hydrate_doc, new_uuid, random_bytes, write_new};
use crate::station::Tier;
use crate::store::{DocType, Store};
use std::cell::OnceCell;
use std::path::Path;

impl Node {
    /// Creates a new network in `dir`, with this node as its city station.
    pub fn init(dir: &Path, clock: Clock, params: &InitParams) -> Result<Node> {
        validate_code("code", &params.code)?;
        if params.name.trim().is_empty() {
            return Err(NodeError::invalid("name", Invalid::StationNameEmpty));
        }
        if params.network_name.trim().is_empty() {
            return Err(NodeError::invalid("network", Invalid::NetworkNameEmpty));
        }
        check_text("name", &params.name, 100)?;
        check_text("network", &params.network_name, 100)?;
        let secret = random_bytes::<32>()?;
        let signing = ed25519_dalek::SigningKey::from_bytes(&secret);
        let public = signing.verifying_key().to_bytes();
        let node_id = hex::encode(public);
        let network_id = new_uuid()?;
        let root_secret = random_bytes::<32>()?;
        let root = ed25519_dalek::SigningKey::from_bytes(&root_secret);
        let root_key = hex::encode(root.verifying_key().to_bytes());
        let city = Station {
            code: params.code.clone(),
            name: params.name.trim().to_string(),
            tier: Tier::City,
            parent: String::new(),
        };
        let cert = Cert::issue(
            &root,
            CertBody {
                network_id: network_id.clone(),
                node_id: node_id.clone(),
                station: city.clone(),
                ordinal: 1,
                issuer: String::new(),
                issued_at: clock.now_ms(),
            },
        );
        let now = clock.now_ms();
        let mut roster = Roster::new(
            network_id.clone(),
            params.network_name.trim().to_string(),
            root_key.clone(),
            city,
        );
        roster.members.insert(
            node_id.clone(),
            Member {
                node_id: node_id.clone(),
                station: params.code.clone(),
                ordinal: 1,
                joined_at: now,
            },
        );
        Store::create_with(dir, automerge::ActorId::from(public.to_vec()), |wtx| {
            wtx.set_meta("node_id", &node_id)?;
            wtx.set_meta("secret_key", &hex::encode(secret))?;
            wtx.set_meta("station", &params.code)?;
            wtx.set_meta("ordinal", "1")?;
            wtx.set_meta("network_id", &network_id)?;
            wtx.set_meta("root_key", &root_key)?;
            // The root key stays with the first city node; it certifies further city nodes.
            wtx.set_meta("root_secret", &hex::encode(root_secret))?;
            store_cert(wtx, &cert)?;
            write_new(wtx, ROSTER_ID, DocType::Network, &roster)?;
            write_new(
                wtx,
                CATALOG_ID,
                DocType::Network,
                &CatalogDoc::from_catalog(&Catalog::default_catalog()),
            )?;
            write_new(
                wtx,
                CALENDAR_ID,
                DocType::Network,
                &CalendarDoc::from_calendar(&Calendar::builtin()),
            )?;
            write_new(
                wtx,
                SETTINGS_ID,
                DocType::Network,
                &SettingsDoc {
                    schema: "yizhan/settings/1".into(),
                    settings: Settings::default(),
                    notice_templates: None,
                },
            )?;
            Ok(())
        })?;
        Node::open(dir, clock)
    }

    /// Opens the node in `dir`.
    pub fn open(dir: &Path, clock: Clock) -> Result<Node> {
        let mut store = Store::open(dir)?;
        let meta = |store: &Store, key: &str| -> Result<String> {
            store.meta(key)?.ok_or_else(|| NodeError::NotAStore {
                path: store.path().to_path_buf(),
                reason: format!("its meta table has no {key}"),
            })
        };
        let identity = Identity {
            node_id: meta(&store, "node_id")?,
            station: meta(&store, "station")?,
            ordinal: meta(&store, "ordinal")?.parse().unwrap_or(1),
            network_id: meta(&store, "network_id")?,
        };
        let net = Node::load_net(&mut store, &identity.station)?;
        let mut node = Node {
            store,
            clock,
            identity,
            net,
            session: None,
            sessions: std::collections::HashSet::new(),
        };
        // A migration that added derived data only the documents can give (schema 5: the search
        // keys; schema 6: the provisional flags) asks for one rebuild of the index.
        let stale = node.store.meta(INDEX_BASIS)?
            != Some(index_basis(&node.net.calendar, &node.net.settings));
        let why = match node.store.meta("reindex")? {
            Some(why) => Some(why),
            None if stale => {
                Some("the index was computed from another calendar or settings".into())
            }
            None => None,
        };
        if let Some(why) = why {
            tracing::info!("rebuilding the case index once after an upgrade: {why}");
            let started = std::time::Instant::now();
            let cases = node.reindex()?;
            tracing::info!(
                cases,
                seconds = started.elapsed().as_secs_f64(),
                "case index rebuilt"
            );
        }
        Ok(node)
    }

    pub(crate) fn load_net(store: &mut Store, station: &str) -> Result<NetCache> {
        let seqs = store.doc_seqs(&NETWORK_DOC_IDS)?;
        let certs_version = store.counter("certs")?;
        let missing = |id: &str| NodeError::CorruptDocument {
            doc: id.to_string(),
            reason: "missing".into(),
        };
        let mut roster: Roster = store
            .read_doc(ROSTER_ID, |d| hydrate_doc(ROSTER_ID, d))?
            .ok_or_else(|| missing(ROSTER_ID))?;
        let mut members = Members::new(&roster.network_id, &roster.root_key);
        for (cert, err) in members.add_all(store.certs()?) {
            tracing::warn!(node = %crate::cert::short(&cert.body.node_id), "ignoring a stored certificate: {err}");
        }
        // Stations enrolled by a township while the city was out of reach are known from their
        // certificates before the city adds them to the roster.
        adopt_stations(&mut roster, &members);
        // The catalog is read when first used (intake, the catalog screens), not here: its
        // size (thousands of items) would otherwise be paid by every command that opens the node.
        if store.doc_seqs(&[CATALOG_ID])?[0].is_none() {
            return Err(missing(CATALOG_ID));
        }
        let (calendar, problems) = store
            .read_doc(CALENDAR_ID, |d| hydrate_doc::<CalendarDoc>(CALENDAR_ID, d))?
            .ok_or_else(|| missing(CALENDAR_ID))?
            .to_calendar();
        for p in problems {
            tracing::warn!("{p}");
        }
        let settings_doc = store
            .read_doc(SETTINGS_ID, |d| hydrate_doc::<SettingsDoc>(SETTINGS_ID, d))?
            .ok_or_else(|| missing(SETTINGS_ID))?;
        let settings = settings_doc.settings;
        let templates =
            crate::notice::Templates::from_stored(settings_doc.notice_templates.as_ref());
        let accounts_seqs = Node::accounts_seqs(store, station)?;
        let (accounts, credentials) = ops::accounts::load(store, station)?;
        Ok(NetCache {
            seqs,
            certs_version,
            members,
            roster,
            catalog: OnceCell::new(),
            calendar,
            settings,
            templates,
            accounts,
            credentials,
            accounts_seqs,
        })
    }

    fn accounts_seqs(store: &Store, station: &str) -> Result<(Option<i64>, Option<i64>)> {
        Ok((
            store.max_seq_of_type(DocType::Accounts)?,
            store.doc_seqs(&[&crate::account::credentials_doc_id(station)])?[0],
        ))
    }

    /// Re-reads the network documents and the accounts if another process (or sync) changed
    /// them.
    pub fn refresh(&mut self) -> Result<()> {
        if self.store.doc_seqs(&NETWORK_DOC_IDS)? != self.net.seqs
            || self.store.counter("certs")? != self.net.certs_version
        {
            self.net = Node::load_net(&mut self.store, &self.identity.station)?;
        } else if Node::accounts_seqs(&self.store, &self.identity.station)?
            != self.net.accounts_seqs
        {
            self.net.accounts_seqs = Node::accounts_seqs(&self.store, &self.identity.station)?;
            let (accounts, credentials) =
                ops::accounts::load(&mut self.store, &self.identity.station)?;
            self.net.accounts = accounts;
            self.net.credentials = credentials;
        }
        Ok(())
    }
}
