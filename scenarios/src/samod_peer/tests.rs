//! samod's peer against itself over iroh, and the export of Yizhan's documents.

use super::counted::FrameCounter;
use super::*;
use crate::bench_sync::workload::{Intake, create_pair, take_in};
use crate::county::County;
use crate::rng::Rng;
use yizhan_node::NodeHandle;

fn args(pack: Option<PathBuf>) -> PeerArgs {
    PeerArgs {
        pack,
        listen: None,
        dial: None,
        addr: None,
        docs: None,
        fetch: false,
        timeout: 60,
    }
}

/// A township store with `n` cases, exported to a pack; the pack and the samod ids file.
fn township_pack(dir: &Path, n: usize) -> Result<(PathBuf, PathBuf)> {
    let (city, town) = create_pair(&dir.join("city"), &dir.join("town"), &County::new())?;
    drop(city);
    let intake = Intake::new(&town)?;
    let (h, thread) = NodeHandle::spawn(town)?;
    let ids = take_in(&h, &intake, &mut Rng::new(3), n, n, false)?;
    drop(h);
    thread.join();
    let pack = dir.join("town.pack");
    assert_eq!(export(&dir.join("town"), &pack)?, n);
    let list = dir.join("town.ids");
    let text: Vec<String> = ids
        .iter()
        .map(|id| samod_id(id).map(|d| d.to_string()))
        .collect::<Result<_>>()?;
    std::fs::write(&list, text.join("\n"))?;
    Ok((pack, list))
}

/// A samod server on 127.0.0.1 with an empty storage; a township dials it with its pack
/// (every document new to the server), then a fresh node fetches them all from the server:
/// so the documents really crossed, both ways, over iroh.
/// Asserts that a dial's report says it synced all twelve documents, moving more than 100 bytes
/// each in the direction `bytes` names (`bytes_out` for a push, `bytes_in` for a fetch).
fn synced_all_twelve(report: &Value, bytes: &str) {
    assert_eq!(report["event"], "synced", "{report}");
    assert_eq!(report["docs_done"], 12);
    assert!(report[bytes].as_u64().unwrap_or(0) > 12 * 100, "{report}");
}

#[test]
fn samod_syncs_exported_documents_over_iroh() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (pack, list) = township_pack(dir.path(), 12)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Value>();
        let server = tokio::spawn(async move {
            serve(
                &args(None),
                SocketAddr::from(([127, 0, 0, 1], 0)),
                async move {
                    let _ = stop_rx.await;
                },
                move |v| {
                    let _ = ready_tx.send(v);
                },
            )
            .await
        });
        let listening = ready_rx.await?;
        let node_id = listening["node_id"]
            .as_str()
            .context("no node id")?
            .to_string();
        let port = listening["port"].as_u64().context("no port")? as u16;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));

        let mut push = args(Some(pack.clone()));
        push.docs = Some(list.clone());
        push.addr = Some(addr);
        let pushed = dial(&push, &node_id).await?;
        synced_all_twelve(&pushed, "bytes_out");

        let mut fetch = args(None);
        fetch.docs = Some(list.clone());
        fetch.addr = Some(addr);
        fetch.fetch = true;
        let fetched = dial(&fetch, &node_id).await?;
        synced_all_twelve(&fetched, "bytes_in");
        assert!(
            fetched["frames_in"].as_u64().unwrap_or(0) >= 12,
            "{fetched}"
        );

        let _ = stop_tx.send(());
        let stopped = server.await??;
        assert_eq!(stopped["event"], "stopped");
        anyhow::Ok(())
    })
}

#[test]
fn a_cut_off_pack_is_refused_by_name() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (pack, _) = township_pack(dir.path(), 2)?;
    let bytes = std::fs::read(&pack)?;
    assert!(PackStorage::load(&pack).is_ok());
    let cut = dir.path().join("cut.pack");
    std::fs::write(&cut, &bytes[..bytes.len() - 3])?;
    let err = PackStorage::load(&cut)
        .err()
        .context("a cut-off pack loaded")?;
    assert!(
        err.to_string().contains("cut off inside a snapshot"),
        "{err}"
    );
    Ok(())
}

#[test]
fn frames_are_counted_across_reads_of_any_size() {
    let mut stream = Vec::new();
    for len in [0u32, 1, 5, 300, 70_000] {
        stream.extend_from_slice(&len.to_be_bytes());
        stream.extend(std::iter::repeat_n(7u8, len as usize));
    }
    for chunk in [1, 3, 4, 7, 1000, stream.len()] {
        let mut c = FrameCounter::default();
        let frames: u64 = stream.chunks(chunk).map(|b| c.feed(b)).sum();
        assert_eq!(frames, 5, "chunks of {chunk}");
        assert_eq!((c.have, c.left), (0, 0));
    }
}

#[test]
fn samod_ids_are_stable_and_distinct() {
    let a = samod_id("2026-T01-000001").unwrap_or_else(|e| panic!("{e}"));
    let b = samod_id("2026-T01-000002").unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(a, b);
    assert_eq!(
        a,
        samod_id("2026-T01-000001").unwrap_or_else(|e| panic!("{e}"))
    );
    // The text form round-trips, as the dialer reads ids from a file.
    assert_eq!(a.to_string().parse::<DocumentId>().ok(), Some(a));
}
