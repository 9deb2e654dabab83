//! TradingView's Strategy Tester "List of trades" export (CSV), read into
//! the entries and exits that happened, in time order.
//!
//! Each trade has an entry row and an exit row with the same `Trade #`
//! (TradingView lists the newest trade first, its exit row before its entry
//! row; any order is read). Columns are recognised by meaning
//! ([`super::columns`]): `Trade #`, `Type` (`Entry long`, `Exit long`,
//! `Entry short`, `Exit short`, any case), `Signal`, `Date/Time` (or `Date
//! and time`, or `Date` and `Time`) in the chart's time zone, `Price`,
//! `Contracts` / `Position size (qty)` / `Size (qty)`, and optionally the
//! P&L (`Profit USDT`, `Net P&L USDT`), which both rows repeat and is taken
//! from the exit row, once per trade.
//!
//! - A trade still **open** at the end of the backtest has an exit row with
//!   the signal `Open`, priced at the last close: that exit never happened,
//!   so it is no event, and its P&L is not in [`TradeList::net_pnl`] (as in
//!   TradingView's own "Net profit", which counts closed trades).
//! - Times: see [`super::chart_time`]. A time in a fall-back fold (the hour
//!   the clocks repeat) takes the earlier instant unless that is before the
//!   previous event in the trades' own order (trade 1's entry, its exits,
//!   trade 2's entry, ...; an `Open` exit excluded): then the later one.
//!   That keeps each trade's exit after its entry, and each trade after
//!   the previous one as TradingView's default of one position at a time
//!   (`pyramiding = 0`) has it; with pyramiding, an entry made in the
//!   repeated hour while an earlier trade was still open may be put an
//!   hour late. A time the clocks skipped (spring forward) is an error.
//! - Order: by time; at one time, exits of trades entered earlier first
//!   (TradingView closes the old position before opening the reversed one
//!   on the same bar), then entries, then exits of trades entered at that
//!   same time.
//! - A trade may exit in parts (several exit rows, numbered `part` 1, 2,
//!   ... in time order); it has exactly one entry row.

use std::collections::BTreeMap;
use std::path::Path;

use alertgate_validator::Decimal;
use jiff::civil::DateTime;

use super::chart_time::{parse_local, ChartZone, Resolved};
use super::columns::{Columns, When};
use super::ImportError;

/// Opening or closing a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `Entry long` / `Entry short`.
    Entry,
    /// `Exit long` / `Exit short`.
    Exit,
}

/// Which way the trade goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Bought first.
    Long,
    /// Sold first.
    Short,
}

impl Direction {
    /// `long` or `short`.
    pub const fn name(self) -> &'static str {
        match self {
            Direction::Long => "long",
            Direction::Short => "short",
        }
    }
}

/// One entry or exit that happened.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeEvent {
    /// `Trade #`.
    pub trade: u32,
    /// Entry or exit.
    pub action: Action,
    /// The trade's direction.
    pub direction: Direction,
    /// 1 for an entry and a trade's first exit; 2, 3, ... for later exits
    /// of a trade that exits in parts.
    pub part: u32,
    /// When, Unix ms (the chart time read in its zone).
    pub time_ms: i64,
    /// The fill price, a decimal above 0, as written.
    pub price: String,
    /// The quantity, a decimal above 0, as written.
    pub quantity: String,
    /// The order's signal name (the strategy's order id or comment).
    pub signal: String,
    /// The row's P&L, quote currency, if the file has the column and the
    /// row a value (entry rows of older exports leave it empty).
    pub pnl: Option<f64>,
    /// 1-based line in the file.
    pub line: u64,
}

/// The trades of one export.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeList {
    /// Every entry and exit that happened, in time order (see the module
    /// documentation); an open trade's `Open` exit row is not here.
    pub events: Vec<TradeEvent>,
    /// Trades with every exit done.
    pub closed_trades: u64,
    /// Trades still open at the end of the backtest.
    pub open_trades: u64,
    /// The sum of the P&L of every exit that happened (each closed trade's
    /// P&L once): TradingView's net profit. `None` without a P&L column.
    pub net_pnl: Option<f64>,
}

/// A data row, read and checked, its time still on the chart's clock.
#[derive(Debug, Clone)]
struct Row {
    line: u64,
    trade: u32,
    action: Action,
    direction: Direction,
    local: DateTime,
    local_text: String,
    time_column: String,
    price: String,
    quantity: String,
    signal: String,
    pnl: Option<f64>,
}

impl Row {
    /// The exit row of a trade still open at the end of the backtest.
    fn is_open_exit(&self) -> bool {
        self.action == Action::Exit && self.signal.eq_ignore_ascii_case("open")
    }
}

/// Reads the export at `path`, its times on `zone`'s clock.
pub fn read(path: &Path, zone: &ChartZone) -> Result<TradeList, ImportError> {
    let file = path.display().to_string();
    let data = std::fs::read(path).map_err(|source| ImportError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&data, &file, zone)
}

/// Reads an export from its bytes; `file` names it in errors.
///
/// ```
/// use alertgate_simulator::import::{tradingview_trades, ChartZone};
/// let csv = "Trade #,Type,Signal,Date/Time,Price USDT,Contracts,Profit USDT\n\
///            1,Exit long,Close,2024-01-05 10:00,43980.1,0.5,915.2\n\
///            1,Entry long,Long,2024-01-03 15:00,42150.5,0.5,915.2\n";
/// let zone = ChartZone::new("Europe/Berlin").unwrap();
/// let list = tradingview_trades::parse(csv.as_bytes(), "t.csv", &zone).unwrap();
/// assert_eq!(list.events.len(), 2);
/// assert_eq!(list.events[0].time_ms, 1_704_290_400_000); // 2024-01-03T14:00:00Z
/// assert_eq!(list.net_pnl, Some(915.2));
/// ```
pub fn parse(data: &[u8], file: &str, zone: &ChartZone) -> Result<TradeList, ImportError> {
    let (rows, has_pnl) = read_rows(data, file)?;
    if rows.is_empty() {
        return Err(ImportError::NoTrades {
            file: file.to_string(),
        });
    }
    let trades = pair(rows, file)?;
    let mut list = TradeList {
        events: Vec::new(),
        closed_trades: 0,
        open_trades: 0,
        net_pnl: has_pnl.then_some(0.0),
    };
    let mut previous = None;
    let mut entered_at = BTreeMap::new();
    for (&n, trade) in &trades {
        let entry_ms = resolve(&trade.entry, previous, zone, file)?;
        entered_at.insert(n, entry_ms);
        previous = Some(add_trade(&mut list, trade, entry_ms, zone, file)?);
    }
    list.events
        .sort_by_key(|e| order_key(e, entered_at.get(&e.trade).copied()));
    Ok(list)
}

/// One trade's rows.
struct Trade {
    entry: Row,
    /// In time order (then line).
    exits: Vec<Row>,
}

/// Adds `trade`'s entry (at `entry_ms`) and exits to `list`; returns the
/// time of its last event that happened.
fn add_trade(
    list: &mut TradeList,
    trade: &Trade,
    entry_ms: i64,
    zone: &ChartZone,
    file: &str,
) -> Result<i64, ImportError> {
    list.events.push(event(&trade.entry, entry_ms, 1));
    let mut floor = entry_ms;
    let mut open = false;
    for (k, exit) in trade.exits.iter().enumerate() {
        let ms = resolve(exit, Some(floor), zone, file)?;
        if ms < entry_ms {
            return Err(ImportError::ExitBeforeEntry {
                file: file.to_string(),
                line: exit.line,
                trade: exit.trade,
                exit: exit.local_text.clone(),
                entry: trade.entry.local_text.clone(),
                entry_line: trade.entry.line,
            });
        }
        if exit.is_open_exit() {
            open = true;
            continue;
        }
        floor = ms;
        if let (Some(sum), Some(pnl)) = (list.net_pnl.as_mut(), exit.pnl) {
            *sum += pnl;
        }
        list.events.push(event(exit, ms, k as u32 + 1));
    }
    if open {
        list.open_trades += 1;
    } else {
        list.closed_trades += 1;
    }
    Ok(floor)
}

fn event(row: &Row, time_ms: i64, part: u32) -> TradeEvent {
    TradeEvent {
        trade: row.trade,
        action: row.action,
        direction: row.direction,
        part,
        time_ms,
        price: row.price.clone(),
        quantity: row.quantity.clone(),
        signal: row.signal.clone(),
        pnl: row.pnl,
        line: row.line,
    }
}

/// The sort key of the module documentation's order: an exit of a trade
/// entered (at `entered_at`) at the same instant sorts after the entries.
fn order_key(e: &TradeEvent, entered_at: Option<i64>) -> (i64, u8, u32, u32) {
    let rank = match e.action {
        Action::Exit if entered_at == Some(e.time_ms) => 2,
        Action::Exit => 0,
        Action::Entry => 1,
    };
    (e.time_ms, rank, e.trade, e.part)
}

/// The instant of `row`'s time (see [`ChartZone::resolve`]).
fn resolve(
    row: &Row,
    not_before: Option<i64>,
    zone: &ChartZone,
    file: &str,
) -> Result<i64, ImportError> {
    match zone.resolve(row.local, not_before) {
        Resolved::At(ms) => Ok(ms),
        Resolved::Skipped => Err(ImportError::SkippedTime {
            file: file.to_string(),
            line: row.line,
            column: row.time_column.clone(),
            value: row.local_text.clone(),
            tz: zone.name().to_string(),
        }),
    }
}

/// Groups rows by trade: one entry, at least one exit of its direction.
fn pair(rows: Vec<Row>, file: &str) -> Result<BTreeMap<u32, Trade>, ImportError> {
    let mut entries: BTreeMap<u32, Row> = BTreeMap::new();
    let mut exits: BTreeMap<u32, Vec<Row>> = BTreeMap::new();
    for row in rows {
        match row.action {
            Action::Entry => {
                if let Some(first) = entries.get(&row.trade) {
                    return Err(ImportError::DuplicateEntry {
                        file: file.to_string(),
                        line: row.line,
                        trade: row.trade,
                        first: first.line,
                    });
                }
                entries.insert(row.trade, row);
            }
            Action::Exit => exits.entry(row.trade).or_default().push(row),
        }
    }
    let mut trades = BTreeMap::new();
    for (n, entry) in entries {
        let mut rows = exits
            .remove(&n)
            .ok_or_else(|| ImportError::EntryWithoutExit {
                file: file.to_string(),
                line: entry.line,
                trade: n,
            })?;
        if let Some(x) = rows.iter().find(|x| x.direction != entry.direction) {
            return Err(ImportError::DirectionMismatch {
                file: file.to_string(),
                line: x.line,
                trade: n,
                entry: entry.direction.name(),
                exit: x.direction.name(),
                entry_line: entry.line,
            });
        }
        rows.sort_by_key(|x| (x.local, x.line));
        trades.insert(n, Trade { entry, exits: rows });
    }
    if let Some(x) = exits.values().flatten().min_by_key(|x| x.line) {
        return Err(ImportError::ExitWithoutEntry {
            file: file.to_string(),
            line: x.line,
            trade: x.trade,
        });
    }
    Ok(trades)
}

/// Every data row, checked (blank rows skipped), and whether the header
/// has a P&L column.
fn read_rows(data: &[u8], file: &str) -> Result<(Vec<Row>, bool), ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut columns: Option<Columns> = None;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ImportError::Csv {
            file: file.to_string(),
            line: e.position().map_or(0, |p| p.line()),
            message: csv_message(&e),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        match &columns {
            None => {
                let names: Vec<String> = record.iter().map(str::to_string).collect();
                columns = Some(Columns::from_header(&names, file)?);
            }
            Some(c) => rows.push(read_row(&record, line, c, file)?),
        }
    }
    match columns {
        Some(c) => Ok((rows, c.profit.is_some())),
        None => Err(ImportError::NoTrades {
            file: file.to_string(),
        }),
    }
}

/// What a [`csv::Error`] says, without its position (the error adds it).
fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_string(),
        _ => e.to_string(),
    }
}

/// One data row's cells, for reading them with errors that name the
/// file, the line and the column.
struct Cells<'r> {
    record: &'r csv::StringRecord,
    line: u64,
    columns: &'r Columns,
    file: &'r str,
}

impl Cells<'_> {
    /// Cell `i`, trimmed; empty when the row is short.
    fn get(&self, i: usize) -> &str {
        self.record.get(i).unwrap_or("").trim()
    }

    /// `value` in column `i` is not what it holds.
    fn bad(&self, i: usize, value: &str, expected: &'static str) -> ImportError {
        ImportError::BadValue {
            file: self.file.to_string(),
            line: self.line,
            column: self.columns.name(i).to_string(),
            value: value.to_string(),
            expected,
        }
    }

    /// Cell `i` read by `read`, or the error saying `expected`.
    fn read<T>(
        &self,
        i: usize,
        read: impl Fn(&str) -> Option<T>,
        expected: &'static str,
    ) -> Result<T, ImportError> {
        let value = self.get(i);
        read(value).ok_or_else(|| self.bad(i, value, expected))
    }

    /// The chart time, as written, and the index of its (first) column.
    fn local_time(&self) -> Result<(DateTime, String, usize), ImportError> {
        let (text, i) = match self.columns.when {
            When::One(i) => (self.get(i).to_string(), i),
            When::Split { date, time } => (format!("{} {}", self.get(date), self.get(time)), date),
        };
        match parse_local(&text) {
            Some(dt) => Ok((dt, text, i)),
            None => Err(self.bad(
                i,
                &text,
                "is not a chart time; expected YYYY-MM-DD HH:MM[:SS] (or a date alone)",
            )),
        }
    }
}

/// Reads data row `record` (at `line`).
fn read_row(
    record: &csv::StringRecord,
    line: u64,
    c: &Columns,
    file: &str,
) -> Result<Row, ImportError> {
    let cells = Cells {
        record,
        line,
        columns: c,
        file,
    };
    let trade = cells.read(
        c.trade,
        trade_number,
        "is not a trade number; expected 1, 2, ...",
    )?;
    let (action, direction) = cells.read(
        c.kind,
        action_of,
        "is not a row type; expected Entry long, Exit long, Entry short or Exit short",
    )?;
    let (local, local_text, time_index) = cells.local_time()?;
    let decimal = |v: &str| positive_decimal(v).then(|| v.to_string());
    let price = cells.read(
        c.price,
        decimal,
        "is not a price; expected a decimal above 0 (42150.5)",
    )?;
    let quantity = cells.read(
        c.quantity,
        decimal,
        "is not a quantity; expected a decimal above 0 (0.25)",
    )?;
    let signal = cells.get(c.signal).to_string();
    let needs_pnl = action == Action::Exit && !signal.eq_ignore_ascii_case("open");
    let pnl = match c.profit {
        None => None,
        Some(i) => profit(cells.get(i), needs_pnl).map_err(|e| cells.bad(i, cells.get(i), e))?,
    };
    Ok(Row {
        line,
        trade,
        action,
        direction,
        local,
        local_text,
        time_column: c.name(time_index).to_string(),
        price,
        quantity,
        signal,
        pnl,
    })
}

/// `1`, `2`, ...: digits only, above 0.
fn trade_number(text: &str) -> Option<u32> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    text.parse().ok().filter(|n| digits && *n > 0)
}

/// `Entry long`, `Exit short`, ... in any case and spacing.
fn action_of(text: &str) -> Option<(Action, Direction)> {
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    let [action, direction] = words.as_slice() else {
        return None;
    };
    let action = match action.as_str() {
        "entry" => Action::Entry,
        "exit" => Action::Exit,
        _ => return None,
    };
    let direction = match direction.as_str() {
        "long" => Direction::Long,
        "short" => Direction::Short,
        _ => return None,
    };
    Some((action, direction))
}

/// A P&L cell: a decimal (a leading `-` or `\u{2212}` minus), or empty
/// where `required` is false (older exports leave entry rows empty).
fn profit(text: &str, required: bool) -> Result<Option<f64>, &'static str> {
    const EXPECTED: &str = "is not a P&L; expected a decimal such as -12.5";
    if text.is_empty() || text == "\u{2014}" {
        return if required {
            Err("is empty; an exit row needs the trade's P&L")
        } else {
            Ok(None)
        };
    }
    let (negative, digits) = match text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('\u{2212}'))
    {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if digits.starts_with('-') || Decimal::parse(digits).is_none() {
        return Err(EXPECTED);
    }
    let value: f64 = digits.parse().map_err(|_| EXPECTED)?;
    Ok(Some(if negative { -value } else { value }))
}

/// Whether `value` is a decimal above 0 the gate reads (`42150.5`).
fn positive_decimal(value: &str) -> bool {
    Decimal::parse(value).is_some_and(|d| d.is_positive())
}
