//! The cache is used only while its source is unchanged and it passes its
//! checks; otherwise it is ignored and written again; a cached load equals
//! a parsed one.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::super::{MarketData, MarketFormat, MarketSource};
use super::*;

const BARS: &str = "time,open,high,low,close,volume\n\
    1704067200000,100,110,90,105,3\n1704067260000,105,106,104,104.5,0\n";

fn load(path: &Path, cache: &MarketCache) -> MarketSource<'static> {
    let pairs = [("BTC/USDT".to_string(), path.to_path_buf())];
    MarketSource::open(&pairs, &[], &["USDT"], MarketFormat::Auto, Some(cache)).unwrap()
}

fn parsed(path: &Path) -> MarketData {
    let pairs = [("BTC/USDT".to_string(), path.to_path_buf())];
    MarketData::load(&pairs, &[], &["USDT"]).unwrap()
}

/// The one cache file of the directory.
fn cache_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

fn is_cached(s: &MarketSource<'_>) -> bool {
    matches!(s.series[0].parts[0], super::super::source::Part::Cached(_))
}

fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[test]
fn a_cached_load_equals_the_parsed_load_and_is_used_while_the_source_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let cache = MarketCache::new(dir.path().join("cache"));
    let csv = dir.path().join("btc.csv");
    std::fs::write(&csv, BARS).unwrap();
    let first = load(&csv, &cache);
    assert!(is_cached(&first));
    assert_eq!(first.to_data().unwrap(), parsed(&csv));
    assert_eq!(first.series[0].rows, 2);

    // The same size and mtime with other bytes: the cache answers (the key
    // is what stat tells), proof that the second load did not parse.
    let t = std::fs::metadata(&csv).unwrap().modified().unwrap();
    std::fs::write(&csv, BARS.replace("105,3", "105,4")).unwrap();
    set_mtime(&csv, t);
    let second = load(&csv, &cache);
    assert_eq!(second.to_data().unwrap().series[0].bars[0].volume, 3.0);
}

#[test]
fn a_stale_cache_is_never_used() {
    let dir = tempfile::tempdir().unwrap();
    let cache = MarketCache::new(dir.path().join("cache"));
    let csv = dir.path().join("btc.csv");
    std::fs::write(&csv, BARS).unwrap();
    let t = std::fs::metadata(&csv).unwrap().modified().unwrap();
    load(&csv, &cache);
    // Another size, same mtime.
    std::fs::write(&csv, BARS.replace("105,3", "105,30")).unwrap();
    set_mtime(&csv, t);
    let data = load(&csv, &cache).to_data().unwrap();
    assert_eq!(data.series[0].bars[0].volume, 30.0);
    assert_eq!(data, parsed(&csv));
    // Same size, another mtime.
    std::fs::write(&csv, BARS.replace("105,3", "105,7")).unwrap();
    set_mtime(&csv, t + Duration::from_secs(1));
    let data = load(&csv, &cache).to_data().unwrap();
    assert_eq!(data.series[0].bars[0].volume, 7.0);
    // One cache file per source, replaced each time.
    cache_file(cache.dir());
}

#[test]
fn truncated_other_version_and_corrupted_caches_are_ignored_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let cache = MarketCache::new(dir.path().join("cache"));
    let csv = dir.path().join("btc.csv");
    std::fs::write(&csv, BARS).unwrap();
    load(&csv, &cache);
    let file = cache_file(cache.dir());
    let good = std::fs::read(&file).unwrap();
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let damages: Vec<(&str, Damage)> = vec![
        (
            "truncated",
            Box::new(|b: &mut Vec<u8>| b.truncate(b.len() - 3)),
        ),
        ("longer", Box::new(|b: &mut Vec<u8>| b.push(0))),
        ("empty", Box::new(|b: &mut Vec<u8>| b.clear())),
        ("other version", Box::new(|b: &mut Vec<u8>| b[8] ^= 0xFF)),
        ("other magic", Box::new(|b: &mut Vec<u8>| b[0] = b'X')),
        ("a header byte", Box::new(|b: &mut Vec<u8>| b[20] ^= 1)),
        (
            "a body byte",
            Box::new(|b: &mut Vec<u8>| {
                let n = b.len();
                b[n - 5] ^= 1;
            }),
        ),
    ];
    let key = CacheKey::of(&csv, MarketFormat::Auto).unwrap();
    for (what, damage) in damages {
        let mut bytes = good.clone();
        damage(&mut bytes);
        std::fs::write(&file, &bytes).unwrap();
        assert_eq!(cache.lookup(&key), None, "{what}");
        let again = load(&csv, &cache);
        assert!(is_cached(&again), "{what}");
        assert_eq!(again.to_data().unwrap(), parsed(&csv), "{what}");
        assert_eq!(std::fs::read(&file).unwrap(), good, "{what}: not rewritten");
    }
}

#[test]
fn without_a_writable_cache_the_bars_stay_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("btc.csv");
    std::fs::write(&csv, BARS).unwrap();
    // The cache directory is a file: nothing can be written there.
    let blocked = dir.path().join("blocked");
    std::fs::write(&blocked, "").unwrap();
    let source = load(&csv, &MarketCache::new(&blocked));
    assert!(!is_cached(&source));
    assert_eq!(source.to_data().unwrap(), parsed(&csv));
    assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".tmp")));
}

#[test]
fn blocks_round_trip_bars_and_trades() {
    let dir = tempfile::tempdir().unwrap();
    let cache = MarketCache::new(dir.path());
    let bars: Vec<Bar> = (0..(BLOCK_ROWS as i64 * 2 + 7))
        .map(|i| Bar {
            time_ms: 1_700_000_000_000 + i * 60_000,
            open: 1.0 + i as f64,
            high: 3.0 + i as f64,
            low: 0.5 + i as f64,
            close: 2.0 + i as f64,
            volume: i as f64 / 3.0,
        })
        .collect();
    let src = dir.path().join("x.csv");
    std::fs::write(&src, "x").unwrap();
    let key = CacheKey::of(&src, MarketFormat::Auto).unwrap();
    let file = cache.store(&key, MarketKind::Bars, &bars).unwrap();
    assert_eq!(file.read_all().unwrap(), bars);
    assert_eq!(cache.lookup(&key), Some(file));
    let trades: Vec<Bar> = bars
        .iter()
        .map(|b| Bar {
            open: b.close,
            high: b.close,
            low: b.close,
            ..*b
        })
        .collect();
    let file = cache.store(&key, MarketKind::Trades, &trades).unwrap();
    assert_eq!(file.header.kind, MarketKind::Trades);
    assert_eq!(file.read_all().unwrap(), trades);
    // Trades take half the room of bars.
    let header = file.body_at;
    assert_eq!(
        std::fs::metadata(&file.path).unwrap().len() - header,
        trades.len() as u64 * 24
    );
    assert!(cache.store(&key, MarketKind::Bars, &[]).is_err());
}

#[test]
fn monthly_files_join_the_same_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let market = dir.path().join("m");
    std::fs::create_dir(&market).unwrap();
    let klines = |from: i64, n: i64| {
        (0..n)
            .map(|i| from + i * 60_000)
            .map(|t| format!("{t},1,2,0.5,1.5,3,{},0,1,0,0,0\n", t + 59_999))
            .collect::<String>()
    };
    let jan = 1_706_745_600_000 - 3 * 60_000;
    std::fs::write(
        market.join("BTCUSDT-1m-2024-02.csv"),
        klines(1_706_745_600_000, 3),
    )
    .unwrap();
    std::fs::write(market.join("BTCUSDT-1m-2024-01.csv"), klines(jan, 3)).unwrap();
    std::fs::write(
        market.join("BTCUSDT-1m-2024-03.csv"),
        klines(1_706_745_600_000 + 86_400_000, 2),
    )
    .unwrap();
    let dirs = [market.clone()];
    let memory = MarketData::load(&[], &dirs, &["USDT"]).unwrap();
    let cache = MarketCache::new(dir.path().join("cache"));
    for _ in 0..2 {
        let cached =
            MarketSource::open(&[], &dirs, &["USDT"], MarketFormat::Auto, Some(&cache)).unwrap();
        assert!(is_cached(&cached));
        assert_eq!(cached.gaps, memory.gaps);
        assert_eq!(
            cached.series[0].span_ms,
            (jan, 1_706_745_600_000 + 86_400_000 + 60_000)
        );
        assert_eq!(cached.to_data().unwrap(), memory);
    }
    assert_eq!(memory.gaps.len(), 1);
}
