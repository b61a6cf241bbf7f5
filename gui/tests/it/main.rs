//! The `yizhan` package's tests, in one test binary (one link of the whole tree instead of one
//! per file): the window driven by label through egui_kittest on real stores, and the real
//! `yizhan` binary end to end (cargo builds it for these tests; `CARGO_BIN_EXE_yizhan`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
mod window_kit;

mod calendar;
mod cli;
mod dashboard;
mod demo_e2e;
mod durability;
mod notices;
mod progress_page;
mod settings;
mod start;
mod sync_e2e;
mod window;
mod window_clerk;
