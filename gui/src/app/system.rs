//! The desktop around the window: the print queue (CUPS `lp`) and the system's PDF viewer
//! (`xdg-open`). Each runs as a child process on a short-lived thread whose answer — done, or
//! what went wrong in a clerk's words — arrives on a channel polled once per frame.

use super::Tr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{Receiver, channel};

/// Runs `f` on a named thread; its answer arrives on the returned channel.
fn in_background(
    name: &str,
    f: impl FnOnce() -> Result<String, String> + Send + 'static,
) -> Receiver<Result<String, String>> {
    let (tx, rx) = channel();
    let tx2 = tx.clone();
    if let Err(e) = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = tx.send(f());
        })
    {
        let _ = tx2.send(Err(e.to_string()));
    }
    rx
}

/// What `lp`'s failure means for a clerk: no print service at all, no printer set up, or what
/// `lp` said.
fn lp_error(stderr: &str, t: &Tr) -> String {
    let s = stderr.to_ascii_lowercase();
    if s.contains("no default destination")
        || s.contains("scheduler is not running")
        || s.contains("unable to connect")
        || s.contains("does not exist")
    {
        format!("{}（{}）", t.print_no_printer, stderr.trim())
    } else {
        format!("{}：{}", t.print_failed, stderr.trim())
    }
}

/// Sends a PDF to the default printer with `lp`.
pub fn print(path: PathBuf, t: &'static Tr) -> Receiver<Result<String, String>> {
    in_background("yizhan-print", move || {
        match Command::new("lp").arg("--").arg(&path).output() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(t.print_no_cups.to_string()),
            Err(e) => Err(format!("{}：{e}", t.print_failed)),
            Ok(out) if out.status.success() => Ok(format!(
                "{} {}",
                t.print_sent,
                String::from_utf8_lossy(&out.stdout).trim()
            )),
            Ok(out) => Err(lp_error(&String::from_utf8_lossy(&out.stderr), t)),
        }
    })
}

/// Opens a file with the desktop's viewer (`xdg-open`), without waiting for the viewer to close.
pub fn open(path: PathBuf, t: &'static Tr) -> Receiver<Result<String, String>> {
    in_background("yizhan-open", move || {
        match Command::new("xdg-open").arg(&path).spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(t.open_no_viewer.to_string()),
            Err(e) => Err(format!("{}：{e}", t.open_failed)),
            Ok(mut child) => {
                // xdg-open hands the file to the viewer and exits; its status says whether a
                // viewer was found.
                match child.wait() {
                    Ok(s) if s.success() => Ok(t.opened.to_string()),
                    Ok(_) => Err(t.open_no_viewer.to_string()),
                    Err(e) => Err(format!("{}：{e}", t.open_failed)),
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lp_failures_read_as_a_missing_printer_or_as_lp_said() {
        let t = &super::super::i18n::ZH;
        assert!(lp_error("lp: Error - No default destination.", t).starts_with(t.print_no_printer));
        assert!(
            lp_error("lp: Error - scheduler is not running.", t).starts_with(t.print_no_printer)
        );
        assert!(lp_error("lp: paper jam", t).starts_with(t.print_failed));
    }
}
