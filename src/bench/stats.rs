//! Percentiles over latency samples and the aligned result table.

use std::fmt::Write as _;

/// The `p`-th percentile (0–100) of `sorted` (ascending), nearest-rank; 0 when empty.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let p = p.clamp(0.0, 100.0);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50, p99 and max of a set of samples (microseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// How many samples.
    pub count: usize,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Summary {
    /// Sort `samples` in place and summarise them.
    pub fn of(samples: &mut [u64]) -> Summary {
        samples.sort_unstable();
        Summary {
            count: samples.len(),
            p50: percentile(samples, 50.0),
            p99: percentile(samples, 99.0),
            max: samples.last().copied().unwrap_or(0),
        }
    }

    /// `p50 1.23 ms · p99 4.56 ms · max 7.89 ms`.
    pub fn millis(&self) -> String {
        format!(
            "p50 {} · p99 {} · max {}",
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// Microseconds as milliseconds with two decimals.
pub fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

/// Bytes as MiB (or KiB below 1 MiB) with one decimal.
pub fn bytes(b: u64) -> String {
    if b >= 1024 * 1024 {
        format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", b as f64 / 1024.0)
    }
}

/// Whether a figure met its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Met.
    Yes,
    /// Missed.
    No,
    /// No target (information only).
    Info,
}

impl Verdict {
    /// `Yes` when `ok`, else `No`.
    pub fn from(ok: bool) -> Verdict {
        if ok { Verdict::Yes } else { Verdict::No }
    }

    fn label(self) -> &'static str {
        match self {
            Verdict::Yes => "yes",
            Verdict::No => "NO",
            Verdict::Info => "-",
        }
    }
}

/// One line of the result table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// The measured figure, formatted.
    pub figure: String,
    /// The target, formatted (`-` when none).
    pub target: String,
    /// Met?
    pub verdict: Verdict,
}

impl Row {
    /// A row with a target.
    pub fn new(
        scenario: impl Into<String>,
        figure: impl Into<String>,
        target: &str,
        ok: bool,
    ) -> Row {
        Row {
            scenario: scenario.into(),
            figure: figure.into(),
            target: target.to_owned(),
            verdict: Verdict::from(ok),
        }
    }

    /// A row without a target.
    pub fn info(scenario: impl Into<String>, figure: impl Into<String>) -> Row {
        Row {
            scenario: scenario.into(),
            figure: figure.into(),
            target: "-".to_owned(),
            verdict: Verdict::Info,
        }
    }
}

/// Render `rows` as an aligned plain-text table (columns padded by character count).
pub fn render_table(rows: &[Row]) -> String {
    let header = ["scenario", "figure", "target", "met?"];
    let cells: Vec<[&str; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.scenario.as_str(),
                r.figure.as_str(),
                r.target.as_str(),
                r.verdict.label(),
            ]
        })
        .collect();
    let mut width = header.map(|h| h.chars().count());
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |out: &mut String, c: &[&str; 4]| {
        let mut s = String::new();
        for (i, (cell, w)) in c.iter().zip(width).enumerate() {
            if i > 0 {
                s.push_str(" | ");
            }
            s.push_str(cell);
            if i < 3 {
                s.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    let mut out = String::new();
    line(&mut out, &header);
    let sep: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(out, "{}", sep.join("-|-"));
    for c in &cells {
        line(&mut out, c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        // 99th of 10 samples is the largest: ceil(9.9) = 10.
        let ten: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 99.0), 10);
    }

    #[test]
    fn a_summary_sorts_its_samples() {
        let mut v = vec![5, 1, 4, 2, 3];
        let s = Summary::of(&mut v);
        assert_eq!(
            s,
            Summary {
                count: 5,
                p50: 3,
                p99: 5,
                max: 5
            }
        );
        assert_eq!(s.millis(), "p50 0.00 ms · p99 0.01 ms · max 0.01 ms");
        assert_eq!(ms(1500), "1.50 ms");
        assert_eq!(bytes(2048), "2.0 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn the_table_is_aligned_by_characters() {
        let rows = vec![
            Row::new("P1 ingest", "9 000 ev/s", "≥ 0.5 × B0", true),
            Row::new("P2 end to end", "p99 12.00 ms", "≤ 10 ms", false),
            Row::info("B0", "20 000 req/s"),
        ];
        let t = render_table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[0].starts_with("scenario      | figure       | target     | met?"));
        assert!(lines[2].ends_with("| yes"));
        assert!(lines[3].ends_with("| NO"));
        assert!(lines[4].ends_with("| -"));
        // Every separator sits at the same character column.
        let bars: Vec<Vec<usize>> = lines
            .iter()
            .filter(|l| !l.starts_with('-'))
            .map(|l| {
                l.chars()
                    .enumerate()
                    .filter(|(_, c)| *c == '|')
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        assert!(bars.windows(2).all(|w| w[0] == w[1]), "{t}");
    }
}
