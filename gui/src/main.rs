//! The `yizhan` binary: the command line (and, with issue #4, the station window).
//!
//! Every command prints its result on stdout (`--json` for machine-readable output) and exits 0,
//! or prints one line `error: …` on stderr and exits non-zero. See DESIGN.md section 8 for the
//! contract the tests rely on.

/// `println!` for a command's output: a reader that went away (`yizhan case list | head`) ends
/// the command quietly, as it does for other Unix tools, instead of a panic.
macro_rules! outln {
    () => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock()) {
            $crate::stdout_failed(e);
        }
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::stdout_failed(e);
        }
    }};
}

mod commands;
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
    match commands::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, the whole chain of causes, never a backtrace.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Ends the process when the output cannot be written: quietly when the reader closed the pipe,
/// with the one-line error otherwise.
fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write the output: {e}");
    std::process::exit(1);
}
