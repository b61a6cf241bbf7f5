//! Fuzzes the walk that measures Automerge bytes before Automerge inflates them
//! (`yizhan_node::inflate`, issue #14): whatever the bytes — a compression bomb in a change or
//! in a document's column, a damaged chunk, garbage — the walk must not panic, must never count
//! more than its budget, and must refuse anything that inflates past it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yizhan_node::inflate::Budget;

/// Small, so that the fuzzer spends its time in the walk, not in inflating.
const BUDGET: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    for check in [Budget::check, Budget::check_sync_message] {
        let mut budget = Budget::new(BUDGET);
        let _ = check(&mut budget, data);
        assert!(budget.left() <= BUDGET);
    }
    // The same bytes behind Automerge's magic bytes reach the chunk walk more often.
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83];
    chunk.extend(data);
    let mut budget = Budget::new(BUDGET);
    let _ = budget.check(&chunk);
    assert!(budget.left() <= BUDGET);
});
