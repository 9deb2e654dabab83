//! Several files of one symbol (Binance ships a month or a day per file)
//! joined into one series, in time order. Nothing is merged silently: files
//! that overlap are refused, naming both, and a gap between two files
//! (more than a bar's usual step between one's last bar and the next one's
//! first) is reported ([`MarketGap`]) and kept as a gap.

use std::fmt;

use super::{MarketKind, MarketSeries};
use crate::input::InputError;

/// Time missing between two files of one symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketGap {
    /// Canonical `BASE/QUOTE`.
    pub symbol: String,
    /// The file before the gap.
    pub before: String,
    /// The file after it.
    pub after: String,
    /// The last bar's start before the gap, Unix ms.
    pub from_ms: i64,
    /// The first bar's start after it, Unix ms.
    pub to_ms: i64,
}

impl fmt::Display for MarketGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: no data between {} ({}) and {} ({}), {} ms",
            self.symbol,
            self.from_ms,
            self.before,
            self.to_ms,
            self.after,
            self.to_ms - self.from_ms
        )
    }
}

/// Joins `parts` (one symbol's files, each non-empty) into one series:
/// the series and the gaps between its files.
pub fn join(mut parts: Vec<MarketSeries>) -> Result<(MarketSeries, Vec<MarketGap>), InputError> {
    parts.sort_by_key(|p| p.bars[0].time_ms);
    let files = parts.len();
    let step = usual_step(&parts);
    let mut gaps = Vec::new();
    let mut joined = parts.remove(0);
    let first_file = joined.source.clone();
    let mut last_file = joined.source.clone();
    for next in parts {
        check_pair(&joined, &last_file, &next)?;
        let (last, first) = (last_time(&joined), next.bars[0].time_ms);
        if step.is_some_and(|step| first - last > step) {
            gaps.push(MarketGap {
                symbol: joined.symbol.clone(),
                before: last_file.clone(),
                after: next.source.clone(),
                from_ms: last,
                to_ms: first,
            });
        }
        joined.bars.extend_from_slice(&next.bars);
        last_file = next.source;
    }
    if files > 1 {
        joined.source = format!("{first_file} … {last_file} ({files} files)");
    }
    Ok((joined, gaps))
}

/// `next` may follow `joined`: same kind, and starting after it ends
/// (bars: strictly; trades: at or after its last trade).
/// `last_file` is `joined`'s last file, for messages.
fn check_pair(
    joined: &MarketSeries,
    last_file: &str,
    next: &MarketSeries,
) -> Result<(), InputError> {
    if joined.kind != next.kind {
        return Err(InputError::file(
            &next.source,
            format!(
                "{} holds {:?} but {} holds {:?}: one symbol's files must be all bars or all trades",
                next.source,
                next.kind,
                last_file,
                joined.kind
            ),
        ));
    }
    let (last, first) = (last_time(joined), next.bars[0].time_ms);
    let overlaps = match next.kind {
        MarketKind::Bars => first <= last,
        MarketKind::Trades => first < last,
    };
    if overlaps {
        return Err(InputError::file(
            &next.source,
            format!(
                "overlaps {}: its first time {first} is not after that file's last {last}; \
                 remove one of them (files of one symbol are joined, never merged)",
                last_file
            ),
        ));
    }
    Ok(())
}

/// The most common step between consecutive bars of the files (bars only;
/// trades have none).
fn usual_step(parts: &[MarketSeries]) -> Option<i64> {
    if parts.first()?.kind != MarketKind::Bars {
        return None;
    }
    let mut steps: Vec<i64> = parts
        .iter()
        .flat_map(|p| p.bars.windows(2).map(|w| w[1].time_ms - w[0].time_ms))
        .take(100_000)
        .collect();
    steps.sort_unstable();
    steps
        .chunk_by(|a, b| a == b)
        .max_by_key(|run| run.len())
        .map(|run| run[0])
}

fn last_time(s: &MarketSeries) -> i64 {
    s.bars.last().map_or(i64::MIN, |b| b.time_ms)
}
