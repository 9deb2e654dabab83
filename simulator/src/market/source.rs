//! Market data to replay without holding it: per symbol, its files as
//! cache files (read block by block) or bars in memory, with what the
//! engine needs to know before the first bar (kind, first and last time,
//! row count). [`MarketSource::readers`] gives one reader per symbol that
//! yields its bars in time order across its files.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alertgate_validator::symbol::normalize;

use super::cache::{BlockReader, CacheKey, CachedFile, MarketCache};
use super::concat::{self, PartSpan, STEPS};
use super::{parallel, read_series_as, Bar, MarketData, MarketFormat, MarketGap, MarketKind};
use crate::input::InputError;

/// One file of a symbol's data.
#[derive(Debug, Clone)]
pub enum Part<'a> {
    /// Read from the cache, block by block.
    Cached(CachedFile),
    /// Bars in memory (never empty).
    Memory(Cow<'a, [Bar]>),
}

/// One symbol's data: its files in time order.
#[derive(Debug, Clone)]
pub struct SourceSeries<'a> {
    /// Canonical `BASE/QUOTE`.
    pub symbol: String,
    /// The file(s) it came from, for messages.
    pub source: String,
    /// Bars or trades.
    pub kind: MarketKind,
    /// The files, in time order.
    pub parts: Vec<Part<'a>>,
    /// Rows over every part.
    pub rows: u64,
    /// The first and the last row's time, Unix ms.
    pub span_ms: (i64, i64),
}

/// Every symbol's data, sorted by symbol, and the gaps between files.
#[derive(Debug, Clone, Default)]
pub struct MarketSource<'a> {
    /// Sorted by `symbol`, one per symbol.
    pub series: Vec<SourceSeries<'a>>,
    /// Time missing between the files of one symbol.
    pub gaps: Vec<MarketGap>,
}

/// A file as loaded: its symbol, where it came from, and its part.
struct Loaded {
    symbol: String,
    span: PartSpan,
    part: Part<'static>,
}

impl MarketSource<'static> {
    /// Loads as [`MarketData::load_as`] does, through `cache` when given:
    /// a file whose cache passes its checks is not parsed (and not read
    /// until replayed); another is parsed and its cache written. Without a
    /// cache (or when writing it fails) the bars stay in memory.
    pub fn open(
        pairs: &[(String, PathBuf)],
        dirs: &[PathBuf],
        quotes: &[&str],
        format: MarketFormat,
        cache: Option<&MarketCache>,
    ) -> Result<MarketSource<'static>, InputError> {
        let files = super::market_files(pairs, dirs)?;
        let loaded = parallel::map_in_order(&files, |(raw, path)| {
            load_one(raw, path, quotes, format, cache)
        });
        let mut by_symbol: BTreeMap<String, Vec<Loaded>> = BTreeMap::new();
        for l in loaded {
            let l = l?;
            by_symbol.entry(l.symbol.clone()).or_default().push(l);
        }
        let mut source = MarketSource::default();
        for (symbol, parts) in by_symbol {
            let (series, gaps) = join(symbol, parts)?;
            source.series.push(series);
            source.gaps.extend(gaps);
        }
        Ok(source)
    }
}

impl<'a> MarketSource<'a> {
    /// The data of `market`, borrowed.
    pub fn borrowed(market: &'a MarketData) -> MarketSource<'a> {
        let series = market
            .series
            .iter()
            .map(|s| SourceSeries {
                symbol: s.symbol.clone(),
                source: s.source.clone(),
                kind: s.kind,
                rows: s.bars.len() as u64,
                span_ms: (
                    s.bars.first().map_or(0, |b| b.time_ms),
                    s.bars.last().map_or(0, |b| b.time_ms),
                ),
                parts: vec![Part::Memory(Cow::Borrowed(&s.bars))],
            })
            .collect();
        MarketSource {
            series,
            gaps: market.gaps.clone(),
        }
    }

    /// Index of a canonical symbol's series.
    pub fn index_of(&self, symbol: &str) -> Option<usize> {
        self.series
            .binary_search_by(|s| s.symbol.as_str().cmp(symbol))
            .ok()
    }

    /// Total rows across symbols.
    pub fn bar_count(&self) -> u64 {
        self.series.iter().map(|s| s.rows).sum()
    }

    /// One reader per series, in series order.
    pub fn readers(&self) -> Result<Vec<SeriesReader<'_>>, InputError> {
        self.series.iter().map(SeriesReader::new).collect()
    }

    /// Everything in memory (for tests and tools; a replay streams).
    pub fn to_data(&self) -> Result<MarketData, InputError> {
        let mut data = MarketData {
            series: Vec::new(),
            gaps: self.gaps.clone(),
        };
        for (s, mut reader) in self.series.iter().zip(self.readers()?) {
            let mut bars = Vec::with_capacity(s.rows.min(1 << 28) as usize);
            while let Some(bar) = reader.next_bar()? {
                bars.push(bar);
            }
            data.series.push(super::MarketSeries {
                symbol: s.symbol.clone(),
                source: s.source.clone(),
                kind: s.kind,
                bars,
            });
        }
        Ok(data)
    }
}

/// Reads one file: from its cache when that passes its checks, else
/// parsed (and cached, when a cache is given).
fn load_one(
    raw_symbol: &str,
    path: &Path,
    quotes: &[&str],
    format: MarketFormat,
    cache: Option<&MarketCache>,
) -> Result<Loaded, InputError> {
    let source = path.display().to_string();
    let symbol = normalize(raw_symbol, quotes)
        .map_err(|e| InputError::file(&source, format!("symbol {raw_symbol:?}: {e}")))?
        .as_str()
        .to_string();
    let key = cache.and_then(|c| Some((c, CacheKey::of(path, format).ok()?)));
    if let Some(file) = key.as_ref().and_then(|(c, k)| c.lookup(k)) {
        let h = file.header;
        return Ok(Loaded {
            symbol,
            span: PartSpan {
                source,
                kind: h.kind,
                first_ms: h.first_ms,
                last_ms: h.last_ms,
            },
            part: Part::Cached(file),
        });
    }
    let series = read_series_as(path, &symbol, format)?;
    let span = PartSpan {
        source,
        kind: series.kind,
        first_ms: series.bars[0].time_ms,
        last_ms: series.bars[series.bars.len() - 1].time_ms,
    };
    // A cache that cannot be written only costs the next run a parse.
    let part = match key.and_then(|(c, k)| c.store(&k, series.kind, &series.bars).ok()) {
        Some(file) => Part::Cached(file),
        None => Part::Memory(Cow::Owned(series.bars)),
    };
    Ok(Loaded { symbol, span, part })
}

/// One symbol's files joined ([`concat::plan`]).
fn join(
    symbol: String,
    parts: Vec<Loaded>,
) -> Result<(SourceSeries<'static>, Vec<MarketGap>), InputError> {
    let spans: Vec<PartSpan> = parts.iter().map(|p| p.span.clone()).collect();
    let plan = concat::plan(&symbol, &spans, |order| steps(&parts, order))?;
    let mut parts: Vec<Option<Loaded>> = parts.into_iter().map(Some).collect();
    let ordered: Vec<Loaded> = plan.order.iter().filter_map(|&i| parts[i].take()).collect();
    let rows = ordered.iter().map(|p| part_rows(&p.part)).sum();
    let span_ms = (
        ordered[0].span.first_ms,
        ordered[ordered.len() - 1].span.last_ms,
    );
    let series = SourceSeries {
        symbol,
        source: plan.source,
        kind: ordered[0].span.kind,
        rows,
        span_ms,
        parts: ordered.into_iter().map(|p| p.part).collect(),
    };
    Ok((series, plan.gaps))
}

fn part_rows(part: &Part<'_>) -> u64 {
    match part {
        Part::Cached(f) => f.header.rows,
        Part::Memory(bars) => bars.len() as u64,
    }
}

/// The first [`STEPS`] steps between consecutive rows within the parts, in
/// `order`.
fn steps(parts: &[Loaded], order: &[usize]) -> Result<Vec<i64>, InputError> {
    let mut steps = Vec::new();
    for &i in order {
        let mut reader = PartReader::new(&parts[i].part, &parts[i].span.source)?;
        let mut prev = None;
        while steps.len() < STEPS {
            let Some(bar) = reader.next_bar()? else { break };
            if let Some(p) = prev {
                steps.push(bar.time_ms - p);
            }
            prev = Some(bar.time_ms);
        }
    }
    Ok(steps)
}

/// One part's rows.
enum PartReader<'p> {
    Cached(BlockReader, &'p Path),
    Memory(std::slice::Iter<'p, Bar>),
}

impl<'p> PartReader<'p> {
    fn new(part: &'p Part<'_>, source: &str) -> Result<PartReader<'p>, InputError> {
        Ok(match part {
            Part::Cached(f) => PartReader::Cached(
                f.reader().map_err(|e| cache_error(&f.path, source, e))?,
                &f.path,
            ),
            Part::Memory(bars) => PartReader::Memory(bars.iter()),
        })
    }

    fn next_bar(&mut self) -> Result<Option<Bar>, InputError> {
        match self {
            PartReader::Cached(r, path) => r.next_bar().map_err(|e| cache_error(path, "", e)),
            PartReader::Memory(it) => Ok(it.next().copied()),
        }
    }
}

fn cache_error(path: &Path, source: &str, e: std::io::Error) -> InputError {
    let what = if source.is_empty() {
        String::new()
    } else {
        format!(" (of {source})")
    };
    InputError::file(
        &path.display().to_string(),
        format!("cannot read the market cache{what}: {e}; delete the file to rebuild it"),
    )
}

/// A series' rows in time order, across its parts; memory: one block per
/// cached part being read.
pub struct SeriesReader<'s> {
    parts: std::slice::Iter<'s, Part<'s>>,
    current: Option<PartReader<'s>>,
    source: &'s str,
}

impl<'s> SeriesReader<'s> {
    fn new(series: &'s SourceSeries<'_>) -> Result<SeriesReader<'s>, InputError> {
        // Parts borrow from the series for as long as the reader lives.
        let parts: &'s [Part<'s>] = shorten(&series.parts);
        Ok(SeriesReader {
            parts: parts.iter(),
            current: None,
            source: &series.source,
        })
    }

    /// The next row, `None` after the last.
    pub fn next_bar(&mut self) -> Result<Option<Bar>, InputError> {
        loop {
            if let Some(reader) = &mut self.current {
                if let Some(bar) = reader.next_bar()? {
                    return Ok(Some(bar));
                }
            }
            let Some(part) = self.parts.next() else {
                return Ok(None);
            };
            self.current = Some(PartReader::new(part, self.source)?);
        }
    }
}

/// `Part<'a>` is covariant in `'a`: a slice of them lives as `Part<'s>` for
/// any shorter `'s`.
fn shorten<'s, 'a: 's>(parts: &'s [Part<'a>]) -> &'s [Part<'s>] {
    parts
}
