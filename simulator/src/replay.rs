//! `alertgate replay`: loads the configuration, the alert stream and the
//! market data, runs the engine ([`crate::engine`]), and writes the report.
//!
//! The command line (the root package's `replay` module) parses its
//! arguments into a [`ReplayOptions`] and calls [`replay()`]. Inputs come
//! from the options or, failing that, from the configuration's
//! `[simulation]` section (paths relative to the file). Without `--config`,
//! `--stream`, `--market` or `--market-dir`, the bundled sample
//! [`SAMPLE_CONFIG`] is replayed.
//!
//! `--sweep KEY=V1,V2,..` ([`parse_sweep`], repeatable) replays the grid of every combination
//! in parallel, one run per combination with the same seed, and prints one
//! comparison row each. `KEY` is a dotted path into the configuration file;
//! a path that does not start with a section name (`auth`, `policy`,
//! `replay`, `rate`, `network`, `simulation`) is read under `simulation`, so
//! `latency.order_ms=0,50` sets `[simulation.latency] order_ms`. Each value
//! is read as TOML (`0.6`, `true`, `"text"`), else taken as a string.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::config::{ConfigFileError, Settings, SimulationSection};
use crate::engine::{self, ReplayError};
use crate::html;
use crate::import::{tradingview_trades, ChartZone, ImportError, TradeList};
use crate::market::{MarketCache, MarketFormat, MarketSource};
use crate::report::{Report, Summary, TradingViewComparison};
use crate::stream::AlertStream;

/// The bundled sample's configuration, relative to the repository root.
pub const SAMPLE_CONFIG: &str = "examples/replay/alertgate.toml";

/// What `alertgate replay` is asked to do: the inputs, the outputs and the
/// sweep (the command line's `ReplayArgs`, parsed). Every field is optional:
/// the configuration's `[simulation]` section fills in what is not given.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Configuration file with a `[simulation]` section. `None`: the bundled
    /// sample ([`SAMPLE_CONFIG`]) when no inputs are given either, built-in
    /// defaults otherwise.
    pub config: Option<PathBuf>,
    /// Recorded alert stream, JSON Lines (`None`: `simulation.stream`).
    pub stream: Option<PathBuf>,
    /// Market data files, `(symbol, CSV bars or trades)`. With `market_dir`,
    /// replaces `simulation.market` and `simulation.market_dir`; both empty:
    /// those are used.
    pub market: Vec<(String, PathBuf)>,
    /// Directories of market files (`BTC-USDT.csv`,
    /// `BTCUSDT-1m-2024-01.zip`).
    pub market_dir: Vec<PathBuf>,
    /// The format of every market file: detected or forced; `None`:
    /// `simulation.market_format` (detected by default).
    pub market_format: Option<MarketFormat>,
    /// Where market files are cached; `None`: `simulation.cache_dir`, else
    /// [`MarketCache::default_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Neither read nor write the market cache (every file is parsed, and
    /// held in memory).
    pub no_cache: bool,
    /// Seed of every random draw, overriding `simulation.seed` (also in every
    /// sweep row).
    pub seed: Option<u64>,
    /// Where to write the report as JSON (with a sweep: every row).
    pub json: Option<PathBuf>,
    /// Where to write the report as a self-contained HTML page (one run
    /// only).
    pub html: Option<PathBuf>,
    /// Where to write every closed trade as CSV (one run only).
    pub trades: Option<PathBuf>,
    /// Sweep axes ([`parse_sweep`]); empty: one run.
    pub sweep: Vec<SweepAxis>,
    /// TradingView's "List of trades" export the stream was imported from,
    /// whose net P&L the report puts beside the replay's (`None`:
    /// `simulation.tradingview_trades`, if any).
    pub tradingview_trades: Option<PathBuf>,
    /// The export's chart time zone (`None`: `simulation.tradingview_tz`,
    /// else UTC).
    pub tradingview_tz: Option<String>,
    /// Say on stderr how long each phase took (see [`Timings`]).
    pub timings: bool,
}

/// Wall-clock time of each phase of one `replay` (`--timings`), so that a
/// user (or a benchmark) can see what a run waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Reading the configuration and the alert stream, and opening the
    /// market data: parsing each file not in the cache, checking each
    /// cache that is.
    pub load: Duration,
    /// The replay itself: the gate on every alert, the bars read (from
    /// the cache, if any) and replayed, the exchange, the report's figures;
    /// for a sweep, every row.
    pub run: Duration,
    /// Writing the files asked for and the table.
    pub report: Duration,
}

impl fmt::Display for Timings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "timings: load {:.1} ms, run {:.1} ms, report {:.1} ms",
            ms(self.load),
            ms(self.run),
            ms(self.report)
        )
    }
}

/// One `--sweep` axis.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepAxis {
    /// As written (`latency.order_ms`).
    pub key: String,
    /// Full path into the configuration (`simulation.latency.order_ms`).
    pub path: Vec<String>,
    /// Values, in order.
    pub values: Vec<toml::Value>,
}

/// A `--sweep` value that is not `KEY=V1,V2,..`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SweepAxisError {
    /// No `=`.
    #[error("{text:?} is not KEY=V1,V2 (latency.order_ms=0,50,250)")]
    NotKeyValues {
        /// The value, as given.
        text: String,
    },
    /// The key is empty or has an empty part (`a..b`).
    #[error("{key:?} is not a dotted setting name")]
    NotADottedName {
        /// The key.
        key: String,
    },
    /// One of the values is empty (`1,,2`).
    #[error("{text:?} has an empty value")]
    EmptyValue {
        /// The value, as given.
        text: String,
    },
}

/// A setting path that cannot be set in a configuration table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingPathError {
    /// No name at all.
    #[error("empty setting name")]
    Empty,
    /// A part of the path is a value, not a table (`simulation.seed.x`).
    #[error("{path} is not a table")]
    NotATable {
        /// The path up to that value, dotted.
        path: String,
    },
}

const SECTIONS: [&str; 6] = ["auth", "policy", "replay", "rate", "network", "simulation"];

/// Parses `KEY=V1,V2,..`.
pub fn parse_sweep(text: &str) -> Result<SweepAxis, SweepAxisError> {
    let (key, values) = text
        .split_once('=')
        .ok_or_else(|| SweepAxisError::NotKeyValues { text: text.into() })?;
    let mut path: Vec<String> = key.split('.').map(str::to_string).collect();
    if key.is_empty() || path.iter().any(String::is_empty) {
        return Err(SweepAxisError::NotADottedName { key: key.into() });
    }
    if !SECTIONS.contains(&path[0].as_str()) {
        path.insert(0, "simulation".into());
    }
    let values: Vec<toml::Value> = values
        .split(',')
        .map(|v| {
            let v = v.trim();
            let value = toml::from_str::<toml::Table>(&format!("v = {v}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(v.to_string()));
            // A decimal setting's float is kept as its text, read exactly.
            crate::config::sweep_value(&path, v, value)
        })
        .collect();
    if values.iter().any(|v| v.as_str() == Some("")) {
        return Err(SweepAxisError::EmptyValue { text: text.into() });
    }
    Ok(SweepAxis {
        key: key.to_string(),
        path,
        values,
    })
}

/// Sets `path` in `table` to `value`, creating tables on the way.
fn assign(
    table: &mut toml::Table,
    path: &[String],
    value: toml::Value,
) -> Result<(), SettingPathError> {
    let (last, parents) = path.split_last().ok_or(SettingPathError::Empty)?;
    let mut t = table;
    for (i, p) in parents.iter().enumerate() {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| SettingPathError::NotATable {
                path: path[..=i].join("."),
            })?;
    }
    t.insert(last.clone(), value);
    Ok(())
}

/// Everything loaded once and shared by every run of a sweep.
pub struct Inputs {
    /// Where the configuration came from (for messages), if a file.
    pub config_path: Option<PathBuf>,
    /// The configuration as parsed TOML (sweeps edit copies of it).
    pub table: toml::Table,
    /// The checked configuration, with `--seed` applied.
    pub settings: Settings,
    /// `--seed`, which also overrides every sweep row's seed.
    pub seed_override: Option<u64>,
    /// Relative paths of the configuration are anchored here.
    pub base_dir: PathBuf,
    /// The stream and its name.
    pub stream: AlertStream,
    /// The stream's file, for messages.
    pub stream_name: String,
    /// Market data, streamed from the cache (or memory) by each run.
    pub market: MarketSource<'static>,
    /// The TradingView export to compare with, read.
    pub tradingview: Option<TradeList>,
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// The configuration file to read: `--config`, else the bundled sample when
/// no input is given at all.
fn config_path(options: &ReplayOptions) -> Result<Option<PathBuf>, ReplayError> {
    let no_inputs =
        options.stream.is_none() && options.market.is_empty() && options.market_dir.is_empty();
    match &options.config {
        Some(p) => Ok(Some(p.clone())),
        None if no_inputs => {
            let sample = PathBuf::from(SAMPLE_CONFIG);
            if !sample.is_file() {
                return Err(ReplayError::NothingToReplay {
                    sample: SAMPLE_CONFIG,
                });
            }
            Ok(Some(sample))
        }
        None => Ok(None),
    }
}

/// The file at `path` as a table (decimal settings kept as their text, so
/// that sweeps read them exactly too), checked, and its directory.
fn read_config(path: &Path) -> Result<(toml::Table, Settings, PathBuf), ReplayError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: origin.clone(),
        source,
    })?;
    let settings = Settings::from_toml(&text, &origin, env)?;
    // from_toml just parsed the same text.
    let mut table: toml::Table = toml::from_str(&text).unwrap_or_default();
    crate::config::keep_decimal_literals(&mut table, &text).map_err(|e| {
        ConfigFileError::Parse {
            path: origin,
            message: e.message().to_string(),
        }
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((table, settings, base))
}

/// `(symbol, file)` pairs of market data.
type MarketFiles = Vec<(String, PathBuf)>;

/// The market data's files and directories: the options', else the
/// configuration's (relative to `base_dir`).
fn market_paths(
    options: &ReplayOptions,
    sim: &SimulationSection,
    base_dir: &Path,
) -> Result<(MarketFiles, Vec<PathBuf>), ReplayError> {
    let (pairs, dirs): (MarketFiles, Vec<PathBuf>) =
        if options.market.is_empty() && options.market_dir.is_empty() {
            (
                sim.market
                    .iter()
                    .map(|(s, p)| (s.clone(), base_dir.join(p)))
                    .collect(),
                sim.market_dir.iter().map(|d| base_dir.join(d)).collect(),
            )
        } else {
            (options.market.clone(), options.market_dir.clone())
        };
    if pairs.is_empty() && dirs.is_empty() {
        return Err(ReplayError::NoMarketData);
    }
    Ok((pairs, dirs))
}

/// The TradingView export to compare with, if one is given: read, and
/// with a P&L column.
fn tradingview_list(
    options: &ReplayOptions,
    sim: &SimulationSection,
    base_dir: &Path,
) -> Result<Option<TradeList>, ReplayError> {
    let path = match (&options.tradingview_trades, &sim.tradingview_trades) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => base_dir.join(p),
        (None, None) => return Ok(None),
    };
    let tz = (options.tradingview_tz.as_deref())
        .or(sim.tradingview_tz.as_deref())
        .unwrap_or("UTC");
    let list = tradingview_trades::read(&path, &ChartZone::new(tz)?)?;
    if list.net_pnl.is_none() {
        return Err(ImportError::NoProfitColumn {
            file: path.display().to_string(),
        }
        .into());
    }
    Ok(Some(list))
}

/// The market cache to use: none with `no_cache`, else `--cache-dir`,
/// `simulation.cache_dir` (relative to the configuration) or the default
/// directory.
fn market_cache(
    options: &ReplayOptions,
    sim: &SimulationSection,
    base_dir: &Path,
) -> Option<MarketCache> {
    if options.no_cache {
        return None;
    }
    let configured = sim.cache_dir.as_ref().map(|d| base_dir.join(d));
    options
        .cache_dir
        .clone()
        .or(configured)
        .or_else(MarketCache::default_dir)
        .map(MarketCache::new)
}

impl Inputs {
    /// Loads the configuration and the data `options` name.
    pub fn load(options: &ReplayOptions) -> Result<Inputs, ReplayError> {
        let config_path = config_path(options)?;
        let (table, mut settings, base_dir) = match &config_path {
            Some(path) => read_config(path)?,
            None => (toml::Table::new(), Settings::defaults(), PathBuf::new()),
        };
        if let Some(seed) = options.seed {
            settings.simulation.seed = seed;
        }
        let sim = &settings.simulation;
        let stream_path = match (&options.stream, &sim.stream) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => base_dir.join(p),
            (None, None) => return Err(ReplayError::NoStream),
        };
        let (pairs, dirs) = market_paths(options, sim, &base_dir)?;
        let quotes: Vec<&str> = settings.gate.quotes.iter().map(String::as_str).collect();
        let format = options.market_format.unwrap_or(sim.market_format);
        let cache = market_cache(options, sim, &base_dir);
        // The stream is read on a second core while the market loads; a
        // market error still comes first, as when they were read in turn.
        let (market, stream) = std::thread::scope(|scope| {
            let stream = scope.spawn(|| AlertStream::read(&stream_path));
            let market = MarketSource::open(&pairs, &dirs, &quotes, format, cache.as_ref());
            let stream = stream
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (market, stream)
        });
        let (market, stream) = (market?, stream?);
        let tradingview = tradingview_list(options, sim, &base_dir)?;
        Ok(Inputs {
            config_path,
            table,
            settings,
            seed_override: options.seed,
            base_dir,
            stream,
            stream_name: stream_path.display().to_string(),
            market,
            tradingview,
        })
    }

    /// Runs once with `settings`.
    pub fn run(
        &self,
        settings: &Settings,
        progress: Option<engine::Progress<'_>>,
    ) -> Result<Report, ReplayError> {
        let hooks = engine::Hooks {
            progress,
            bars: None,
        };
        self.run_with(settings, hooks)
    }

    /// [`Inputs::run`] with `hooks`: progress, and every bar of every
    /// symbol shown to an [`engine::BarObserver`] in replay order.
    pub fn run_with(
        &self,
        settings: &Settings,
        hooks: engine::Hooks<'_>,
    ) -> Result<Report, ReplayError> {
        let result = engine::run_source(
            (&self.stream, &self.stream_name),
            &self.market,
            &settings.gate,
            &settings.simulation,
            &self.base_dir,
            hooks,
        )?;
        Ok(Report::new(&result, settings.simulation.seed))
    }
}

/// One row of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    /// `(key, value)` of each axis.
    pub assignments: Vec<(String, String)>,
    /// The run's figures.
    pub summary: Summary,
}

/// Every combination of the axes' values, first axis slowest.
pub fn grid(axes: &[SweepAxis]) -> Vec<Vec<usize>> {
    let mut combos = vec![Vec::new()];
    for axis in axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                (0..axis.values.len()).map(move |i| {
                    let mut c = c.clone();
                    c.push(i);
                    c
                })
            })
            .collect();
    }
    combos
}

fn show(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs every combination of `axes` on `threads` threads; rows come back in
/// grid order whatever order they finish in.
pub fn sweep(
    inputs: &Inputs,
    axes: &[SweepAxis],
    threads: usize,
) -> Result<Vec<SweepRow>, ReplayError> {
    let combos = grid(axes);
    // Check every combination's configuration before spending time on runs.
    let settings = combos
        .iter()
        .map(|combo| combination_settings(inputs, axes, combo))
        .collect::<Result<Vec<Settings>, ReplayError>>()?;
    let summaries = run_all(inputs, &settings, threads)?;
    combos
        .iter()
        .zip(summaries)
        .map(|(combo, slot)| {
            let summary = slot.ok_or(ReplayError::SweepRunUnfinished)??;
            Ok(SweepRow {
                assignments: axes
                    .iter()
                    .zip(combo)
                    .map(|(a, &i)| (a.key.clone(), show(&a.values[i])))
                    .collect(),
                summary,
            })
        })
        .collect()
}

/// The checked configuration of one combination (`combo[k]` indexes the
/// values of `axes[k]`), with `--seed` applied.
fn combination_settings(
    inputs: &Inputs,
    axes: &[SweepAxis],
    combo: &[usize],
) -> Result<Settings, ReplayError> {
    let origin = inputs
        .config_path
        .as_ref()
        .map_or("built-in defaults".to_string(), |p| p.display().to_string());
    let mut table = inputs.table.clone();
    for (axis, &i) in axes.iter().zip(combo) {
        assign(&mut table, &axis.path, axis.values[i].clone()).map_err(|source| {
            ReplayError::SweepSetting {
                key: axis.key.clone(),
                source,
            }
        })?;
    }
    let mut settings = Settings::from_table(table, &origin, env).map_err(|source| {
        let label: Vec<String> = axes
            .iter()
            .zip(combo)
            .map(|(a, &i)| format!("{}={}", a.key, show(&a.values[i])))
            .collect();
        ReplayError::SweepConfig {
            combination: label.join(" "),
            source,
        }
    })?;
    if let Some(seed) = inputs.seed_override {
        settings.simulation.seed = seed;
    }
    Ok(settings)
}

/// A run's outcome; `None` if it never ran.
type RunSlot = Option<Result<Summary, ReplayError>>;

/// Runs once per `settings` on up to `threads` threads, with a progress
/// bar; each run's outcome in the order of `settings`.
fn run_all(
    inputs: &Inputs,
    settings: &[Settings],
    threads: usize,
) -> Result<Vec<RunSlot>, ReplayError> {
    let bar = progress_bar(settings.len() as u64, "runs");
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<RunSlot>> = Mutex::new((0..settings.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, settings.len().max(1)) {
            let spawned = std::thread::Builder::new().spawn_scoped(scope, || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(s) = settings.get(i) else { break };
                let summary = inputs.run(s, None).map(|r| r.summary);
                if let Ok(mut slots) = results.lock() {
                    slots[i] = Some(summary);
                }
                bar.inc(1);
            });
            if spawned.is_err() {
                break;
            }
        }
    });
    bar.finish_and_clear();
    results
        .into_inner()
        .map_err(|_| ReplayError::SweepWorkerPanicked)
}

/// The comparison table of a sweep.
pub fn sweep_table(rows: &[SweepRow]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let Some(first) = rows.first() else {
        return out;
    };
    let keys: Vec<&str> = first.assignments.iter().map(|(k, _)| k.as_str()).collect();
    let widths: Vec<usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            rows.iter()
                .map(|r| r.assignments[i].1.len())
                .chain([k.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (k, w) in keys.iter().zip(&widths) {
        let _ = write!(out, "{k:<w$}  ");
    }
    let _ = writeln!(
        out,
        "{:>8} {:>8} {:>6} {:>9} {:>8} {:>7} {:>9} {:>9}",
        "accepted", "rejected", "trades", "return%", "maxDD%", "sharpe", "fees", "order p99"
    );
    for r in rows {
        for ((_, v), w) in r.assignments.iter().zip(&widths) {
            let _ = write!(out, "{v:<w$}  ");
        }
        let s = &r.summary;
        let _ = writeln!(
            out,
            "{:>8} {:>8} {:>6} {:>9.2} {:>8.2} {:>7} {:>9.2} {:>9}",
            s.alerts.accepted,
            s.alerts.rejected,
            s.trades,
            s.return_pct,
            s.max_drawdown_pct,
            s.sharpe.map_or("—".into(), |v| format!("{v:.2}")),
            s.fees_paid,
            s.latency_ms.get("order").map_or(0, |l| l.p99)
        );
    }
    out
}

/// A progress bar on stderr; draws nothing when stderr is not a terminal.
fn progress_bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {unit} ({{eta}})"
    )) {
        bar.set_style(style);
    }
    bar
}

fn write_file(path: &Path, text: &str) -> Result<(), ReplayError> {
    std::fs::write(path, text).map_err(|source| ReplayError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Runs the command; returns what to print on stdout. With
/// `options.timings`, also says on stderr how long each phase took.
pub fn replay(options: &ReplayOptions) -> Result<String, ReplayError> {
    let mut timings = Timings::default();
    let out = replay_timed(options, &mut timings)?;
    if options.timings {
        eprintln!("{timings}");
    }
    Ok(out)
}

/// [`replay`], recording the phases' times in `timings`.
fn replay_timed(options: &ReplayOptions, timings: &mut Timings) -> Result<String, ReplayError> {
    let started = Instant::now();
    let inputs = Inputs::load(options)?;
    timings.load = started.elapsed();
    let started = Instant::now();
    if !options.sweep.is_empty() {
        if options.html.is_some() || options.trades.is_some() {
            return Err(ReplayError::OneRunOutputWithSweep);
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let rows = sweep(&inputs, &options.sweep, threads)?;
        timings.run = started.elapsed();
        let started = Instant::now();
        if let Some(path) = &options.json {
            let mut text = serde_json::to_string_pretty(&rows).map_err(ReplayError::Json)?;
            text.push('\n');
            write_file(path, &text)?;
        }
        let table = sweep_table(&rows) + &gap_notes(&inputs.market);
        timings.report = started.elapsed();
        return Ok(table);
    }

    let total = inputs.stream.requests.len() as u64 + inputs.market.bar_count();
    let bar = progress_bar(total, "events");
    let mut report = inputs.run(&inputs.settings, Some(&|done| bar.set_position(done)))?;
    bar.finish_and_clear();
    timings.run = started.elapsed();
    let started = Instant::now();
    if let Some(list) = &inputs.tradingview {
        let net = list.net_pnl.unwrap_or_default();
        let tv = TradingViewComparison::new(net, list.closed_trades, list.open_trades, &report);
        report.summary.tradingview = Some(tv);
    }
    if let Some(path) = &options.json {
        write_file(path, &report.to_json())?;
    }
    if let Some(path) = &options.trades {
        let csv = report.trades_csv().map_err(ReplayError::Csv)?;
        write_file(path, &csv)?;
    }
    if let Some(path) = &options.html {
        let title = format!("alertgate replay — {}", inputs.stream_name);
        write_file(path, &html::page(&report, &title))?;
    }
    let table = report.table() + &gap_notes(&inputs.market);
    timings.report = started.elapsed();
    Ok(table)
}

/// The gaps between the files of one symbol, said after the report (they
/// are kept as gaps: no bar is invented).
fn gap_notes(market: &MarketSource<'_>) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if !market.gaps.is_empty() {
        out.push_str("\nmarket data gaps between files (kept as gaps):\n");
        for gap in &market.gaps {
            let _ = writeln!(out, "  {gap}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_axes_parse_and_default_to_simulation() {
        let a = parse_sweep("latency.order_ms=0,50,250").unwrap();
        assert_eq!(a.path, ["simulation", "latency", "order_ms"]);
        assert_eq!(
            a.values,
            [
                toml::Value::Integer(0),
                toml::Value::Integer(50),
                toml::Value::Integer(250)
            ]
        );
        let b = parse_sweep("policy.min_confidence=0.6,0.7").unwrap();
        assert_eq!(b.path, ["policy", "min_confidence"]);
        // Decimal settings keep their text (read exactly); other floats
        // are floats.
        assert_eq!(b.values[1], toml::Value::String("0.7".into()));
        let q = parse_sweep("policy.max_quantity=0.99999999999999999,\"2\",3,+1_0.5").unwrap();
        assert_eq!(
            q.values,
            [
                toml::Value::String("0.99999999999999999".into()),
                toml::Value::String("2".into()),
                toml::Value::Integer(3),
                toml::Value::String("10.5".into()),
            ]
        );
        let f = parse_sweep("taker_fee_bps=0.5").unwrap();
        assert_eq!(f.values, [toml::Value::Float(0.5)]);
        let c = parse_sweep("auth.scheme=none,hex-body").unwrap();
        assert_eq!(c.values[1], toml::Value::String("hex-body".into()));
        assert_eq!(
            parse_sweep("nothing").unwrap_err(),
            SweepAxisError::NotKeyValues {
                text: "nothing".into()
            }
        );
        assert_eq!(
            parse_sweep("nothing").unwrap_err().to_string(),
            "\"nothing\" is not KEY=V1,V2 (latency.order_ms=0,50,250)"
        );
        assert_eq!(
            parse_sweep("a..b=1").unwrap_err().to_string(),
            "\"a..b\" is not a dotted setting name"
        );
        assert_eq!(
            parse_sweep("seed=1,,2").unwrap_err(),
            SweepAxisError::EmptyValue {
                text: "seed=1,,2".into()
            }
        );

        assert_eq!(grid(&[a.clone(), b.clone()]).len(), 6);
        assert_eq!(grid(&[a, b])[1], [0, 1]);
    }

    #[test]
    fn the_sample_replays_the_same_from_the_cache_as_parsed() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let cache = tempfile::tempdir().unwrap();
        let options = |no_cache: bool| ReplayOptions {
            config: Some(root.join(SAMPLE_CONFIG)),
            cache_dir: Some(cache.path().to_path_buf()),
            no_cache,
            ..ReplayOptions::default()
        };
        let report = |inputs: &Inputs| inputs.run(&inputs.settings, None).unwrap().to_json();
        let parsed = Inputs::load(&options(true)).unwrap();
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
        let first = Inputs::load(&options(false)).unwrap();
        let cached = Inputs::load(&options(false)).unwrap();
        let files = std::fs::read_dir(cache.path()).unwrap().count();
        assert_eq!(files, parsed.market.series.len());
        assert_eq!(report(&cached), report(&parsed));
        assert_eq!(report(&first), report(&parsed));
        assert_eq!(cached.market.to_data(), parsed.market.to_data());
    }

    #[test]
    fn assign_creates_tables_and_refuses_to_descend_into_values() {
        let mut t: toml::Table = toml::from_str("[simulation]\nseed = 1").unwrap();
        let path = |p: &str| p.split('.').map(str::to_string).collect::<Vec<_>>();
        assign(
            &mut t,
            &path("simulation.latency.order_ms"),
            toml::Value::Integer(5),
        )
        .unwrap();
        assert_eq!(t["simulation"]["latency"]["order_ms"].as_integer(), Some(5));
        let err = assign(&mut t, &path("simulation.seed.x"), toml::Value::Integer(5)).unwrap_err();
        assert_eq!(
            err,
            SettingPathError::NotATable {
                path: "simulation.seed".into()
            }
        );
        assert_eq!(err.to_string(), "simulation.seed is not a table");
        assert_eq!(
            assign(&mut t, &[], toml::Value::Integer(5)).unwrap_err(),
            SettingPathError::Empty
        );
    }

    #[test]
    fn errors_are_typed_and_keep_their_messages() {
        let dir = tempfile::tempdir().unwrap();
        let options = |f: &dyn Fn(&mut ReplayOptions)| {
            let mut o = ReplayOptions {
                config: Some(dir.path().join("missing.toml")),
                ..ReplayOptions::default()
            };
            f(&mut o);
            o
        };
        let err = |o: ReplayOptions| Inputs::load(&o).err().unwrap();

        let e = err(options(&|_| {}));
        assert_eq!(e.code(), "config_read");
        assert!(matches!(
            e,
            ReplayError::Config(ConfigFileError::Read { .. })
        ));
        assert!(e.to_string().starts_with("cannot read "), "{e}");

        let config = dir.path().join("a.toml");
        std::fs::write(&config, "[simulation]\nseed = 1\n").unwrap();
        let e = err(options(&|o| o.config = Some(config.clone())));
        assert_eq!(e.code(), "no_stream");
        assert_eq!(
            e.to_string(),
            "no alert stream: give --stream FILE.jsonl or simulation.stream"
        );
        let e = err(options(&|o| {
            o.config = Some(config.clone());
            o.stream = Some("s.jsonl".into());
        }));
        assert!(matches!(e, ReplayError::NoMarketData), "{e}");
        assert_eq!(e.code(), "no_market_data");

        std::fs::write(&config, "[policy]\nmax_quantity = 1e30\n").unwrap();
        let e = err(options(&|o| o.config = Some(config.clone())));
        assert_eq!(e.code(), "config_invalid");
        assert!(e
            .to_string()
            .starts_with("policy.max_quantity: 1e30 is not a decimal"));

        std::fs::write(
            &config,
            "[simulation.latency]\norder_ms = { model = \"empirical\", file = \"none.txt\" }\n",
        )
        .unwrap();
        let settings = Settings::load(&config, |_| None).unwrap();
        let inputs = Inputs {
            config_path: Some(config.clone()),
            table: toml::Table::new(),
            settings: settings.clone(),
            seed_override: None,
            base_dir: dir.path().to_path_buf(),
            stream: AlertStream::default(),
            stream_name: "s.jsonl".into(),
            market: MarketSource::default(),
            tradingview: None,
        };
        let e = inputs.run(&settings, None).err().unwrap();
        assert!(
            matches!(
                e,
                ReplayError::Latency(crate::latency::LatencyError::Samples(_))
            ),
            "{e}"
        );
        assert_eq!(e.code(), "bad_latency");
        assert!(e.to_string().contains("none.txt: cannot read"), "{e}");
    }
}
