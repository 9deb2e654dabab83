//! The header of TradingView's "List of trades" export, read by meaning.
//!
//! Names differ between versions and with the symbol's currency: `Date/Time`
//! became `Date and time`, `Contracts` became `Position size (qty)` and then
//! `Size (qty)`, `Profit USDT` became `Net P&L USDT`. A name is compared in
//! lower case with its spaces collapsed, and a currency after `Price`,
//! `Profit` or `Net P&L` (one word without `%`) is ignored. Columns of no
//! known meaning (`Position size (value)`, `Profit %`, `Run-up`, `Drawdown`,
//! `Cumulative ...`, excursions) are ignored.

use super::ImportError;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    Trade,
    Type,
    Signal,
    DateTime,
    Date,
    Time,
    Price,
    Quantity,
    Profit,
}

impl Meaning {
    /// The name an error calls it by, and the names it may have.
    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Meaning::Trade => ("Trade #", "\"Trade #\""),
            Meaning::Type => ("Type", "\"Type\""),
            Meaning::Signal => ("Signal", "\"Signal\""),
            Meaning::DateTime | Meaning::Date | Meaning::Time => (
                "Date/Time",
                "\"Date/Time\" or \"Date and time\" (or \"Date\" and \"Time\")",
            ),
            Meaning::Price => ("Price", "\"Price\" or \"Price USDT\""),
            Meaning::Quantity => (
                "Quantity",
                "\"Contracts\", \"Quantity\", \"Position size (qty)\" or \"Size (qty)\"",
            ),
            Meaning::Profit => ("P&L", "\"Net P&L USDT\" or \"Profit USDT\""),
        }
    }
}

/// Where the time is: one column, or a date and a time column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum When {
    /// `2024-01-05 09:00` in one column.
    One(usize),
    /// `2024-01-05` and `09:00` in two.
    Split {
        /// The date's column.
        date: usize,
        /// The time's column.
        time: usize,
    },
}

/// The index of each column the import reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Columns {
    pub trade: usize,
    pub kind: usize,
    pub signal: usize,
    pub when: When,
    pub price: usize,
    pub quantity: usize,
    /// Absent in an export without a P&L column.
    pub profit: Option<usize>,
    /// The header's names as written, for messages.
    pub names: Vec<String>,
}

/// `name` in lower case, trimmed, a byte-order mark dropped, inner runs of
/// whitespace made one space.
fn normalize(name: &str) -> String {
    let name = name.trim_start_matches('\u{feff}');
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `name` is `base`, or `base` and a currency (`price usdt`, `profit $`).
fn with_currency(name: &str, base: &str) -> bool {
    match name.strip_prefix(base) {
        Some("") => true,
        Some(rest) => rest.strip_prefix(' ').is_some_and(|currency| {
            (1..=12).contains(&currency.chars().count()) && !currency.contains([' ', '%', '(', ')'])
        }),
        None => false,
    }
}

fn meaning(name: &str) -> Option<Meaning> {
    let name = normalize(name);
    let m = match name.as_str() {
        "trade #" | "trade#" | "trade no" | "trade no." | "trade number" => Meaning::Trade,
        "type" => Meaning::Type,
        "signal" => Meaning::Signal,
        "date/time" | "date and time" | "date & time" | "datetime" | "date time" => {
            Meaning::DateTime
        }
        "date" => Meaning::Date,
        "time" => Meaning::Time,
        "contracts" | "quantity" | "qty" | "position size (qty)" | "size (qty)" => {
            Meaning::Quantity
        }
        n if with_currency(n, "price") => Meaning::Price,
        n if ["profit", "net p&l", "net pnl"]
            .iter()
            .any(|b| with_currency(n, b)) =>
        {
            Meaning::Profit
        }
        _ => return None,
    };
    Some(m)
}

impl Columns {
    /// Reads the header row `names` of `file`.
    pub(super) fn from_header(names: &[String], file: &str) -> Result<Columns, ImportError> {
        let mut found: Vec<(Meaning, usize)> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let Some(m) = meaning(name) else { continue };
            if let Some(&(_, j)) = found.iter().find(|(other, _)| *other == m) {
                return Err(ImportError::DuplicateColumn {
                    file: file.to_string(),
                    column: m.describe().0,
                    first: names[j].clone(),
                    second: name.clone(),
                });
            }
            found.push((m, i));
        }
        let get = |m: Meaning| found.iter().find(|(o, _)| *o == m).map(|&(_, i)| i);
        let need = |m: Meaning| {
            get(m).ok_or_else(|| {
                let (column, allowed) = m.describe();
                ImportError::MissingColumn {
                    file: file.to_string(),
                    column,
                    allowed,
                }
            })
        };
        let when = match (
            get(Meaning::DateTime),
            get(Meaning::Date),
            get(Meaning::Time),
        ) {
            (Some(i), _, _) => When::One(i),
            (None, Some(date), Some(time)) => When::Split { date, time },
            _ => When::One(need(Meaning::DateTime)?),
        };
        Ok(Columns {
            trade: need(Meaning::Trade)?,
            kind: need(Meaning::Type)?,
            signal: need(Meaning::Signal)?,
            when,
            price: need(Meaning::Price)?,
            quantity: need(Meaning::Quantity)?,
            profit: get(Meaning::Profit),
            names: names.to_vec(),
        })
    }

    /// The name of column `i` as written.
    pub(super) fn name(&self, i: usize) -> &str {
        self.names.get(i).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> Result<Columns, ImportError> {
        let names: Vec<String> = text.split(',').map(str::to_string).collect();
        Columns::from_header(&names, "t.csv")
    }

    #[test]
    fn both_versions_and_their_currencies_read_by_meaning() {
        let old = header("Trade #,Type,Signal,Date/Time,Price USDT,Contracts,Profit USDT,Profit %,Cumulative profit USDT,Run-up USDT,Drawdown USDT").unwrap();
        assert_eq!((old.trade, old.kind, old.signal), (0, 1, 2));
        assert_eq!(old.when, When::One(3));
        assert_eq!((old.price, old.quantity, old.profit), (4, 5, Some(6)));
        let new = header("\u{feff}trade #,TYPE,Date and time,Signal,Price USD,Position size (qty),Position size (value),Net P&L USD,Net P&L %,Cumulative P&L USD").unwrap();
        assert_eq!(new.when, When::One(2));
        assert_eq!((new.price, new.quantity, new.profit), (4, 5, Some(7)));
        let newest =
            header("Trade #,Type,Date,Time,Signal,Price,Size  (qty),Size (value),Net P&L $")
                .unwrap();
        assert_eq!(newest.when, When::Split { date: 2, time: 3 });
        assert_eq!((newest.quantity, newest.profit), (6, Some(8)));
        let no_profit = header("Trade #,Type,Signal,Date/Time,Price,Quantity").unwrap();
        assert_eq!(no_profit.profit, None);
    }

    #[test]
    fn missing_and_doubled_columns_are_named() {
        let e =
            header("Trade #,Type,Signal,Date/Time,Price USDT,Position size (value)").unwrap_err();
        assert_eq!(e.code(), "import_missing_column");
        assert!(e.to_string().contains("no column \"Quantity\""), "{e}");
        let e = header("Trade #,Type,Signal,Date,Price,Contracts").unwrap_err();
        assert!(e.to_string().contains("\"Date/Time\""), "{e}");
        let e = header("Trade #,Type,Signal,Date/Time,Price USDT,Price USD,Contracts").unwrap_err();
        assert_eq!(e.code(), "import_duplicate_column");
        assert_eq!(
            e.to_string(),
            "t.csv:1: columns \"Price USDT\" and \"Price USD\" both mean \"Price\"; keep one"
        );
        // A percentage is no price or P&L.
        assert_eq!(meaning("Net P&L %"), None);
        assert_eq!(meaning("Price (%)"), None);
        assert_eq!(meaning("Profit USDT"), Some(Meaning::Profit));
    }
}
