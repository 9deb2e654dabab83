//! The reference reader: the `csv` crate, record by record, every value
//! checked by [`Rows`](super::rows::Rows). It is the one place that words
//! market-data errors: the fast loader ([`super::fast`]) hands any file it
//! cannot read to it, so both agree on every error (file, line, field and
//! message) by construction, and the proptests check they agree on values.

use super::detect;
use super::rows::Rows;
use super::{Bar, MarketFormat, MarketSeries};
use crate::input::InputError;

/// Parses one file's text (CSV, already decompressed) in `format`.
pub(super) fn parse(
    reader: impl std::io::Read,
    source: &str,
    symbol: &str,
    format: MarketFormat,
) -> Result<MarketSeries, InputError> {
    let (mut csv, mut record, line) = first_record(reader, source)?;
    let layout = detect::layout(&record, line, source, format)?;
    let mut rows = Rows::new(source, &layout);
    let mut bars: Vec<Bar> = Vec::new();
    if !layout.header {
        rows.push(&record, &mut bars)?;
    }
    while read_record(&mut csv, &mut record, source)? {
        rows.push(&record, &mut bars)?;
    }
    if bars.is_empty() {
        return Err(InputError::file(source, "has a header but no rows"));
    }
    Ok(MarketSeries {
        symbol: symbol.to_string(),
        source: source.to_string(),
        kind: layout.columns.kind(),
        bars,
    })
}

/// A CSV reader on `reader` and its first record, at the line returned;
/// an empty file is an error.
pub(super) fn first_record<R: std::io::Read>(
    reader: R,
    source: &str,
) -> Result<(csv::Reader<R>, csv::StringRecord, u64), InputError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let mut record = csv::StringRecord::new();
    if !read_record(&mut csv, &mut record, source)? {
        return Err(InputError::file(
            source,
            format!("empty; expected {}", detect::EXPECTED),
        ));
    }
    let line = record.position().map_or(1, |p| p.line());
    Ok((csv, record, line))
}

/// Reads the next record into `record`; `false` at the end of the file.
fn read_record<R: std::io::Read>(
    csv: &mut csv::Reader<R>,
    record: &mut csv::StringRecord,
    source: &str,
) -> Result<bool, InputError> {
    csv.read_record(record).map_err(|e| {
        let line = e.position().map_or(0, |p| p.line());
        match e.kind() {
            csv::ErrorKind::Io(io) => InputError::line(source, line, format!("cannot read: {io}")),
            _ => InputError::line(source, line, format!("malformed CSV row: {e}")),
        }
    })
}
