//! `--html`: the report as one self-contained page (inline CSS and SVG, no
//! scripts, no external resources), so it can be mailed or archived as is.
//! The per-symbol price charts, with fills and rejected alerts marked, are
//! drawn by [`crate::chart::svg`].

use std::fmt::Write as _;

use alertgate_validator::time::Rfc3339;

use crate::report::Report;

/// Rows of the trades and rejections tables shown in full; the JSON has all.
const TABLE_ROWS: usize = 500;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}\
table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:right}\
td:first-child,th:first-child{text-align:left}.neg{color:#b22}.pos{color:#1a7f37}\
svg{background:#fafafa;border:1px solid #ddd}.grid{display:grid;grid-template-columns:1fr 1fr;gap:2em}\
.small{color:#666;font-size:.9em}";

/// A line chart of `values` over `times`; with `area_from_top`, an area
/// between the values and 0 (for drawdowns, which are ≤ 0).
fn chart(title: &str, times: &[i64], values: &[f64], color: &str, area_from_top: bool) -> String {
    const W: f64 = 900.0;
    const H: f64 = 220.0;
    const PAD: f64 = 40.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg viewBox=\"0 0 {W} {H}\" width=\"100%\" role=\"img\" aria-label=\"{}\">",
        escape(title)
    );
    if times.len() < 2 {
        svg.push_str("<text x=\"20\" y=\"30\">not enough data</text></svg>");
        return svg;
    }
    let (t0, t1) = (times[0] as f64, times[times.len() - 1] as f64);
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    if area_from_top {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if hi - lo < 1e-12 {
        hi = lo + 1.0;
    }
    let x = |t: i64| PAD + (t as f64 - t0) / (t1 - t0).max(1.0) * (W - 2.0 * PAD);
    let y = |v: f64| PAD / 2.0 + (hi - v) / (hi - lo) * (H - PAD);
    let mut points = String::new();
    for (t, v) in times.iter().zip(values) {
        let _ = write!(points, "{:.1},{:.1} ", x(*t), y(*v));
    }
    if area_from_top {
        let _ = write!(
            svg,
            "<polygon fill=\"{color}\" fill-opacity=\"0.35\" stroke=\"{color}\" points=\"{:.1},{:.1} {points}{:.1},{:.1}\"/>",
            x(times[0]),
            y(0.0),
            x(times[times.len() - 1]),
            y(0.0)
        );
    } else {
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{points}\"/>"
        );
    }
    let label = |v: f64| format!("{v:.2}");
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"{:.0}\" font-size=\"11\">{}</text><text x=\"4\" y=\"{:.0}\" font-size=\"11\">{}</text>\
         <text x=\"{PAD}\" y=\"{:.0}\" font-size=\"11\">{}</text><text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\" text-anchor=\"end\">{}</text></svg>",
        y(hi) + 4.0,
        label(hi),
        y(lo),
        label(lo),
        H - 4.0,
        &Rfc3339(times[0]).to_string()[..10],
        W - PAD,
        H - 4.0,
        &Rfc3339(times[times.len() - 1]).to_string()[..10],
    );
    svg
}

fn signed(v: f64) -> String {
    let class = if v < 0.0 { "neg" } else { "pos" };
    format!("<td class=\"{class}\">{v:.2}</td>")
}

/// The page: header, charts, summary tables, trades, rejections.
pub fn page(report: &Report, title: &str) -> String {
    let mut h = String::new();
    head(&mut h, report, title);
    charts(&mut h, report);
    crate::chart::svg::price_charts(&mut h, &report.charts, &report.rejections);
    h.push_str("<div class=\"grid\"><div>");
    summary_table(&mut h, report);
    h.push_str("</div><div>");
    rejection_codes_table(&mut h, report);
    latency_table(&mut h, report);
    h.push_str("</div></div>");
    trades_table(&mut h, report);
    rejections_table(&mut h, report);
    h.push_str("</body></html>\n");
    h
}

/// Writes the document head and the title line with seed, alerts and bars.
fn head(h: &mut String, report: &Report, title: &str) {
    let s = &report.summary;
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}{}</style></head><body>",
        escape(title),
        crate::chart::svg::STYLE
    );
    let _ = write!(
        h,
        "<h1>{}</h1><p class=\"small\">seed {} · {} alerts · {} bars</p>",
        escape(title),
        s.seed,
        s.alerts.total,
        s.bars
    );
}

/// Writes the equity and drawdown charts.
fn charts(h: &mut String, report: &Report) {
    let times: Vec<i64> = report.equity_curve.iter().map(|p| p.time_ms).collect();
    let equity: Vec<f64> = report.equity_curve.iter().map(|p| p.equity).collect();
    let drawdown: Vec<f64> = report
        .equity_curve
        .iter()
        .map(|p| -p.drawdown_pct)
        .collect();
    h.push_str("<h2>Equity</h2>");
    h.push_str(&chart("equity", &times, &equity, "#1f6feb", false));
    h.push_str("<h2>Drawdown %</h2>");
    h.push_str(&chart(
        "drawdown percent",
        &times,
        &drawdown,
        "#d1242f",
        true,
    ));
}

/// Writes the summary statistics table.
fn summary_table(h: &mut String, report: &Report) {
    let s = &report.summary;
    let opt =
        |v: Option<f64>, suffix: &str| v.map_or("—".to_string(), |v| format!("{v:.2}{suffix}"));
    h.push_str("<h2>Summary</h2><table>");
    for (k, v) in [
        ("alerts", s.alerts.total.to_string()),
        ("accepted", s.alerts.accepted.to_string()),
        ("rejected", s.alerts.rejected.to_string()),
        ("orders", s.orders.to_string()),
        ("fills", s.fills.to_string()),
        ("trades", s.trades.to_string()),
        ("initial cash", format!("{:.2}", s.initial_cash)),
        ("final equity", format!("{:.2}", s.final_equity)),
        ("return", format!("{:.2} %", s.return_pct)),
        ("max drawdown", format!("{:.2} %", s.max_drawdown_pct)),
        ("Sharpe", opt(s.sharpe, "")),
        ("Sortino", opt(s.sortino, "")),
        ("win rate", opt(s.win_rate_pct, " %")),
        ("profit factor", opt(s.profit_factor, "")),
        ("exposure", format!("{:.1} %", s.exposure_pct)),
        ("fees paid", format!("{:.2}", s.fees_paid)),
    ] {
        let _ = write!(h, "<tr><td>{k}</td><td>{}</td></tr>", escape(&v));
    }
    if let Some(tv) = &s.tradingview {
        for (k, v) in [
            (
                "net P&amp;L (closed trades)",
                format!("{:.2}", tv.replay_net_pnl),
            ),
            ("TradingView net P&amp;L", format!("{:.2}", tv.net_pnl)),
            (
                "TradingView trades",
                format!("{} closed, {} open", tv.closed_trades, tv.open_trades),
            ),
        ] {
            let _ = write!(h, "<tr><td>{k}</td><td>{}</td></tr>", escape(&v));
        }
    }
    h.push_str("</table>");
}

/// Writes the rejections-by-code table, with each code's share of alerts.
fn rejection_codes_table(h: &mut String, report: &Report) {
    let s = &report.summary;
    h.push_str(
        "<h2>Rejections by code</h2><table><tr><th>code</th><th>alerts</th><th>share</th></tr>",
    );
    let total = s.alerts.total.max(1) as f64;
    for (code, n) in &s.alerts.rejected_by_code {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{n}</td><td>{:.1} %</td></tr>",
            escape(code),
            *n as f64 / total * 100.0
        );
    }
    if s.alerts.rejected_by_code.is_empty() {
        h.push_str("<tr><td colspan=\"3\">none</td></tr>");
    }
    h.push_str("</table>");
}

/// Writes the latency percentiles table, one row per stage.
fn latency_table(h: &mut String, report: &Report) {
    h.push_str("<h2>Latency (ms)</h2><table><tr><th>stage</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>");
    for (stage, l) in &report.summary.latency_ms {
        let _ = write!(
            h,
            "<tr><td>{stage}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            l.p50, l.p90, l.p99, l.max
        );
    }
    h.push_str("</table>");
}

/// Writes the first [`TABLE_ROWS`] closed trades, noting when there are more.
fn trades_table(h: &mut String, report: &Report) {
    let _ = write!(
        h,
        "<h2>Trades ({})</h2><table><tr><th>symbol</th><th>side</th><th>qty</th><th>entry</th><th>price</th><th>exit</th><th>price</th><th>pnl</th><th>fees</th></tr>",
        report.trades.len()
    );
    for t in report.trades.iter().take(TABLE_ROWS) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{:.2}</td>{}<td>{:.2}</td></tr>",
            escape(&t.symbol),
            t.side,
            t.quantity,
            escape(&t.entry_time[..16.min(t.entry_time.len())]),
            t.entry_price,
            escape(&t.exit_time[..16.min(t.exit_time.len())]),
            t.exit_price,
            signed(t.pnl),
            t.fees
        );
    }
    h.push_str("</table>");
    if report.trades.len() > TABLE_ROWS {
        let _ = write!(
            h,
            "<p class=\"small\">first {TABLE_ROWS} shown; all are in the JSON report</p>"
        );
    }
}

/// Writes the first [`TABLE_ROWS`] rejections.
fn rejections_table(h: &mut String, report: &Report) {
    let _ = write!(
        h,
        "<h2>Rejections ({})</h2><table><tr><th>line</th><th>received</th><th>code</th><th>message</th></tr>",
        report.rejections.len()
    );
    for r in report.rejections.iter().take(TABLE_ROWS) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
            r.line,
            escape(&r.received_at),
            r.code,
            escape(&r.message)
        );
    }
    h.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn chart_scales_points_into_the_box() {
        let svg = chart("t", &[0, 86_400_000], &[100.0, 200.0], "#000", false);
        // First point at the left padding and the bottom; last at the right
        // padding and the top.
        assert!(svg.contains("points=\"40.0,200.0 860.0,20.0 \""), "{svg}");
        assert!(svg.contains("1970-01-01") && svg.contains("1970-01-02"));
        assert!(chart("t", &[0], &[1.0], "#000", false).contains("not enough data"));
    }
}
