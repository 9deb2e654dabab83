//! `alertgate replay`: loads the configuration, the alert stream and the
//! market data, runs the engine ([`crate::engine`]), and writes the report.
//!
//! Inputs come from the command line or, failing that, from the
//! configuration's `[simulation]` section (paths relative to the file).
//! Without `--config`, `--stream`, `--market` or `--market-dir`, the bundled
//! sample [`SAMPLE_CONFIG`] is replayed.
//!
//! `--sweep KEY=V1,V2,..` (repeatable) replays the grid of every combination
//! in parallel, one run per combination with the same seed, and prints one
//! comparison row each. `KEY` is a dotted path into the configuration file;
//! a path that does not start with a section name (`auth`, `policy`,
//! `replay`, `rate`, `network`, `simulation`) is read under `simulation`, so
//! `latency.order_ms=0,50` sets `[simulation.latency] order_ms`. Each value
//! is read as TOML (`0.6`, `true`, `"text"`), else taken as a string.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::config::Settings;
use crate::engine::{self, ReplayError};
use crate::html;
use crate::market::MarketData;
use crate::report::{Report, Summary};
use crate::stream::AlertStream;

/// The bundled sample's configuration, relative to the repository root.
pub const SAMPLE_CONFIG: &str = "examples/replay/alertgate.toml";

/// Arguments of `alertgate replay`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReplayArgs {
    /// Configuration file with a `[simulation]` section (default: the bundled
    /// sample, examples/replay/alertgate.toml, when no inputs are given;
    /// built-in defaults otherwise).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Recorded alert stream, JSON Lines (default: simulation.stream).
    #[arg(long, value_name = "FILE")]
    pub stream: Option<PathBuf>,
    /// Market data of one symbol, CSV bars or trades (repeatable).
    #[arg(long, value_name = "SYMBOL=FILE", value_parser = parse_market)]
    pub market: Vec<(String, PathBuf)>,
    /// Directory of SYMBOL.csv files, e.g. BTC-USDT.csv (repeatable).
    #[arg(long, value_name = "DIR")]
    pub market_dir: Vec<PathBuf>,
    /// Seed of every random draw (default: simulation.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the report as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the report as a self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write every closed trade as CSV.
    #[arg(long, value_name = "FILE")]
    pub trades: Option<PathBuf>,
    /// Replay a grid in parallel, one row per combination: KEY=V1,V2,..
    /// (repeatable). KEY is a setting of the configuration file; keys
    /// outside auth, policy, replay, rate and network are under simulation:
    /// latency.order_ms=0,50,250 or policy.min_confidence=0.6,0.7.
    #[arg(long, value_name = "KEY=V1,V2", value_parser = parse_sweep)]
    pub sweep: Vec<SweepAxis>,
}

fn parse_market(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((symbol, path)) if !symbol.is_empty() && !path.is_empty() => {
            Ok((symbol.to_string(), PathBuf::from(path)))
        }
        _ => Err(format!("{text:?} is not SYMBOL=FILE (BTC/USDT=btc.csv)")),
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

const SECTIONS: [&str; 6] = ["auth", "policy", "replay", "rate", "network", "simulation"];

/// Parses `KEY=V1,V2,..`.
pub fn parse_sweep(text: &str) -> Result<SweepAxis, String> {
    let (key, values) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not KEY=V1,V2 (latency.order_ms=0,50,250)"))?;
    let mut path: Vec<String> = key.split('.').map(str::to_string).collect();
    if key.is_empty() || path.iter().any(String::is_empty) {
        return Err(format!("{key:?} is not a dotted setting name"));
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
        return Err(format!("{text:?} has an empty value"));
    }
    Ok(SweepAxis {
        key: key.to_string(),
        path,
        values,
    })
}

/// Sets `path` in `table` to `value`, creating tables on the way.
fn assign(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty setting name")?;
    let mut t = table;
    for (i, p) in parents.iter().enumerate() {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("{} is not a table", path[..=i].join(".")))?;
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
    /// Market data.
    pub market: MarketData,
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

impl Inputs {
    /// Loads the configuration and the data `args` name.
    pub fn load(args: &ReplayArgs) -> Result<Inputs, ReplayError> {
        let config_error = |e: crate::config::ConfigFileError| ReplayError::Config(e.to_string());
        let no_inputs =
            args.stream.is_none() && args.market.is_empty() && args.market_dir.is_empty();
        let config_path = match &args.config {
            Some(p) => Some(p.clone()),
            None if no_inputs => {
                let sample = PathBuf::from(SAMPLE_CONFIG);
                if !sample.is_file() {
                    return Err(ReplayError::Config(format!(
                        "nothing to replay: give --config (or --stream and --market), or run from the repository root to replay the bundled sample {SAMPLE_CONFIG}"
                    )));
                }
                Some(sample)
            }
            None => None,
        };
        let (table, mut settings, base_dir) = match &config_path {
            Some(path) => {
                let origin = path.display().to_string();
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ReplayError::Config(format!("cannot read {origin}: {e}")))?;
                let settings = Settings::from_toml(&text, &origin, env).map_err(config_error)?;
                // from_toml just parsed the same text. Decimal settings are
                // kept as their text, so that sweeps read them exactly too.
                let mut table: toml::Table = toml::from_str(&text).unwrap_or_default();
                crate::config::keep_decimal_literals(&mut table, &text)
                    .map_err(|e| ReplayError::Config(format!("{origin}: {}", e.message())))?;
                let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                (table, settings, base)
            }
            None => (toml::Table::new(), Settings::defaults(), PathBuf::new()),
        };
        if let Some(seed) = args.seed {
            settings.simulation.seed = seed;
        }
        let sim = &settings.simulation;

        let stream_path = match (&args.stream, &sim.stream) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => base_dir.join(p),
            (None, None) => {
                return Err(ReplayError::Config(
                    "no alert stream: give --stream FILE.jsonl or simulation.stream".into(),
                ))
            }
        };
        let (pairs, dirs): (Vec<(String, PathBuf)>, Vec<PathBuf>) =
            if args.market.is_empty() && args.market_dir.is_empty() {
                (
                    sim.market
                        .iter()
                        .map(|(s, p)| (s.clone(), base_dir.join(p)))
                        .collect(),
                    sim.market_dir.iter().map(|d| base_dir.join(d)).collect(),
                )
            } else {
                (args.market.clone(), args.market_dir.clone())
            };
        if pairs.is_empty() && dirs.is_empty() {
            return Err(ReplayError::Config(
                "no market data: give --market SYMBOL=FILE.csv or --market-dir DIR, or simulation.market / simulation.market_dir".into(),
            ));
        }
        let quotes: Vec<&str> = settings.gate.quotes.iter().map(String::as_str).collect();
        let market = MarketData::load(&pairs, &dirs, &quotes)?;
        let stream = AlertStream::read(&stream_path)?;
        Ok(Inputs {
            config_path,
            table,
            settings,
            seed_override: args.seed,
            base_dir,
            stream,
            stream_name: stream_path.display().to_string(),
            market,
        })
    }

    /// Runs once with `settings`.
    pub fn run(
        &self,
        settings: &Settings,
        progress: Option<engine::Progress<'_>>,
    ) -> Result<Report, ReplayError> {
        let result = engine::run(
            &self.stream,
            &self.stream_name,
            &self.market,
            &settings.gate,
            &settings.simulation,
            &self.base_dir,
            progress,
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
    let origin = inputs
        .config_path
        .as_ref()
        .map_or("built-in defaults".to_string(), |p| p.display().to_string());
    // Check every combination's configuration before spending time on runs.
    let mut settings = Vec::with_capacity(combos.len());
    for combo in &combos {
        let mut table = inputs.table.clone();
        for (axis, &i) in axes.iter().zip(combo) {
            assign(&mut table, &axis.path, axis.values[i].clone())
                .map_err(|e| ReplayError::Config(format!("--sweep {}: {e}", axis.key)))?;
        }
        let mut s = Settings::from_table(table, &origin, env).map_err(|e| {
            let label: Vec<String> = axes
                .iter()
                .zip(combo)
                .map(|(a, &i)| format!("{}={}", a.key, show(&a.values[i])))
                .collect();
            ReplayError::Config(format!("--sweep {}: {e}", label.join(" ")))
        })?;
        if let Some(seed) = inputs.seed_override {
            s.simulation.seed = seed;
        }
        settings.push(s);
    }

    let bar = progress_bar(combos.len() as u64, "runs");
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Summary, ReplayError>>>> =
        Mutex::new((0..combos.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, combos.len().max(1)) {
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
    let slots = results
        .into_inner()
        .map_err(|_| ReplayError::Config("a sweep worker panicked".into()))?;
    combos
        .iter()
        .zip(slots)
        .map(|(combo, slot)| {
            let summary =
                slot.ok_or_else(|| ReplayError::Config("a sweep run did not finish".into()))??;
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
    std::fs::write(path, text)
        .map_err(|e| ReplayError::Config(format!("cannot write {}: {e}", path.display())))
}

/// Runs the command; returns what to print on stdout.
pub fn replay(args: &ReplayArgs) -> Result<String, ReplayError> {
    let inputs = Inputs::load(args)?;
    if !args.sweep.is_empty() {
        if args.html.is_some() || args.trades.is_some() {
            return Err(ReplayError::Config(
                "--html and --trades describe one run; with --sweep use --json for every row"
                    .into(),
            ));
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let rows = sweep(&inputs, &args.sweep, threads)?;
        if let Some(path) = &args.json {
            let mut text = serde_json::to_string_pretty(&rows)
                .map_err(|e| ReplayError::Config(format!("internal: {e}")))?;
            text.push('\n');
            write_file(path, &text)?;
        }
        return Ok(sweep_table(&rows));
    }

    let total = inputs.stream.requests.len() as u64 + inputs.market.bar_count() as u64;
    let bar = progress_bar(total, "events");
    let report = inputs.run(&inputs.settings, Some(&|done| bar.set_position(done)))?;
    bar.finish_and_clear();
    if let Some(path) = &args.json {
        write_file(path, &report.to_json())?;
    }
    if let Some(path) = &args.trades {
        let csv = report
            .trades_csv()
            .map_err(|e| ReplayError::Config(format!("internal: {e}")))?;
        write_file(path, &csv)?;
    }
    if let Some(path) = &args.html {
        let title = format!("alertgate replay — {}", inputs.stream_name);
        write_file(path, &html::page(&report, &title))?;
    }
    Ok(report.table())
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
        assert!(parse_sweep("nothing").is_err());
        assert!(parse_sweep("a..b=1").is_err());
        assert!(parse_sweep("seed=1,,2").is_err());

        assert_eq!(grid(&[a.clone(), b.clone()]).len(), 6);
        assert_eq!(grid(&[a, b])[1], [0, 1]);
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
        assert!(assign(&mut t, &path("simulation.seed.x"), toml::Value::Integer(5)).is_err());
    }
}
