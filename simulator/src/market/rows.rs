//! Data rows: values read from the columns a [`Layout`] found, checked,
//! into [`Bar`]s in time order.

use super::detect::{BarColumns, Columns, Field, Layout};
use super::times::TimeColumn;
use super::{Bar, MarketKind};
use crate::input::{snippet, InputError};

/// Reads a file's rows one at a time; the time column's unit carries over.
pub(super) struct Rows<'s> {
    source: &'s str,
    columns: Columns,
    time: TimeColumn,
}

impl<'s> Rows<'s> {
    pub fn new(source: &'s str, layout: &Layout) -> Rows<'s> {
        Rows {
            source,
            columns: layout.columns,
            time: TimeColumn::default(),
        }
    }

    /// Reads `record` and appends it to `bars`, after the previous row.
    pub fn push(
        &mut self,
        record: &csv::StringRecord,
        bars: &mut Vec<Bar>,
    ) -> Result<(), InputError> {
        let row = Row {
            source: self.source,
            line: record.position().map_or(0, |p| p.line()),
            record,
        };
        let (bar, kind) = match &self.columns {
            Columns::Bars(c) => (row.bar(c, &mut self.time)?, MarketKind::Bars),
            Columns::Trades(c) => {
                let price = row.number(c.price, false)?;
                let bar = Bar {
                    time_ms: row.time(c.time, &mut self.time)?,
                    open: price,
                    high: price,
                    low: price,
                    close: price,
                    volume: row.number(c.qty, true)?,
                };
                (bar, MarketKind::Trades)
            }
        };
        if let Some(prev) = bars.last() {
            row.check_order(kind, prev, &bar, self.columns_time())?;
        }
        bars.push(bar);
        Ok(())
    }

    fn columns_time(&self) -> &'static str {
        match &self.columns {
            Columns::Bars(c) => c.time.name,
            Columns::Trades(c) => c.time.name,
        }
    }
}

/// One data row, with what its errors name: the file and the line.
struct Row<'r> {
    source: &'r str,
    line: u64,
    record: &'r csv::StringRecord,
}

impl Row<'_> {
    fn text(&self, f: Field) -> &str {
        self.record.get(f.index).unwrap_or("")
    }

    fn error(&self, field: &str, message: impl Into<String>) -> InputError {
        InputError::at(self.source, self.line, field, message)
    }

    fn time(&self, f: Field, column: &mut TimeColumn) -> Result<i64, InputError> {
        column
            .read(self.text(f), self.line)
            .map_err(|e| self.error(f.name, e))
    }

    /// A finite number ≥ 0, and above 0 unless `zero_ok`.
    fn number(&self, f: Field, zero_ok: bool) -> Result<f64, InputError> {
        let text = self.text(f);
        let v: f64 = text
            .parse()
            .map_err(|_| self.error(f.name, format!("{:?} is not a number", snippet(text))))?;
        if !v.is_finite() || v < 0.0 || (!zero_ok && v == 0.0) {
            let allowed = if zero_ok { "0 or more" } else { "above 0" };
            return Err(self.error(
                f.name,
                format!("{:?} is not a finite number {allowed}", snippet(text)),
            ));
        }
        Ok(v)
    }

    /// A bar, with open and close inside its `[low, high]` range.
    fn bar(&self, c: &BarColumns, time: &mut TimeColumn) -> Result<Bar, InputError> {
        let bar = Bar {
            time_ms: self.time(c.time, time)?,
            open: self.number(c.open, false)?,
            high: self.number(c.high, false)?,
            low: self.number(c.low, false)?,
            close: self.number(c.close, false)?,
            volume: match c.volume {
                Some(f) => self.number(f, true)?,
                None => 0.0,
            },
        };
        if bar.high < bar.low {
            return Err(self.error(
                c.high.name,
                format!("high {} is below low {}", bar.high, bar.low),
            ));
        }
        for (f, v) in [(c.open, bar.open), (c.close, bar.close)] {
            if v < bar.low || v > bar.high {
                return Err(self.error(
                    f.name,
                    format!("{v} is outside the bar's range [{}, {}]", bar.low, bar.high),
                ));
            }
        }
        Ok(bar)
    }

    /// Bars' times increase strictly; trades' never decrease.
    fn check_order(
        &self,
        kind: MarketKind,
        prev: &Bar,
        bar: &Bar,
        time: &str,
    ) -> Result<(), InputError> {
        let ordered = match kind {
            MarketKind::Bars => bar.time_ms > prev.time_ms,
            MarketKind::Trades => bar.time_ms >= prev.time_ms,
        };
        if ordered {
            return Ok(());
        }
        Err(self.error(
            time,
            format!(
                "{} is not after the previous row's {} (times must increase)",
                bar.time_ms, prev.time_ms
            ),
        ))
    }
}
