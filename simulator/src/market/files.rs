//! Market files on disk: plain CSV, gzip (`.gz`) or a zip archive holding
//! exactly one file (`.zip`), and the symbol a file's name gives.

use std::io::{BufReader, Read};
use std::path::Path;

use super::binance::symbol_of_stem;
use super::{parse_bytes_as, MarketFormat, MarketSeries};
use crate::input::InputError;

/// The endings of the files a market directory is read for, longest first.
const ENDINGS: [&str; 3] = [".csv.gz", ".csv", ".zip"];

/// `name` without its market-file ending, if it has one (any case).
fn stem(name: &str) -> Option<&str> {
    ENDINGS.iter().find_map(|ending| {
        let cut = name.len().checked_sub(ending.len())?;
        let tail = name.get(cut..)?;
        tail.eq_ignore_ascii_case(ending).then(|| &name[..cut])
    })
}

/// The symbol a market directory's file stands for: its name less the
/// ending, and for Binance's names (`BTCUSDT-1m-2024-01.zip`) the part
/// before the interval. `None` for a file that is not market data.
pub fn symbol_of_file(path: &Path) -> Option<&str> {
    let stem = stem(path.file_name()?.to_str()?)?;
    (!stem.is_empty()).then(|| symbol_of_stem(stem))
}

/// Reads one file, decompressed by its ending (`.gz`, `.zip`).
pub fn read_series_as(
    path: &Path,
    symbol: &str,
    format: MarketFormat,
) -> Result<MarketSeries, InputError> {
    let source = path.display().to_string();
    let bytes = read_bytes(path, &source)?;
    parse_bytes_as(&bytes, &source, symbol, format)
}

/// A market file's text, whole: the file, or what it decompresses to (the
/// fast loader reads one buffer in one pass).
pub(super) fn read_bytes(path: &Path, source: &str) -> Result<Vec<u8>, InputError> {
    let cannot = |e: std::io::Error| InputError::file(source, format!("cannot read: {e}"));
    let ends_with = |ending: &str| {
        path.extension()
            .is_some_and(|x| x.eq_ignore_ascii_case(ending))
    };
    if ends_with("gz") {
        let file = std::fs::File::open(path).map_err(cannot)?;
        let mut bytes = Vec::new();
        flate2::read::MultiGzDecoder::new(BufReader::new(file))
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
        Ok(bytes)
    } else if ends_with("zip") {
        let file = std::fs::File::open(path).map_err(cannot)?;
        read_zip(file, source)
    } else {
        std::fs::read(path).map_err(cannot)
    }
}

/// The text of the one file in a zip archive.
fn read_zip(file: std::fs::File, source: &str) -> Result<Vec<u8>, InputError> {
    let bad = |e: zip::result::ZipError| {
        InputError::file(source, format!("cannot read the zip archive: {e}"))
    };
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(bad)?;
    let names: Vec<String> = archive
        .file_names()
        .filter(|n| !n.ends_with('/'))
        .map(String::from)
        .collect();
    let [name] = names.as_slice() else {
        return Err(InputError::file(
            source,
            format!(
                "a zip archive must hold exactly one CSV file; this one holds {}{}",
                names.len(),
                listed(&names)
            ),
        ));
    };
    let mut entry = archive.by_name(name).map_err(bad)?;
    // The size is the archive's word, so only a hint, capped.
    let mut bytes = Vec::with_capacity(entry.size().min(1 << 30) as usize);
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::file(source, format!("cannot read: {e}")))?;
    Ok(bytes)
}

/// `: a, b, c` (at most 5 names), or nothing.
fn listed(names: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    let more = if names.len() > 5 { ", ..." } else { "" };
    format!(": {}{more}", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_file_names() {
        fn symbol(name: &str) -> Option<&str> {
            symbol_of_file(Path::new(name))
        }
        assert_eq!(symbol("d/BTC-USDT.csv"), Some("BTC-USDT"));
        assert_eq!(symbol("BTCUSDT-1m-2024-01.zip"), Some("BTCUSDT"));
        assert_eq!(symbol("BTCUSDT-1m-2024-01.CSV.GZ"), Some("BTCUSDT"));
        assert_eq!(symbol("BTCUSDT-aggTrades-2024-01-01.csv"), Some("BTCUSDT"));
        assert_eq!(symbol("notes.txt"), None);
        assert_eq!(symbol("data.gz"), None);
        assert_eq!(symbol(".csv"), None);
    }
}
