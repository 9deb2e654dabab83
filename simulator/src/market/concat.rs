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

/// What joining needs of one file: where it came from, its kind, its first
/// and last time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PartSpan {
    pub source: String,
    pub kind: MarketKind,
    pub first_ms: i64,
    pub last_ms: i64,
}

/// How one symbol's files join: their order (indexes of the spans given),
/// the gaps between them, and the joined series' source label.
#[derive(Debug)]
pub(super) struct JoinPlan {
    pub order: Vec<usize>,
    pub gaps: Vec<MarketGap>,
    pub source: String,
}

/// Plans the join of one symbol's files (`symbol`, canonical): sorted by
/// first time, checked pairwise (same kind, no overlap), gaps against the
/// usual step between bars, which `steps` gives for files in the order
/// given (at most 100,000 steps, within files; called only for several
/// files of bars).
pub(super) fn plan(
    symbol: &str,
    spans: &[PartSpan],
    steps: impl FnOnce(&[usize]) -> Result<Vec<i64>, InputError>,
) -> Result<JoinPlan, InputError> {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| spans[i].first_ms);
    let first = &spans[order[0]];
    let step = if order.len() > 1 && first.kind == MarketKind::Bars {
        usual_step(steps(&order)?)
    } else {
        None
    };
    let mut gaps = Vec::new();
    let (mut last, mut last_file) = (first.last_ms, first.source.as_str());
    for &i in &order[1..] {
        let next = &spans[i];
        check_pair(first.kind, last, last_file, next)?;
        if step.is_some_and(|step| next.first_ms - last > step) {
            gaps.push(MarketGap {
                symbol: symbol.to_string(),
                before: last_file.to_string(),
                after: next.source.clone(),
                from_ms: last,
                to_ms: next.first_ms,
            });
        }
        (last, last_file) = (next.last_ms, next.source.as_str());
    }
    let source = if order.len() > 1 {
        format!("{} … {last_file} ({} files)", first.source, order.len())
    } else {
        first.source.clone()
    };
    Ok(JoinPlan {
        order,
        gaps,
        source,
    })
}

/// Joins `parts` (one symbol's files, each non-empty) into one series:
/// the series and the gaps between its files.
pub fn join(parts: Vec<MarketSeries>) -> Result<(MarketSeries, Vec<MarketGap>), InputError> {
    let spans: Vec<PartSpan> = parts.iter().map(span).collect();
    let plan = plan(&parts[0].symbol, &spans, |order| {
        Ok(order
            .iter()
            .flat_map(|&i| {
                parts[i]
                    .bars
                    .windows(2)
                    .map(|w| w[1].time_ms - w[0].time_ms)
            })
            .take(STEPS)
            .collect())
    })?;
    let mut parts: Vec<Option<MarketSeries>> = parts.into_iter().map(Some).collect();
    let mut joined = parts[plan.order[0]]
        .take()
        .unwrap_or_else(|| unreachable!());
    for &i in &plan.order[1..] {
        if let Some(next) = parts[i].take() {
            joined.bars.extend_from_slice(&next.bars);
        }
    }
    joined.source = plan.source;
    Ok((joined, plan.gaps))
}

/// Steps read to find the usual one.
pub(super) const STEPS: usize = 100_000;

fn span(s: &MarketSeries) -> PartSpan {
    PartSpan {
        source: s.source.clone(),
        kind: s.kind,
        first_ms: s.bars.first().map_or(i64::MIN, |b| b.time_ms),
        last_ms: s.bars.last().map_or(i64::MIN, |b| b.time_ms),
    }
}

/// `next` may follow files of `kind` whose last time is `last`: same kind,
/// and starting after it ends (bars: strictly; trades: at or after its last
/// trade). `last_file` is the file before, for messages.
fn check_pair(
    kind: MarketKind,
    last: i64,
    last_file: &str,
    next: &PartSpan,
) -> Result<(), InputError> {
    if kind != next.kind {
        return Err(InputError::file(
            &next.source,
            format!(
                "{} holds {:?} but {} holds {:?}: one symbol's files must be all bars or all trades",
                next.source, next.kind, last_file, kind
            ),
        ));
    }
    let first = next.first_ms;
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

/// The most common of `steps`.
fn usual_step(mut steps: Vec<i64>) -> Option<i64> {
    steps.sort_unstable();
    steps
        .chunk_by(|a, b| a == b)
        .max_by_key(|run| run.len())
        .map(|run| run[0])
}
