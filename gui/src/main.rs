//! The `yizhan` binary: the command line (and, with issue #4, the station window).
//!
//! Every command prints its result on stdout (`--json` for machine-readable output) and exits 0,
//! or prints one line `error: …` on stderr and exits non-zero. See DESIGN.md section 8 for the
//! contract the tests rely on.

mod cli;
mod netcmd;
mod output;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Automerge logs its own errors for documents it cannot load; the command reports those once,
    // in its one-line error, so its logging is off unless asked for. iroh warns about every
    // connection a peer closes while it is being accepted, which is routine when sessions end.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("YIZHAN_LOG")
                .unwrap_or_else(|_| "warn,automerge=off,iroh::protocol=error".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    match cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, the whole chain of causes, never a backtrace.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
