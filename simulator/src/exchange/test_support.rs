//! Builders shared by the exchange's tests (both conventions): bars one a
//! minute from [`T0`], orders, and a feed in the engine's order.

use proptest::prelude::*;

use super::{Bar, Conventions, Costs, Exchange, ExchangeOrder, FillReason, OrderKind, Side};

/// The first bar's start, Unix ms.
pub const T0: i64 = 1_700_000_000_000;
/// One bar: a minute, in ms.
pub const MIN: i64 = 60_000;

/// Bar `i` (one a minute from T0): open, high, low, close.
pub fn bar(i: i64, o: f64, h: f64, l: f64, c: f64) -> Bar {
    Bar {
        time_ms: T0 + i * MIN,
        open: o,
        high: h,
        low: l,
        close: c,
        volume: 1.0,
    }
}

/// Order `id` of symbol 0, reaching the exchange at `arrival_ms`.
pub fn order(
    id: u32,
    arrival_ms: i64,
    side: Side,
    quantity: f64,
    kind: OrderKind,
) -> ExchangeOrder {
    ExchangeOrder {
        id,
        symbol: 0,
        side,
        quantity,
        kind,
        stop_loss: None,
        take_profit: None,
        arrival_ms,
    }
}

/// `o` with a stop-loss and a take-profit.
pub fn bracketed(mut o: ExchangeOrder, sl: Option<f64>, tp: Option<f64>) -> ExchangeOrder {
    o.stop_loss = sl;
    o.take_profit = tp;
    o
}

/// Feeds `orders` (in the order given) and `bars` in time order under
/// `conventions`, as the engine does: an order before a bar that starts at
/// the same millisecond.
pub fn feed(
    conventions: Conventions,
    bars: &[Bar],
    orders: &[ExchangeOrder],
    costs: Costs,
) -> Exchange {
    let mut ex = Exchange::new(1, 10_000.0, costs);
    ex.set_conventions(conventions);
    let mut next = 0;
    for b in bars {
        while next < orders.len() && orders[next].arrival_ms <= b.time_ms {
            ex.submit(orders[next]);
            next += 1;
        }
        ex.on_bar(0, b);
    }
    ex
}

/// (bar index, side, quantity, price, reason) of every fill.
pub fn fills(ex: &Exchange) -> Vec<(i64, Side, f64, f64, FillReason)> {
    ex.fills
        .iter()
        .map(|f| {
            (
                (f.time_ms - T0) / MIN,
                f.side,
                f.quantity,
                f.price,
                f.reason,
            )
        })
        .collect()
}

/// A valid bar at index `i`: open and close inside [low, high].
pub fn any_bar(i: i64) -> impl Strategy<Value = Bar> {
    (
        50.0..150.0f64,
        0.0..10.0f64,
        0.0..10.0f64,
        0.0..1.0f64,
        0.0..1.0f64,
    )
        .prop_map(move |(base, up, down, o, c)| {
            let (low, high) = (base - down, base + up);
            bar(i, low + o * (high - low), high, low, low + c * (high - low))
        })
}
