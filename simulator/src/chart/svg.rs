//! The price charts of the HTML page: one inline SVG per symbol, with its
//! fills and the alerts the gate rejected marked, zoomable without script.
//!
//! Zoom is plain HTML and CSS: three radio buttons (1×, 4×, 16×) before a
//! horizontally scrollable box; the checked one sets the plot's CSS width
//! (`:checked ~`). So that zooming stretches the time axis but not the
//! markers or the text, the plot has no viewBox: the candles and lines sit
//! in a nested SVG whose viewBox is stretched (`preserveAspectRatio="none"`,
//! strokes `non-scaling-stroke`), and markers and labels are placed at
//! percentages of the plot's width, in unscaled pixels. At 1× the chart
//! shows each candle's range as a band with the close line through it
//! (2,000 candles in 900 pixels would be noise); from 4× on, candles.
//!
//! Markers: a fill is a triangle (up, green: buy; down, red: sell) whose tip
//! is at its price, centred on the candle it filled in; a rejected alert is
//! a cross in the "rejected" lane under the prices at the time the gate
//! checked it, with a faint line up through the prices. Each carries an SVG
//! `<title>` (the browser's tooltip): time, side, quantity, price and
//! reason, or the rejection's code, line and message. Rejected alerts whose
//! body names no symbol with market data get a lane of their own.

use std::fmt::Write as _;

use alertgate_validator::time::Rfc3339;
use alertgate_validator::Side;

use super::{Candle, PriceChart, WIDTHS_MS};
use crate::html::escape;
use crate::report::RejectionRow;

/// The charts' CSS, added to the page's style sheet.
pub const STYLE: &str = ".pc{margin:1.5em 0}.pc h3{margin:.2em 0;font-size:1em}\
.zoom>input{position:absolute;opacity:0;pointer-events:none}\
.zoom>label{display:inline-block;padding:0 .6em;margin:0 .3em .3em 0;border:1px solid #bbb;border-radius:3px;cursor:pointer;font-size:.85em}\
.zoom>input:checked+label{background:#1f6feb;border-color:#1f6feb;color:#fff}\
.zoom>input:focus-visible+label{outline:2px solid #1f6feb}\
.legend{font-size:.85em;color:#555;margin-left:1em}.legend .b{color:#1a7f37}.legend .s{color:#d1242f}.legend .r{color:#b35900}\
.frame{display:flex;align-items:flex-start}.scroll{flex:1;overflow-x:auto;min-width:0}\
svg.axis{border-right:none;flex:none}svg.plot{display:block;border-left:none;box-sizing:border-box}\
.z4:checked~.frame svg.plot{width:400%}.z16:checked~.frame svg.plot{width:1600%}\
.cdl,.tk4,.tk16{display:none}\
.z4:checked~.frame .cdl,.z16:checked~.frame .cdl,.z4:checked~.frame .tk4,.z16:checked~.frame .tk4,.z16:checked~.frame .tk16{display:inline}\
.z4:checked~.frame .band,.z16:checked~.frame .band{display:none}\
.mk{cursor:help}.mk:hover use{stroke:#000}";

/// Plot height and its bands, px: prices, the rejection lane, time labels.
const HEIGHT: f64 = 316.0;
const PRICE_TOP: f64 = 14.0;
const PRICE_BOTTOM: f64 = 250.0;
const LANE_Y: f64 = 274.0;
const TICK_Y: f64 = 308.0;
/// The nested SVG's viewBox width: time maps onto 0..this.
const VIEW_W: f64 = 10_000.0;
/// Width of the price labels' column, px.
const AXIS_W: f64 = 74.0;
/// Time labels: this many intervals; every 16th shows at 1×, every 4th
/// from 4×, all at 16×.
const TICKS: i64 = 64;

/// The markers' shapes, once per page (`<use href="#m-buy">`).
pub const DEFS: &str = "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs>\
<path id=\"m-buy\" d=\"M0,0L6,11H-6Z\" fill=\"#1a7f37\" stroke=\"#fff\" stroke-width=\"1\"/>\
<path id=\"m-sell\" d=\"M0,0L6,-11H-6Z\" fill=\"#d1242f\" stroke=\"#fff\" stroke-width=\"1\"/>\
<path id=\"m-rej\" d=\"M-5,-5L5,5M5,-5L-5,5\" stroke=\"#b35900\" stroke-width=\"2.5\" stroke-linecap=\"round\"/>\
</defs></svg>";

/// Maps time and price onto the plot.
#[derive(Debug, Clone, Copy)]
struct Scale {
    t0: i64,
    t1: i64,
    lo: f64,
    hi: f64,
}

impl Scale {
    /// Share of the time axis, 0..1 (clamped).
    fn frac(&self, t: i64) -> f64 {
        let span = (self.t1 - self.t0).max(1) as f64;
        ((t - self.t0) as f64 / span).clamp(0.0, 1.0)
    }

    /// x in the nested SVG's viewBox.
    fn vx(&self, t: i64) -> f64 {
        self.frac(t) * VIEW_W
    }

    /// x in percent of the plot's width.
    fn pct(&self, t: i64) -> f64 {
        self.frac(t) * 100.0
    }

    fn y(&self, price: f64) -> f64 {
        PRICE_BOTTOM - (price - self.lo) / (self.hi - self.lo) * (PRICE_BOTTOM - PRICE_TOP)
    }
}

/// `v` with about eight significant digits, trailing zeros dropped.
pub fn num(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return format!("{v}");
    }
    let decimals = (7 - v.abs().log10().floor() as i64).clamp(0, 12) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A candle's time slot: from its first bar to the next candle, at most
/// one bucket (or one typical step between candles, for bars not merged).
fn slots(candles: &[Candle], bucket_ms: i64) -> Vec<(i64, i64)> {
    let step = candles
        .windows(2)
        .map(|w| w[1].time_ms.saturating_sub(w[0].time_ms))
        .filter(|&d| d > 0)
        .min()
        .unwrap_or(1)
        .max(bucket_ms);
    candles
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let end = c.time_ms.saturating_add(step);
            let end = candles.get(i + 1).map_or(end, |n| end.min(n.time_ms));
            (c.time_ms, end.max(c.time_ms.saturating_add(1)))
        })
        .collect()
}

/// The slot of the candle that holds `t` (the last one starting at or
/// before it), if any.
fn slot_of(candles: &[Candle], slots: &[(i64, i64)], t: i64) -> Option<(i64, i64)> {
    let i = candles.partition_point(|c| c.time_ms <= t).checked_sub(1)?;
    slots.get(i).copied()
}

fn mid(slot: (i64, i64)) -> i64 {
    slot.0 + (slot.1 - slot.0) / 2
}

/// The plot's scale: time from the first candle (or rejection) to the end
/// of the last; prices over every candle and fill, with a margin.
fn scale_of(chart: &PriceChart, slots: &[(i64, i64)], rejections: &[&RejectionRow]) -> Scale {
    let times = slots
        .iter()
        .flat_map(|s| [s.0, s.1])
        .chain(rejections.iter().map(|r| r.checked_at_ms));
    let (t0, t1) = times.fold((i64::MAX, i64::MIN), |(a, b), t| (a.min(t), b.max(t)));
    let prices = chart
        .series
        .candles()
        .iter()
        .flat_map(|c| [c.low, c.high])
        .chain(chart.fills.iter().map(|f| f.price))
        .filter(|p| p.is_finite());
    let (lo, hi) = prices.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
        (l.min(p), h.max(p))
    });
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.04).max(hi.abs() * 1e-6).max(1e-9);
    Scale {
        t0: if t0 <= t1 { t0 } else { 0 },
        t1: if t0 <= t1 { t1 } else { 1 },
        lo: lo - pad,
        hi: hi + pad,
    }
}

/// A step of 1, 2 or 5 times a power of ten giving about five intervals.
fn nice_step(range: f64) -> f64 {
    let raw = (range / 5.0).max(f64::MIN_POSITIVE);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power)
}

/// The price labels' column (fixed while the plot scrolls), and the
/// matching horizontal grid lines for the plot.
fn price_axis(s: &Scale, with_prices: bool) -> (String, String) {
    let mut axis =
        format!("<svg class=\"axis\" width=\"{AXIS_W}\" height=\"{HEIGHT}\" aria-hidden=\"true\">");
    let mut grid = String::new();
    let step = nice_step(s.hi - s.lo);
    let mut p = (s.lo / step).ceil() * step;
    while p <= s.hi && with_prices {
        let y = s.y(p);
        let _ = write!(
            axis,
            "<text x=\"{:.0}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            AXIS_W - 6.0,
            y + 4.0,
            num(p)
        );
        let _ = write!(
            grid,
            "<line x1=\"0\" x2=\"100%\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>"
        );
        p += step;
    }
    let _ = write!(
        axis,
        "<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\" text-anchor=\"end\" fill=\"#b35900\">rejected</text></svg>",
        AXIS_W - 6.0,
        LANE_Y + 4.0
    );
    (axis, grid)
}

/// The prices, in the stretched nested SVG: the band and close line (1×)
/// and the candles (4× and up).
fn prices(candles: &[Candle], slots: &[(i64, i64)], s: &Scale) -> String {
    let mut out = String::new();
    let (mut upper, mut lower, mut close) = (String::new(), String::new(), String::new());
    for (c, slot) in candles.iter().zip(slots) {
        let x = s.vx(mid(*slot));
        let _ = write!(upper, "{x:.1},{:.1} ", s.y(c.high));
        let _ = write!(lower, "{x:.1},{:.1} ", s.y(c.low));
        let _ = write!(close, "{x:.1},{:.1} ", s.y(c.close));
    }
    let lower_back: Vec<&str> = lower.split_whitespace().rev().collect();
    let _ = write!(
        out,
        "<g class=\"band\"><polygon fill=\"#1f6feb\" fill-opacity=\"0.13\" points=\"{upper}{}\"/>\
         <polyline class=\"close\" fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"1.3\" vector-effect=\"non-scaling-stroke\" points=\"{close}\"/></g>",
        lower_back.join(" ")
    );
    out.push_str(&candle_paths(candles, slots, s));
    out
}

/// The candles as four paths (wicks and bodies, rising and falling), not
/// an element each: a fifth of the bytes for thousands of candles.
fn candle_paths(candles: &[Candle], slots: &[(i64, i64)], s: &Scale) -> String {
    // [rising, falling] × [wicks, bodies].
    let mut d = [
        [String::new(), String::new()],
        [String::new(), String::new()],
    ];
    for (c, slot) in candles.iter().zip(slots) {
        let (a, b) = (s.vx(slot.0), s.vx(slot.1));
        let w = (b - a) * 0.7;
        let x = (a + b) / 2.0;
        let [wicks, bodies] = &mut d[usize::from(c.close < c.open)];
        let (top, bottom) = (s.y(c.open.max(c.close)), s.y(c.open.min(c.close)));
        let _ = write!(wicks, "M{x:.1} {:.1}V{:.1}", s.y(c.high), s.y(c.low));
        let _ = write!(
            bodies,
            "M{:.1} {top:.1}h{w:.1}v{:.1}h-{w:.1}z",
            x - w / 2.0,
            (bottom - top).max(0.8)
        );
    }
    let mut out = String::from("<g class=\"cdl\">");
    for ([wicks, bodies], color) in d.iter().zip(["#1a7f37", "#d1242f"]) {
        let _ = write!(
            out,
            "<path d=\"{wicks}\" stroke=\"{color}\" vector-effect=\"non-scaling-stroke\"/><path d=\"{bodies}\" fill=\"{color}\"/>"
        );
    }
    out.push_str("</g>");
    out
}

/// One marker per fill, at its price, centred on the candle it filled in.
fn fill_markers(chart: &PriceChart, slots: &[(i64, i64)], s: &Scale) -> String {
    let mut out = String::new();
    let candles = chart.series.candles();
    for f in &chart.fills {
        let t = slot_of(candles, slots, f.time_ms).map_or(f.time_ms, mid);
        let (class, side) = match f.side {
            Side::Buy => ("buy", "buy"),
            Side::Sell => ("sell", "sell"),
        };
        let _ = write!(
            out,
            "<g class=\"mk {class}\"><title>{side} {} at {} · {} · {} ({})</title><use href=\"#m-{class}\" x=\"{:.3}%\" y=\"{:.1}\"/></g>",
            num(f.quantity),
            num(f.price),
            Rfc3339(f.time_ms),
            escape(&chart.symbol),
            f.reason,
            s.pct(t),
            s.y(f.price)
        );
    }
    out
}

/// One cross per rejected alert in the lane, at the time the gate checked
/// it, with its code in the tooltip; and a faint line through the prices
/// (in the stretched SVG, returned second).
fn rejection_markers(rejections: &[&RejectionRow], s: &Scale, prices: bool) -> (String, String) {
    let (mut marks, mut guides) = (String::new(), String::new());
    for r in rejections {
        let _ = write!(
            marks,
            "<g class=\"mk rej\"><title>rejected: {} (HTTP {}) · checked {} · received {} · line {} · {}</title><use href=\"#m-rej\" x=\"{:.3}%\" y=\"{LANE_Y}\"/></g>",
            escape(r.code),
            r.status,
            Rfc3339(r.checked_at_ms),
            escape(&r.received_at),
            r.line,
            escape(&r.message),
            s.pct(r.checked_at_ms)
        );
        if prices {
            let x = s.vx(r.checked_at_ms);
            let _ = write!(
                guides,
                "<line x1=\"{x:.2}\" x2=\"{x:.2}\" y1=\"{PRICE_TOP}\" y2=\"{:.0}\" stroke=\"#b35900\" stroke-opacity=\"0.35\" stroke-dasharray=\"3 3\" vector-effect=\"non-scaling-stroke\"/>",
                LANE_Y - 8.0
            );
        }
    }
    (marks, guides)
}

/// Time labels under the plot, in three levels of density: [`TICKS`]
/// equal steps, each time rounded to a round unit (the largest of
/// [`WIDTHS_MS`] within a step: whole days, 12 h, 15 min), so labels read
/// `2024-03-12` or `2024-01-06 18:00` rather than `16:52`.
fn time_ticks(s: &Scale) -> String {
    let span = (s.t1 - s.t0).max(1);
    let unit = WIDTHS_MS
        .iter()
        .copied()
        .rev()
        .find(|&w| w <= span / TICKS)
        .unwrap_or(1);
    let mut out = String::new();
    for i in 0..=TICKS {
        let exact = s.t0 + (span as f64 * i as f64 / TICKS as f64) as i64;
        let t = (exact as f64 / unit as f64).round() as i64 * unit;
        // The ends stay exact: they say where the data starts and stops.
        let edge = i == 0 || i == TICKS;
        let t = if edge || t < s.t0 || t > s.t1 {
            exact
        } else {
            t
        };
        let class = match i {
            _ if i % 16 == 0 => "tk1",
            _ if i % 4 == 0 => "tk4",
            _ => "tk16",
        };
        let anchor = match i {
            0 => "start",
            TICKS => "end",
            _ => "middle",
        };
        let _ = write!(
            out,
            "<g class=\"{class}\"><line x1=\"{p:.3}%\" x2=\"{p:.3}%\" y1=\"{:.0}\" y2=\"{:.0}\" stroke=\"#999\"/>\
             <text x=\"{p:.3}%\" y=\"{TICK_Y}\" font-size=\"11\" text-anchor=\"{anchor}\">{}</text></g>",
            TICK_Y - 14.0,
            TICK_Y - 10.0,
            time_label(t, unit),
            p = s.pct(t)
        );
    }
    out
}

/// `2024-03-12` for ticks of whole days, `2024-03-12 18:00 UTC` within
/// a day, seconds below a minute.
fn time_label(t: i64, unit: i64) -> String {
    let text = Rfc3339(t).to_string();
    let date = &text[..10.min(text.len())];
    match unit {
        _ if unit % 86_400_000 == 0 && t % 86_400_000 == 0 => date.to_string(),
        _ if unit >= 60_000 => format!("{date} {} UTC", text.get(11..16).unwrap_or("")),
        _ => format!("{date} {} UTC", text.get(11..19).unwrap_or("")),
    }
}

/// The zoom buttons of chart `id`, before its frame.
fn zoom_buttons(out: &mut String, id: &str) {
    for (z, checked) in [(1, " checked"), (4, ""), (16, "")] {
        let _ = write!(
            out,
            "<input type=\"radio\" name=\"{id}\" id=\"{id}-{z}\" class=\"z{z}\"{checked}><label for=\"{id}-{z}\">{z}×</label>"
        );
    }
    out.push_str("<span class=\"legend\"><span class=\"b\">▲</span> buy <span class=\"s\">▼</span> sell <span class=\"r\">✕</span> rejected · hover a marker for details</span>");
}

/// `n` and the noun, plural unless one.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// A human name for a bucket width.
fn period(ms: i64) -> String {
    match ms {
        _ if ms % 86_400_000 == 0 => format!("{} d", ms / 86_400_000),
        _ if ms % 3_600_000 == 0 => format!("{} h", ms / 3_600_000),
        _ if ms % 60_000 == 0 => format!("{} min", ms / 60_000),
        _ if ms % 1_000 == 0 => format!("{} s", ms / 1_000),
        _ => format!("{ms} ms"),
    }
}

/// One symbol's chart (`chart`; `None`: the lane of rejected alerts that
/// name no charted symbol) as a section of the page; `id` names its zoom
/// buttons and must be unique in the page.
pub fn price_chart(
    chart: Option<&PriceChart>,
    rejections: &[&RejectionRow],
    span: Option<(i64, i64)>,
    id: &str,
) -> String {
    let empty = PriceChart {
        symbol: String::new(),
        series: super::ChartSeries::new(2),
        fills: Vec::new(),
    };
    let c = chart.unwrap_or(&empty);
    let candles = c.series.candles();
    let slots = slots(candles, c.series.bucket_ms());
    let mut s = scale_of(c, &slots, rejections);
    if let Some((t0, t1)) = span.filter(|_| chart.is_none()) {
        (s.t0, s.t1) = (s.t0.min(t0), s.t1.max(t1));
    }
    let mut out = String::from("<section class=\"pc\">");
    heading(&mut out, chart, rejections.len());
    out.push_str("<div class=\"zoom\">");
    zoom_buttons(&mut out, id);
    let (axis, grid) = price_axis(&s, chart.is_some());
    let (marks, guides) = rejection_markers(rejections, &s, chart.is_some());
    // Without prices (the lane of symbol-less rejections), the price band
    // is cut off: everything moves up and the box is shorter.
    let top = if chart.is_some() { 0.0 } else { LANE_Y - 24.0 };
    let height = HEIGHT - top;
    let _ = write!(
        out,
        "<div class=\"frame\">{}<div class=\"scroll\"><svg class=\"plot\" width=\"100%\" height=\"{height}\" role=\"img\" aria-label=\"{} price chart\"><g transform=\"translate(0 {})\">{grid}\
         <svg x=\"0\" y=\"0\" width=\"100%\" height=\"{HEIGHT}\" viewBox=\"0 0 {VIEW_W} {HEIGHT}\" preserveAspectRatio=\"none\">{}{guides}</svg>\
         <line x1=\"0\" x2=\"100%\" y1=\"{:.0}\" y2=\"{:.0}\" stroke=\"#ccc\"/>{}{}{marks}</g></svg></div></div></div></section>",
        axis.replace(&format!("height=\"{HEIGHT}\" aria-hidden=\"true\">"), &format!("height=\"{height}\" aria-hidden=\"true\"><g transform=\"translate(0 {})\">", -top)).replace("</svg>", "</g></svg>"),
        escape(&c.symbol),
        -top,
        prices(candles, &slots, &s),
        LANE_Y - 12.0,
        LANE_Y - 12.0,
        time_ticks(&s),
        fill_markers(c, &slots, &s),
    );
    out
}

/// The chart's title and a line on what it shows.
fn heading(out: &mut String, chart: Option<&PriceChart>, rejected: usize) {
    match chart {
        Some(c) => {
            let bars = c.series.bars();
            let n = c.series.candles().len();
            let candles = if bars == n as u64 {
                format!("{bars} bars, one candle each")
            } else {
                format!(
                    "{bars} bars in {n} candles of {}",
                    period(c.series.bucket_ms())
                )
            };
            let _ = write!(
                out,
                "<h3>{}</h3><p class=\"small\">{candles} · {} · {}</p>",
                escape(&c.symbol),
                count(c.fills.len(), "fill"),
                count(rejected, "rejected alert")
            );
        }
        None => {
            let _ = write!(
                out,
                "<h3>Rejected alerts naming no charted symbol</h3><p class=\"small\">{} whose body was not read as far as a symbol with market data</p>",
                count(rejected, "rejected alert")
            );
        }
    }
}

/// Every price chart of a report: one per symbol, then one lane for the
/// rejected alerts that name no charted symbol (if any).
pub fn price_charts(h: &mut String, charts: &[PriceChart], rejections: &[RejectionRow]) {
    h.push_str("<h2>Prices, fills and rejected alerts</h2>");
    h.push_str(DEFS);
    let named = |r: &&RejectionRow, symbol: &str| r.symbol.as_deref() == Some(symbol);
    for (i, c) in charts.iter().enumerate() {
        let mine: Vec<&RejectionRow> = rejections.iter().filter(|r| named(r, &c.symbol)).collect();
        h.push_str(&price_chart(Some(c), &mine, None, &format!("pc{i}")));
    }
    let orphans: Vec<&RejectionRow> = rejections
        .iter()
        .filter(|r| !charts.iter().any(|c| named(r, &c.symbol)))
        .collect();
    if !orphans.is_empty() {
        let span = charts
            .iter()
            .filter_map(|c| {
                // The same time axis as the charts above: to the end of
                // the last candle's slot.
                let slots = slots(c.series.candles(), c.series.bucket_ms());
                Some((slots.first()?.0, slots.last()?.1))
            })
            .fold(None, |acc: Option<(i64, i64)>, (a, b)| {
                Some(acc.map_or((a, b), |(x, y)| (x.min(a), y.max(b))))
            });
        h.push_str(&price_chart(None, &orphans, span, "pcx"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::{ChartSeries, FillMark};
    use crate::report::Report;
    use crate::stream::RecordedRequest;
    use crate::synthetic::Workload;

    /// A synthetic run with fills, plus a replayed copy of an alert (a
    /// rejection naming its symbol) and an unreadable body (one naming
    /// none), through the whole page.
    #[test]
    fn the_page_has_a_chart_per_symbol_and_a_marker_per_fill_and_rejection() {
        let mut w = Workload::generate(600, 60, 5);
        let first = w.stream.requests[0].clone();
        let last_ms = w.stream.requests.last().unwrap().received_at_ms;
        w.stream.requests.push(RecordedRequest {
            line: 61,
            received_at_ms: first.received_at_ms + 1_000,
            ..first.clone()
        });
        w.stream.requests.push(RecordedRequest {
            line: 62,
            received_at_ms: last_ms + 1,
            body: "not json".into(),
            ..first
        });
        w.stream.requests.sort_by_key(|r| r.received_at_ms);
        let run = crate::engine::run(
            &w.stream,
            "s.jsonl",
            &w.market,
            &w.gate,
            &w.simulation,
            std::path::Path::new("."),
            None,
        )
        .unwrap();
        let report = Report::new(&run, 1);
        let page = crate::html::page(&report, "t");
        let count = |needle: &str| page.matches(needle).count();

        assert_eq!(
            count("<section class=\"pc\">"),
            10 + 1,
            "10 symbols and one lane"
        );
        for (i, c) in report.charts.iter().enumerate() {
            assert!(page.contains(&format!("<h3>{}</h3>", c.symbol)));
            assert_eq!(count(&format!("name=\"pc{i}\"")), 3, "three zoom steps");
        }
        let fills = &run.exchange.fills;
        assert!(fills.len() > 10, "{}", fills.len());
        let buys = fills.iter().filter(|f| f.side == Side::Buy).count();
        assert_eq!(count("<g class=\"mk buy\">"), buys);
        assert_eq!(count("<g class=\"mk sell\">"), fills.len() - buys);
        assert_eq!(count("<g class=\"mk rej\">"), report.rejections.len());
        for (code, n) in &run.rejected_by_code {
            assert_eq!(
                count(&format!("<title>rejected: {code} ")),
                *n as usize,
                "{code}"
            );
        }
        assert!(run.rejected_by_code.contains_key("replayed"));
        assert!(
            run.rejected_by_code.contains_key("invalid_json"),
            "{:?}",
            run.rejected_by_code
        );
        for outside in ["http://", "https://", "src=", "<script", "url("] {
            assert!(!page.contains(outside), "{outside}");
        }
    }

    fn candle(time_ms: i64, low: f64, high: f64) -> Candle {
        Candle {
            time_ms,
            open: low,
            high,
            low,
            close: high,
        }
    }

    fn chart_of(symbol: &str, candles: &[Candle], fills: Vec<FillMark>) -> PriceChart {
        let mut series = ChartSeries::new(100);
        for c in candles {
            series
                .push(c.time_ms, c.open, c.high, c.low, c.close)
                .unwrap();
        }
        PriceChart {
            symbol: symbol.into(),
            series,
            fills,
        }
    }

    fn rejection(code: &'static str, symbol: Option<&str>, at: i64) -> RejectionRow {
        RejectionRow {
            line: 7,
            received_at: "2024-01-01T00:00:00Z".into(),
            code,
            status: 401,
            message: "bad <b>signature</b> & more".into(),
            symbol: symbol.map(str::to_string),
            checked_at_ms: at,
        }
    }

    #[test]
    fn symbols_codes_and_messages_are_escaped() {
        let fill = FillMark {
            time_ms: 10,
            side: Side::Sell,
            quantity: 0.5,
            price: 105.0,
            reason: "order",
        };
        let charts = [chart_of(
            "A<&>B",
            &[candle(0, 100.0, 110.0), candle(10, 100.0, 110.0)],
            vec![fill],
        )];
        let mut h = String::new();
        price_charts(
            &mut h,
            &charts,
            &[
                rejection("c<&>\"", Some("A<&>B"), 5),
                rejection("x", None, 5),
            ],
        );
        assert!(h.contains("<h3>A&lt;&amp;&gt;B</h3>"), "{h}");
        assert!(
            h.contains("rejected: c&lt;&amp;&gt;&quot; (HTTP 401)"),
            "{h}"
        );
        assert!(
            h.contains("bad &lt;b&gt;signature&lt;/b&gt; &amp; more"),
            "{h}"
        );
        assert!(
            h.contains("sell 0.5 at 105 · 1970-01-01T00:00:00.010Z · A&lt;&amp;&gt;B (order)"),
            "{h}"
        );
        assert!(!h.contains("A<&>B") && !h.contains("<b>") && !h.contains("c<&>"));
        assert_eq!(
            h.matches("<g class=\"mk rej\">").count(),
            2,
            "one on the chart, one in the lane"
        );
    }

    #[test]
    fn markers_sit_on_their_candle_at_their_price() {
        // Three candles 10 ms apart: slots 0–10, 10–20, 20–30; prices 100 to
        // 200 plus the 4 % margin.
        let candles = [
            candle(0, 100.0, 120.0),
            candle(10, 150.0, 200.0),
            candle(20, 100.0, 110.0),
        ];
        let fill = FillMark {
            time_ms: 10,
            side: Side::Buy,
            quantity: 1.0,
            price: 150.0,
            reason: "order",
        };
        let chart = chart_of("B/Q", &candles, vec![fill]);
        let svg = price_chart(
            Some(&chart),
            &[&rejection("stale", Some("B/Q"), 30)],
            None,
            "p",
        );
        let s = Scale {
            t0: 0,
            t1: 30,
            lo: 96.0,
            hi: 204.0,
        };
        // Centred on the middle candle, at 150 = the middle of the range.
        assert!(
            svg.contains(&format!(
                "<use href=\"#m-buy\" x=\"50.000%\" y=\"{:.1}\"/>",
                s.y(150.0)
            )),
            "{svg}"
        );
        assert_eq!(s.y(150.0), (PRICE_TOP + PRICE_BOTTOM) / 2.0);
        // The rejection at the right edge, in the lane.
        assert!(svg.contains(&format!(
            "<use href=\"#m-rej\" x=\"100.000%\" y=\"{LANE_Y}\"/>"
        )));
        assert!(
            svg.contains("3 bars, one candle each · 1 fill · 1 rejected alert"),
            "{svg}"
        );
    }

    #[test]
    fn numbers_keep_eight_significant_digits() {
        assert_eq!(num(42_123.456_789), "42123.457");
        assert_eq!(num(0.000_012_345_678_9), "0.000012345679");
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(100.0), "100");
        assert_eq!(num(-3.0), "-3");
        assert_eq!(nice_step(108.0), 50.0);
        assert_eq!(nice_step(0.9), 0.2);
        assert_eq!(period(6 * 3_600_000), "6 h");
        assert_eq!(period(300_000), "5 min");
    }
}
