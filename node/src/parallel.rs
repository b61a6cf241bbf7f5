//! Work on a few named threads, results taken in order on the calling thread (issue #14).
//!
//! Applying a received batch is CPU work per document (Automerge's merge, reading the case back,
//! the fold, saving) followed by SQL that only the store's thread may run. [`map_in_order`] runs
//! the CPU part on worker threads and hands each result back to the store's thread in the batch's
//! order, so the SQL of one document overlaps the CPU work of the next ones, and the first error
//! in the batch's order is the one reported, as when everything ran on one thread. The workers
//! never touch the store.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::mpsc::sync_channel;

/// Below this many inputs the threads cost more than they save: everything runs inline.
const MIN_PARALLEL: usize = 16;

/// The most worker threads a batch uses (the store's thread works beside them).
const MAX_WORKERS: usize = 4;

/// Maps each input through `work` on worker threads (named `{name}-N`) and passes the results to
/// `take` on this thread, in the inputs' order. Stops at `take`'s first error, which it returns;
/// the workers then stop at their next result.
pub(crate) fn map_in_order<I, O, E>(
    name: &str,
    inputs: Vec<I>,
    work: impl Fn(I) -> O + Sync,
    mut take: impl FnMut(O) -> Result<(), E>,
) -> Result<(), E>
where
    I: Send,
    O: Send,
{
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_WORKERS);
    if workers <= 1 || inputs.len() < MIN_PARALLEL {
        for input in inputs {
            take(work(input))?;
        }
        return Ok(());
    }
    let total = inputs.len();
    let queue = Mutex::new(inputs.into_iter().enumerate());
    // Bounded: a store thread that falls behind holds the workers back instead of the batch's
    // results piling up in memory.
    let (tx, rx) = sync_channel::<(usize, O)>(workers * 4);
    std::thread::scope(|scope| {
        for w in 0..workers {
            let tx = tx.clone();
            let (queue, work) = (&queue, &work);
            // A worker that cannot be started leaves its share to the others, or to this thread
            // below.
            let _ = std::thread::Builder::new()
                .name(format!("{name}-{w}"))
                .spawn_scoped(scope, move || {
                    loop {
                        let next = match queue.lock() {
                            Ok(mut q) => q.next(),
                            Err(_) => None,
                        };
                        let Some((i, input)) = next else { break };
                        if tx.send((i, work(input))).is_err() {
                            break;
                        }
                    }
                });
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, O> = BTreeMap::new();
        let mut next = 0;
        // The receiver is moved into the loop, so that an early return drops it: the workers'
        // sends then fail and they stop, instead of blocking on a full channel while `scope`
        // waits to join them.
        for (i, out) in rx {
            waiting.insert(i, out);
            while let Some(out) = waiting.remove(&next) {
                next += 1;
                take(out)?;
            }
        }
        // Every worker has stopped. Inputs none of them took (none could be started) run here.
        let rest: Vec<(usize, I)> = match queue.lock() {
            Ok(mut q) => q.by_ref().collect(),
            Err(_) => Vec::new(),
        };
        for (_, input) in rest {
            next += 1;
            take(work(input))?;
        }
        // A worker that panicked dropped its input, and the results after it wait here for
        // ever: `scope` re-raises the panic when it joins the workers, so the batch's transaction
        // is never committed with a document missing.
        debug_assert!(next + waiting.len() <= total);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Results come back in the inputs' order whatever the workers' pace, and the first error in
    /// that order stops the run.
    #[test]
    fn results_arrive_in_order_and_the_first_error_stops() {
        let inputs: Vec<u64> = (0..500).collect();
        let mut seen = Vec::new();
        let done: Result<(), String> = map_in_order(
            "test-map",
            inputs.clone(),
            |i| {
                // Uneven work, so that workers finish out of order.
                let mut x = i;
                for _ in 0..(i % 7) * 1000 {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                }
                (i, x)
            },
            |(i, _)| {
                seen.push(i);
                Ok(())
            },
        );
        assert_eq!(done, Ok(()));
        assert_eq!(seen, inputs);

        let mut taken = 0;
        let done = map_in_order(
            "test-map",
            inputs,
            |i| i,
            |i| {
                taken += 1;
                if i == 100 || i == 200 {
                    Err(format!("bad {i}"))
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(done, Err("bad 100".to_string()));
        assert_eq!(taken, 101);
    }

    /// A handful of inputs runs inline, on this thread.
    #[test]
    fn a_small_batch_runs_on_this_thread() {
        let me = std::thread::current().id();
        let mut threads = Vec::new();
        let done: Result<(), ()> = map_in_order(
            "test-map",
            vec![1, 2, 3],
            |_| std::thread::current().id(),
            |t| {
                threads.push(t);
                Ok(())
            },
        );
        assert_eq!(done, Ok(()));
        assert!(threads.iter().all(|t| *t == me));
    }
}
