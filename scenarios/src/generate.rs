//! Generates a county's store: the city node, its townships and villages, and N cases taken in
//! over two simulated years and driven through their lives.
//!
//! Two writers replay the same [`Planner`] plans:
//!
//! - **`api`** goes through the node's own write path: `Node::new_cases` per station and intake
//!   slot, `Node::act_many` per station and day, with the clock set to each moment. Every case is
//!   taken in at its real station (village, township or city), which needs one `Node` per station
//!   — see [`open_station_nodes`] and issue #2. Realistic to the last Automerge change, but each
//!   action is a document write (~0.3–0.5 ms), so about 2.5 ms per case.
//! - **`direct`** (the default) builds each case's finished document — the same intake form and
//!   the same events, each checked against the node's transition table (`fold::check`) — and
//!   writes batches of them through `Node::bulk_load` (one transaction per batch, `seq` and the
//!   index row beside each document), with the index row derived by the node's own `derive` and
//!   `index_row`. One Automerge change per case
//!   instead of one per action; everything the index, the lists and the statistics see is the same.
//!
//! The store is left with the city's identity; a sidecar file [`SIDECAR`] records what was
//! generated so that a later run can reuse it.

use crate::county::{CITY, CITY_NAME, County, NETWORK_NAME};
use crate::plan::{CasePlan, Planner, act_ms, intake_ms, morning_ms, schedule};
use crate::rng::Rng;
use anyhow::{Context, Result, bail};
use automerge::{ActorId, Automerge};
use chrono::NaiveDate;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::time::Instant;
use yizhan_node::account::Directory;
use yizhan_node::case::doc::{CASE_SCHEMA, CaseDoc, write_case};
use yizhan_node::case::{Action, fold};
use yizhan_node::diagnostics::{BulkCase, Checkpoint, Tuning};
use yizhan_node::store::STORE_FILE;
use yizhan_node::store::index::IndexRow;
use yizhan_node::{Clock, InitParams, Node, derive, index_row};

/// The sidecar file describing a generated store.
pub const SIDECAR: &str = "bench-store.json";

/// First day of the simulation.
pub fn sim_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 2).unwrap_or_default()
}

/// Last day of the simulation: the store's "today" is the next working day.
pub fn sim_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default()
}

const STREAM_IDS: u64 = 2;

/// Which writer fills the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GenMode {
    /// Finished documents written through `Node::bulk_load` (fast).
    Direct,
    /// `Node::new_cases` and `Node::act_many` per station (realistic, slow).
    Api,
}

impl GenMode {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            GenMode::Direct => "direct",
            GenMode::Api => "api",
        }
    }
}

/// Arguments of `gen-store`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenArgs {
    /// Directory of the store to create (must not hold a store yet).
    #[arg(long)]
    pub dir: PathBuf,
    /// Number of cases.
    #[arg(long, default_value_t = 1_000_000)]
    pub cases: u64,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Writer.
    #[arg(long = "gen", value_enum, default_value_t = GenMode::Direct)]
    pub writer: GenMode,
    /// Cases per transaction in the direct writer (each held in memory until the commit).
    #[arg(long, default_value_t = 2_000)]
    pub batch: usize,
}

/// Creates the city node and the county's stations.
fn init_county(dir: &Path, county: &County) -> Result<Node> {
    let start = sim_start();
    let mut node = Node::init(
        dir,
        Clock::Fixed(morning_ms(start) - 86_400_000),
        &InitParams::new(NETWORK_NAME, CITY, CITY_NAME),
    )
    .with_context(|| format!("creating the city store in {}", dir.display()))?;
    for s in county.roster_stations() {
        node.add_station(s)?;
    }
    Ok(node)
}

/// Generation-only SQLite settings: reads through mmap and fewer, larger checkpoints. They are
/// per connection and never reach the measurements, which open fresh nodes.
fn tune_for_generation(node: &mut Node, cache_kib: i64) -> Result<()> {
    let d = node.diagnostics();
    d.tune(Tuning::MmapSize, 1_i64 << 34)?;
    d.tune(Tuning::CacheSize, -cache_kib)?;
    d.tune(Tuning::WalAutocheckpoint, 20_000)?;
    Ok(())
}

/// Generates a store; returns the sidecar's contents (also written to `dir`).
pub fn generate(args: &GenArgs) -> Result<Value> {
    if args.dir.join(STORE_FILE).exists() {
        bail!("{} already holds a store", args.dir.display());
    }
    let t0 = Instant::now();
    let county = County::new();
    let mut node = init_county(&args.dir, &county)?;
    let planner = Planner::new(
        county,
        node.catalog(),
        node.calendar().clone(),
        args.seed,
        sim_end(),
    );
    let sched = schedule(args.cases, sim_start(), sim_end(), node.calendar());
    let progress = Progress::new(args.cases);
    let tally = match args.writer {
        GenMode::Direct => {
            tune_for_generation(&mut node, 64_000)?;
            let t = write_direct(
                &mut node,
                &planner,
                &sched,
                args.seed,
                args.batch.max(1),
                &progress,
            )?;
            drop(node);
            t
        }
        GenMode::Api => write_api(node, &args.dir, &planner, &sched, &progress)?,
    };
    let secs = t0.elapsed().as_secs_f64();
    // Leave a tidy file: everything checkpointed into the main database.
    let mut node = Node::open(&args.dir, Clock::Fixed(morning_ms(sim_end())))?;
    if node.identity().station != CITY {
        bail!("the store did not keep the city's identity");
    }
    checkpoint(&mut node).context("checkpointing the generated store")?;
    drop(node);
    let today = today_of(&yizhan_node::calendar::Calendar::builtin());
    let size = store_bytes(&args.dir);
    let side = json!({
        "format": "yizhan-bench-store/1",
        "cases": args.cases,
        "seed": args.seed,
        "gen": args.writer.as_str(),
        "sim_start": sim_start().to_string(),
        "sim_end": sim_end().to_string(),
        "today": today.to_string(),
        "today_ms": morning_ms(today),
        "generation": {
            "seconds": secs,
            "cases_per_s": args.cases as f64 / secs.max(1e-9),
            "document_writes": tally.doc_writes,
            "events": tally.events,
            "transactions": tally.transactions,
        },
        "store_bytes": size,
    });
    std::fs::write(args.dir.join(SIDECAR), serde_json::to_string_pretty(&side)?)?;
    Ok(side)
}

/// The measurements' "today": the first working day after the simulation.
pub fn today_of(cal: &yizhan_node::calendar::Calendar) -> NaiveDate {
    cal.add_working_days(sim_end(), 1)
}

/// Bytes of the store on disk (database, WAL and shared memory).
pub fn store_bytes(dir: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::metadata(dir.join(format!("{STORE_FILE}{s}"))).ok())
        .map(|m| m.len())
        .sum()
}

/// Moves everything from the WAL into the main database file and truncates the WAL.
pub fn checkpoint(node: &mut Node) -> Result<()> {
    if node
        .diagnostics()
        .wal_checkpoint(Checkpoint::Truncate)?
        .busy
    {
        bail!("the WAL checkpoint was blocked by another connection");
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Tally {
    doc_writes: u64,
    events: u64,
    transactions: u64,
}

/// Progress on stderr, every 5 %.
#[derive(Debug)]
struct Progress {
    total: u64,
    start: Instant,
    next: std::cell::Cell<u64>,
}

impl Progress {
    fn new(total: u64) -> Progress {
        Progress {
            total,
            start: Instant::now(),
            next: std::cell::Cell::new(total / 20),
        }
    }

    fn report(&self, done: u64) {
        if done < self.next.get() && done < self.total {
            return;
        }
        self.next.set(done + (self.total / 20).max(1));
        let secs = self.start.elapsed().as_secs_f64();
        let rate = done as f64 / secs.max(1e-9);
        let eta = (self.total.saturating_sub(done)) as f64 / rate.max(1e-9);
        eprintln!(
            "gen: {done}/{} cases, {:.0} s, {rate:.0} cases/s, eta {eta:.0} s",
            self.total, secs
        );
    }
}

/// One finished case, ready to store.
struct Built {
    id: String,
    doc: Automerge,
    row: IndexRow,
    events: u64,
}

/// What the direct writer needs to turn a plan into a document.
struct Builder<'a> {
    planner: &'a Planner,
    node_id: String,
    actor: ActorId,
    catalog: yizhan_node::catalog::Catalog,
    calendar: yizhan_node::calendar::Calendar,
    settings: yizhan_node::network::Settings,
    roster: yizhan_node::network::Roster,
    today: NaiveDate,
    seed: u64,
}

impl Builder<'_> {
    fn build(&self, plan: CasePlan, counter: u64) -> Result<Built> {
        let county = self.planner.county();
        let code = |i: usize| county.stations[i].code.as_str();
        let mut rng = Rng::derive(self.seed, STREAM_IDS, plan.seq);
        let item = self
            .catalog
            .get(&plan.new.item_code)
            .with_context(|| format!("unknown item {}", plan.new.item_code))?;
        let new = &plan.new;
        let mut doc = CaseDoc {
            schema: CASE_SCHEMA.into(),
            id: rng.uuid(),
            // The node's format (`Node::new_cases`): station-yymmdd-ordinal-counter, one counter
            // per day. Duplicated here; `direct_and_api_writers_agree` catches a drift.
            number: format!(
                "{}-{}-1-{:03}",
                code(plan.station),
                plan.day.format("%y%m%d"),
                counter
            ),
            created_at: intake_ms(plan.day, plan.station, plan.slot),
            origin: code(plan.station).to_string(),
            origin_node: self.node_id.clone(),
            item: item.snapshot(),
            applicant: new.applicant(),
            delegation: new.delegation(None),
            intake_by: None,
            intake_operator: Some(new.operator.clone()),
            notices_by: None,
            received: None,
            events: Vec::new(),
        };
        let mut state = fold(&doc);
        let events = plan.steps.len() as u64;
        for step in &plan.steps {
            let station = &county.stations[step.station];
            let event = doc.next_event(
                &state.last_transition,
                &step.action,
                rng.uuid(),
                act_ms(step.day, step.station),
                &station.code,
                &self.node_id,
                &station.operator,
                None,
            );
            fold::check(
                &state,
                &doc.item,
                &Directory::default(),
                &event,
                &step.action,
            )
            .map_err(|why| {
                anyhow::anyhow!(
                    "plan of case {} ({}): {} at {} on {} is not allowed: {why}",
                    plan.seq,
                    doc.item.code,
                    step.action.kind(),
                    station.code,
                    step.day
                )
            })?;
            doc.events.push(event);
            state = fold(&doc);
        }
        let mut am = Automerge::new().with_actor(self.actor.clone());
        write_case(&mut am, &doc)?;
        let id = doc.id.clone();
        let view = derive(
            doc,
            &self.calendar,
            &self.settings,
            &Directory::default(),
            self.today,
        );
        let row = index_row(&view, &self.roster);
        Ok(Built {
            id,
            doc: am,
            row,
            events,
        })
    }
}

fn write_direct(
    node: &mut Node,
    planner: &Planner,
    sched: &[(NaiveDate, u64)],
    seed: u64,
    batch: usize,
    progress: &Progress,
) -> Result<Tally> {
    let builder = Builder {
        planner,
        node_id: node.identity().node_id.clone(),
        actor: ActorId::from(hex::decode(&node.identity().node_id)?),
        catalog: node.catalog().clone(),
        calendar: node.calendar().clone(),
        settings: *node.settings(),
        roster: node.roster().clone(),
        today: today_of(node.calendar()),
        seed,
    };
    let mut tally = Tally::default();
    // One thread plans and builds documents, this one stores them: Automerge encoding of a
    // batch overlaps with the SQLite writes of the previous one.
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = sync_channel::<Result<Vec<Built>>>(2);
        let builder = &builder;
        scope.spawn(move || {
            let mut first = 0;
            let mut chunk = Vec::with_capacity(batch);
            for (day, count) in sched {
                let plans = builder.planner.day_plans(*day, first, *count);
                first += count;
                for (i, plan) in plans.into_iter().enumerate() {
                    match builder.build(plan, i as u64 + 1) {
                        Ok(b) => chunk.push(b),
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                    if chunk.len() >= batch
                        && tx
                            .send(Ok(std::mem::replace(&mut chunk, Vec::with_capacity(batch))))
                            .is_err()
                    {
                        return;
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = tx.send(Ok(chunk));
            }
        });
        let mut done = 0u64;
        for chunk in rx {
            let chunk = chunk?;
            let n = chunk.len() as u64;
            let events: u64 = chunk.iter().map(|b| b.events).sum();
            node.bulk_load(
                chunk
                    .into_iter()
                    .map(|b| BulkCase {
                        id: b.id,
                        doc: b.doc,
                        row: b.row,
                    })
                    .collect(),
            )?;
            // Written documents go to the store's cache; keep it from growing with them.
            done += n;
            tally.doc_writes += n;
            tally.events += events;
            tally.transactions += 1;
            progress.report(done);
        }
        Ok(())
    })?;
    Ok(tally)
}

/// Opens one `Node` per station of the county on the same store, each acting as that station
/// (`Diagnostics::act_as_station`, in memory only), so that `new_cases` writes the real `origin`
/// (hence the index's township and village columns) and `act_many` acts as the station that holds
/// the case (the tier rule: a village accepts village items, a township township items, the city
/// city items). They all share the city's key, and the store keeps the city's identity.
fn open_station_nodes(city: Node, dir: &Path, county: &County) -> Result<Vec<Node>> {
    let clock = city.clock();
    let mut nodes = Vec::with_capacity(county.stations.len());
    nodes.push(city);
    for s in county.stations.iter().skip(1) {
        let mut n = Node::open(dir, clock)?;
        n.diagnostics()
            .act_as_station(&s.code)
            .with_context(|| format!("could not open a node for station {}", s.code))?;
        tune_for_generation(&mut n, 4_000)?;
        nodes.push(n);
    }
    tune_for_generation(&mut nodes[0], 32_000)?;
    Ok(nodes)
}

fn write_api(
    city: Node,
    dir: &Path,
    planner: &Planner,
    sched: &[(NaiveDate, u64)],
    progress: &Progress,
) -> Result<Tally> {
    let county = planner.county().clone();
    let mut nodes = open_station_nodes(city, dir, &county)?;
    let sched: BTreeMap<NaiveDate, u64> = sched.iter().copied().collect();
    let mut agenda: BTreeMap<NaiveDate, Vec<(usize, String, Action)>> = BTreeMap::new();
    let mut tally = Tally::default();
    let mut first = 0u64;
    let mut done = 0u64;
    for day in sim_start().iter_days().take_while(|d| *d <= sim_end()) {
        if let Some(count) = sched.get(&day) {
            let plans = planner.day_plans(day, first, *count);
            first += count;
            let mut i = 0;
            while i < plans.len() {
                let (station, slot) = (plans[i].station, plans[i].slot);
                let j = i + plans[i..]
                    .iter()
                    .take_while(|p| p.station == station && p.slot == slot)
                    .count();
                let group = &plans[i..j];
                let news: Vec<_> = group.iter().map(|p| p.new.clone()).collect();
                let node = &mut nodes[station];
                node.set_clock(Clock::Fixed(intake_ms(day, station, slot)));
                let views = node.new_cases(&news).with_context(|| {
                    format!("new_cases at {} on {day}", county.stations[station].code)
                })?;
                for (plan, view) in group.iter().zip(views) {
                    for step in &plan.steps {
                        agenda.entry(step.day).or_default().push((
                            step.station,
                            view.doc.id.clone(),
                            step.action.clone(),
                        ));
                    }
                }
                tally.doc_writes += news.len() as u64;
                tally.transactions += 1;
                done += news.len() as u64;
                i = j;
            }
        }
        if let Some(mut acts) = agenda.remove(&day) {
            // Stable: each case's actions keep their order.
            acts.sort_by_key(|(station, _, _)| *station);
            let mut i = 0;
            while i < acts.len() {
                let station = acts[i].0;
                let j = i + acts[i..].iter().take_while(|a| a.0 == station).count();
                let pairs: Vec<(String, Action)> = acts[i..j]
                    .iter()
                    .map(|(_, id, a)| (id.clone(), a.clone()))
                    .collect();
                let op = county.stations[station].operator.clone();
                let node = &mut nodes[station];
                node.set_clock(Clock::Fixed(act_ms(day, station)));
                if let Err(e) = node.act_many(&pairs, &op) {
                    // Find the action at fault for the message (nothing was written).
                    for (id, a) in &pairs {
                        if let Err(e2) = node.act(id, a, &op) {
                            bail!(
                                "{} on {day}: {} on case {id}: {e2}",
                                county.stations[station].code,
                                a.kind()
                            );
                        }
                    }
                    bail!("{} on {day}: {e}", county.stations[station].code);
                }
                tally.doc_writes += pairs.len() as u64;
                tally.events += pairs.len() as u64;
                tally.transactions += 1;
                i = j;
            }
        }
        progress.report(done);
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yizhan_node::query::CaseFilter;

    fn make(dir: &Path, writer: GenMode) -> Node {
        let args = GenArgs {
            dir: dir.to_path_buf(),
            cases: 400,
            seed: 7,
            writer,
            batch: 150,
        };
        let side = generate(&args).expect("generate");
        let today_ms = side["today_ms"].as_i64().expect("today");
        Node::open(dir, Clock::Fixed(today_ms)).expect("open")
    }

    /// The plans pass the node's own checks (the API writer goes through `new_cases` and
    /// `act_many`), and the fast writer leaves exactly the same index behind.
    #[test]
    fn direct_and_api_writers_agree() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut direct = make(&tmp.path().join("direct"), GenMode::Direct);
        let mut api = make(&tmp.path().join("api"), GenMode::Api);
        assert_eq!(direct.identity().station, CITY);
        assert_eq!(api.identity().station, CITY);
        assert_eq!(direct.count(&CaseFilter::default()).expect("count"), 400);
        // Same cases, same numbers (the direct writer copies the node's number format).
        let all = CaseFilter {
            limit: 1000,
            ..CaseFilter::default()
        };
        let numbers = |node: &mut Node| {
            let mut n: Vec<String> = node
                .list(&all)
                .expect("list")
                .into_iter()
                .map(|r| r.number)
                .collect();
            n.sort();
            n
        };
        assert_eq!(numbers(&mut direct), numbers(&mut api));
        let a = direct.stats(None, None).expect("stats");
        let b = api.stats(None, None).expect("stats");
        assert_eq!(a, b);
        assert!(a.totals.open > 0 && a.totals.completed > 0 && a.totals.rated > 0);
        // Cases come from every tier, so township and village columns are filled.
        let by_town = direct
            .stats(Some(yizhan_node::query::GroupBy::Township), None)
            .expect("stats");
        assert!(by_town.groups.len() >= 5, "{:?}", by_town.groups.len());
        // The generated index is what the node derives from the documents.
        let before = direct.index_dump().expect("dump");
        direct.reindex().expect("reindex");
        assert_eq!(before, direct.index_dump().expect("dump"));
    }
}
