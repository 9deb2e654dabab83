//! [`ImportError`]: why a file from another tool could not be turned into
//! alerts, one variant per cause, each with a stable [`code`](ImportError::code).
//!
//! Every message names the file, the line and the column where the cause
//! is, quotes the value found (at most 40 characters) and says what is
//! allowed.

use crate::input::snippet;

/// Why an import could not read its file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file cannot be opened or read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file, as given.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A record the CSV reader cannot split (bad quoting, not UTF-8).
    #[error("{file}:{line}: not a CSV record: {message}")]
    Csv {
        /// The file.
        file: String,
        /// 1-based line.
        line: u64,
        /// The CSV reader's words.
        message: String,
    },
    /// No header row, or a header without a column every import needs.
    #[error("{file}:1: no column {column:?}; expected one named {allowed} (case-insensitive, a currency after the name is ignored)")]
    MissingColumn {
        /// The file.
        file: String,
        /// What the column means (`Trade #`, `Price`, ...).
        column: &'static str,
        /// The names it may have.
        allowed: &'static str,
    },
    /// Two header columns that mean the same thing.
    #[error("{file}:1: columns {first:?} and {second:?} both mean {column:?}; keep one")]
    DuplicateColumn {
        /// The file.
        file: String,
        /// What both mean.
        column: &'static str,
        /// The first column's name, as written.
        first: String,
        /// The second one's.
        second: String,
    },
    /// A value that is not what its column holds.
    #[error("{file}:{line}: column {column:?}: {:?} {expected}", snippet(.value))]
    BadValue {
        /// The file.
        file: String,
        /// 1-based line.
        line: u64,
        /// The column's name, as written in the header.
        column: String,
        /// The value found.
        value: String,
        /// What is allowed, as a phrase (`is not ...; expected ...`).
        expected: &'static str,
    },
    /// A local time the clocks of the time zone skipped (spring forward).
    #[error("{file}:{line}: column {column:?}: {value:?} does not exist in {tz} (the clocks skipped it); is --tz the chart's time zone?")]
    SkippedTime {
        /// The file.
        file: String,
        /// 1-based line.
        line: u64,
        /// The time column's name.
        column: String,
        /// The local time, as written.
        value: String,
        /// The IANA time zone.
        tz: String,
    },
    /// A `--tz` that is no IANA time zone name.
    #[error(
        "time zone {name:?} is not an IANA time zone name (Europe/Berlin, America/New_York, UTC)"
    )]
    UnknownTimeZone {
        /// The name, as given.
        name: String,
    },
    /// Two rows of one kind for one trade (two entries).
    #[error("{file}:{line}: trade {trade} has a second entry row (the first is line {first}); each trade has one entry")]
    DuplicateEntry {
        /// The file.
        file: String,
        /// The second row's line.
        line: u64,
        /// The trade number.
        trade: u32,
        /// The first row's line.
        first: u64,
    },
    /// An exit row whose trade has no entry row.
    #[error("{file}:{line}: trade {trade} has an exit row but no entry row; export the whole list of trades")]
    ExitWithoutEntry {
        /// The file.
        file: String,
        /// The exit row's line.
        line: u64,
        /// The trade number.
        trade: u32,
    },
    /// An entry row whose trade has no exit row (TradingView writes one
    /// even for an open trade, with the signal `Open`).
    #[error("{file}:{line}: trade {trade} has an entry row but no exit row (an open trade has one with the signal \"Open\"); export the whole list of trades")]
    EntryWithoutExit {
        /// The file.
        file: String,
        /// The entry row's line.
        line: u64,
        /// The trade number.
        trade: u32,
    },
    /// An exit of the other direction than the trade's entry.
    #[error("{file}:{line}: trade {trade} is entered {entry} (line {entry_line}) but this row exits {exit}")]
    DirectionMismatch {
        /// The file.
        file: String,
        /// The exit row's line.
        line: u64,
        /// The trade number.
        trade: u32,
        /// `long` or `short`.
        entry: &'static str,
        /// `long` or `short`.
        exit: &'static str,
        /// The entry row's line.
        entry_line: u64,
    },
    /// An exit earlier than its trade's entry.
    #[error("{file}:{line}: trade {trade} exits at {exit} before its entry at {entry} (line {entry_line})")]
    ExitBeforeEntry {
        /// The file.
        file: String,
        /// The exit row's line.
        line: u64,
        /// The trade number.
        trade: u32,
        /// The exit's time, as written.
        exit: String,
        /// The entry's time, as written.
        entry: String,
        /// The entry row's line.
        entry_line: u64,
    },
    /// An event that cannot be written as an alert (a time outside what a
    /// stream records, a signature that cannot be made).
    #[error("{file}:{line}: cannot write the alert: {reason}")]
    Unwritable {
        /// The file.
        file: String,
        /// The row's line.
        line: u64,
        /// Why.
        reason: String,
    },
    /// A header and no trade.
    #[error("{file}: no trades; export the Strategy Tester's \"List of trades\" of a strategy that traded")]
    NoTrades {
        /// The file.
        file: String,
    },
    /// The report's comparison needs each closed trade's P&L, and the file
    /// has no P&L column.
    #[error("{file}:1: no P&L column (\"Net P&L USDT\" or \"Profit USDT\"); the report's TradingView net P&L needs it")]
    NoProfitColumn {
        /// The file.
        file: String,
    },
}

impl ImportError {
    /// A stable snake_case code for the cause.
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Read { .. } => "import_unreadable",
            ImportError::Csv { .. } => "import_not_csv",
            ImportError::MissingColumn { .. } => "import_missing_column",
            ImportError::DuplicateColumn { .. } => "import_duplicate_column",
            ImportError::BadValue { .. } => "import_bad_value",
            ImportError::SkippedTime { .. } => "import_skipped_time",
            ImportError::UnknownTimeZone { .. } => "import_unknown_time_zone",
            ImportError::DuplicateEntry { .. } => "import_duplicate_entry",
            ImportError::ExitWithoutEntry { .. } => "import_exit_without_entry",
            ImportError::EntryWithoutExit { .. } => "import_entry_without_exit",
            ImportError::DirectionMismatch { .. } => "import_direction_mismatch",
            ImportError::ExitBeforeEntry { .. } => "import_exit_before_entry",
            ImportError::Unwritable { .. } => "import_unwritable_alert",
            ImportError::NoTrades { .. } => "import_no_trades",
            ImportError::NoProfitColumn { .. } => "import_no_profit_column",
        }
    }

    /// The 1-based line the cause is on; 0 for the whole file (or none).
    pub fn line(&self) -> u64 {
        match self {
            ImportError::Csv { line, .. }
            | ImportError::BadValue { line, .. }
            | ImportError::SkippedTime { line, .. }
            | ImportError::DuplicateEntry { line, .. }
            | ImportError::ExitWithoutEntry { line, .. }
            | ImportError::EntryWithoutExit { line, .. }
            | ImportError::DirectionMismatch { line, .. }
            | ImportError::ExitBeforeEntry { line, .. }
            | ImportError::Unwritable { line, .. } => *line,
            ImportError::MissingColumn { .. }
            | ImportError::DuplicateColumn { .. }
            | ImportError::NoProfitColumn { .. } => 1,
            _ => 0,
        }
    }
}
