//! Small measuring helpers: timers, percentiles, the process's memory and CPU time, and a
//! read-only look at a node's store file.

use std::time::Instant;

/// Runs `f` and returns its result and its duration in milliseconds.
pub fn time_ms<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64() * 1e3)
}

/// Summary of a sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Smallest.
    pub min: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 90th percentile (nearest rank).
    pub p90: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// The nearest-rank percentile of sorted samples.
fn rank(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[k.clamp(1, sorted.len()) - 1]
}

/// Summarises samples.
pub fn summarize(samples: &[f64]) -> Summary {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    Summary {
        n: s.len(),
        min: s.first().copied().unwrap_or(f64::NAN),
        p50: rank(&s, 50.0),
        p90: rank(&s, 90.0),
        p99: rank(&s, 99.0),
        max: s.last().copied().unwrap_or(f64::NAN),
        mean: if s.is_empty() {
            f64::NAN
        } else {
            s.iter().sum::<f64>() / s.len() as f64
        },
    }
}

/// Resident memory of this process: (VmRSS, VmHWM) in MiB, from `/proc/self/status`.
pub fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The peak resident memory of this process (VmHWM), MiB.
pub(crate) fn hwm_mib() -> f64 {
    memory_mib().1
}

/// CPU time (user + system) in ms from a `/proc/.../stat` file, at the usual 100 ticks/s.
fn stat_cpu_ms(path: &str) -> f64 {
    parse_stat_cpu_ms(&std::fs::read_to_string(path).unwrap_or_default())
}

fn parse_stat_cpu_ms(text: &str) -> f64 {
    // Fields after the command name (which may hold spaces): state is the first, utime the 12th.
    let rest: Vec<&str> = text
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let tick = |i: usize| rest.get(i).and_then(|v| v.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => (u + s) * 10.0,
        _ => f64::NAN,
    }
}

/// CPU time of the calling thread, ms (10 ms resolution).
pub(crate) fn thread_cpu_ms() -> f64 {
    stat_cpu_ms("/proc/thread-self/stat")
}

/// CPU time of the whole process, ms (10 ms resolution).
pub(crate) fn process_cpu_ms() -> f64 {
    stat_cpu_ms("/proc/self/stat")
}

/// A read-only connection on the store of the node whose data directory is `data`, for
/// measuring what it holds without opening the node (and without changing anything).
pub(crate) fn read_store(data: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    rusqlite::Connection::open_with_flags(
        data.join(yizhan_node::store::STORE_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = summarize(&v);
        assert_eq!(s.p50, 50.0);
        assert_eq!(s.p90, 90.0);
        assert_eq!(s.p99, 99.0);
        assert_eq!(s.max, 100.0);
        assert_eq!(summarize(&[3.0]).p99, 3.0);
    }

    #[test]
    fn reads_own_memory() {
        let (rss, hwm) = memory_mib();
        assert!(rss > 0.0 && hwm >= rss);
    }

    #[test]
    fn cpu_time_from_proc_stat() {
        let line = "123 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 30 0 0 20 0";
        assert_eq!(parse_stat_cpu_ms(line), 2800.0);
        assert!(parse_stat_cpu_ms("").is_nan());
        assert!(thread_cpu_ms() >= 0.0 && process_cpu_ms() >= thread_cpu_ms());
    }
}
