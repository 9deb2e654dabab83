//! Venue-side brackets: an entry's `stop_loss` / `take_profit`, placed
//! once the entry filled, exactly once like any order (their client ids
//! derive from the entry's), and cancelled when a later order flattens or
//! reverses the position.
//!
//! - USDⓈ-M ([`legs`]): reduce-only `STOP_MARKET` / `TAKE_PROFIT_MARKET`
//!   conditional orders (`POST /fapi/v1/algoOrder`) on the quantity the
//!   entry filled. Both are reduce-only, so a leg left behind (the other
//!   leg filled, a cancel that failed) can never open a position; the
//!   gateway cancels the sibling when one fills.
//! - Spot ([`spot_legs`]): the long a `BUY` entry bought is closed by one
//!   `SELL` OCO order list (`STOP_LOSS` below, `TAKE_PROFIT` above, on
//!   what the entry filled less the commission taken in the base asset):
//!   the venue itself cancels the other leg when one executes. With only
//!   one of the two prices, a single `STOP_LOSS` or `TAKE_PROFIT` order.
//!   Spot has no short, so a `SELL` entry with a bracket is refused.
//!
//! Brackets follow market entries at once and limit entries once they are
//! done (filled, or ended with part filled: the live stage follows working
//! entries); a stop entry or a spot sell that asks for them is refused
//! before anything is sent (`venue_brackets_unsupported`) rather than sent
//! unprotected.

use alertgate_validator::{Decimal, Side};

use super::execution::leg_client_order_id;
use super::journal::ExecOrder;
use crate::venue::binance::answers::add;
use crate::venue::exactly_once::{Executor, LogError, Outcome};
use crate::venue::order_log::OrderLog;
use crate::venue::{
    OrderReport, OrderStatus, TradingRules, Venue, VenueError, VenueOrder, VenueOrderKind,
};

/// The legs of `entry`'s bracket on `filled` base units, triggers rounded
/// to the tick in the trader's favour.
pub fn legs(
    entry: &ExecOrder,
    filled: Decimal,
    rules: &TradingRules,
) -> Result<Vec<VenueOrder>, VenueError> {
    let exit = match entry.side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    };
    let mut legs = Vec::new();
    for (name, trigger) in [("sl", entry.stop_loss), ("tp", entry.take_profit)] {
        let Some(trigger) = trigger else { continue };
        let rounded = rules.apply(exit, true, filled, None, Some(trigger), None)?;
        let trigger = rounded.stop_price.unwrap_or(trigger);
        let kind = match name {
            "sl" => VenueOrderKind::StopMarket { trigger },
            _ => VenueOrderKind::TakeProfitMarket { trigger },
        };
        legs.push(VenueOrder {
            client_order_id: leg_client_order_id(&entry.client_order_id, name),
            symbol: entry.symbol.clone(),
            side: exit,
            kind,
            quantity: rounded.quantity,
            reduce_only: true,
            leg: Some(true),
        });
    }
    Ok(legs)
}

/// The exit of a spot long `entry` (a `BUY`) bought: `held` base units
/// (what it filled less the base-asset commission) rounded down to the
/// step, sold by one OCO list when both `stop_loss` and `take_profit` are
/// set (client id: the entry's `"oc"` leg), else by the single stop-loss
/// (`"sl"`) or take-profit (`"tp"`) order. Triggers round up to the tick
/// (a sell: never a worse price for the trader), and each is checked
/// against the minimum notional at its own price.
pub fn spot_legs(
    entry: &ExecOrder,
    held: Decimal,
    rules: &TradingRules,
) -> Result<Vec<VenueOrder>, VenueError> {
    let exit = Side::Sell;
    let round = |trigger: Decimal| {
        let r = rules.apply(exit, true, held, None, Some(trigger), Some(trigger))?;
        Ok::<_, VenueError>((r.quantity, r.stop_price.unwrap_or(trigger)))
    };
    let (id, kind, quantity) = match (entry.stop_loss, entry.take_profit) {
        (Some(stop), Some(take_profit)) => {
            let (quantity, stop) = round(stop)?;
            let (_, take_profit) = round(take_profit)?;
            ("oc", VenueOrderKind::Oco { stop, take_profit }, quantity)
        }
        (Some(stop), None) => {
            let (quantity, trigger) = round(stop)?;
            ("sl", VenueOrderKind::StopMarket { trigger }, quantity)
        }
        (None, Some(tp)) => {
            let (quantity, trigger) = round(tp)?;
            ("tp", VenueOrderKind::TakeProfitMarket { trigger }, quantity)
        }
        (None, None) => return Ok(Vec::new()),
    };
    Ok(vec![VenueOrder {
        client_order_id: leg_client_order_id(&entry.client_order_id, id),
        symbol: entry.symbol.clone(),
        side: exit,
        kind,
        quantity,
        // Ignored by spot venues.
        reduce_only: true,
        leg: Some(true),
    }])
}

/// What a spot buy that `filled` base units holds once the venue took
/// `commission` of the base asset out of it (never below zero).
pub fn held_after_commission(filled: Decimal, commission: Decimal) -> Decimal {
    let negated = Decimal::new(-commission.mantissa(), commission.scale());
    negated
        .and_then(|n| add(filled, n))
        .filter(|held| !held.is_negative())
        .unwrap_or(Decimal::ZERO)
}

/// The leg of the OCO `order` that executed, as the order it was (for
/// the fill log): the list's report does not name it, so it is told by
/// the price: a `SELL` executed at or above the middle of the two
/// triggers took profit, below it stopped out (a `BUY` the other way
/// round). Any other order is itself.
pub fn executed_leg(order: &VenueOrder, report: &OrderReport) -> VenueOrder {
    let VenueOrderKind::Oco { stop, take_profit } = order.kind else {
        return order.clone();
    };
    let nearer_take_profit = report.average_price.is_some_and(|p| {
        let (to_tp, to_stop) = (distance(p, take_profit), distance(p, stop));
        matches!((to_tp, to_stop), (Some(a), Some(b)) if a <= b)
    });
    let kind = if nearer_take_profit {
        VenueOrderKind::TakeProfitMarket {
            trigger: take_profit,
        }
    } else {
        VenueOrderKind::StopMarket { trigger: stop }
    };
    VenueOrder {
        kind,
        ..order.clone()
    }
}

/// `|a - b|`, exact, if representable.
fn distance(a: Decimal, b: Decimal) -> Option<Decimal> {
    let negated = Decimal::new(-b.mantissa(), b.scale())?;
    let d = add(a, negated)?;
    Decimal::new(d.mantissa().abs(), d.scale())
}

/// Whether `order` is a bracket leg ([`VenueOrder::is_leg`]).
pub fn is_leg(order: &VenueOrder) -> bool {
    order.is_leg()
}

/// Places each leg (of the entry for alert `event_id`) exactly once;
/// returns how each ended.
pub async fn place<V: Venue>(
    executor: &mut Executor<V>,
    legs: &[VenueOrder],
    event_id: &str,
) -> Result<Vec<Outcome>, LogError> {
    let mut outcomes = Vec::new();
    for leg in legs {
        outcomes.push(executor.place(leg, event_id).await?);
    }
    Ok(outcomes)
}

/// The legs still working, as the log knows them: (client id, symbol).
pub fn working(log: &OrderLog) -> Vec<(String, String)> {
    working_where(log, is_leg)
}

/// The orders other than legs still working (limit entries), as the log
/// knows them: (client id, symbol).
pub fn working_entries(log: &OrderLog) -> Vec<(String, String)> {
    working_where(log, |o| !is_leg(o))
}

fn working_where(log: &OrderLog, keep: impl Fn(&VenueOrder) -> bool) -> Vec<(String, String)> {
    log.working()
        .filter(|(_, k)| keep(&k.order))
        .map(|(id, k)| (id.clone(), k.order.symbol.clone()))
        .collect()
}

/// The other leg of the bracket `leg` belongs to, if the log knows its
/// entry (a leg's id derives from its entry's). Legs are placed under
/// their entry's event id, so only orders of the leg's event id are
/// digested (every order, in logs written before event ids were).
pub fn sibling(log: &OrderLog, leg: &str) -> Option<String> {
    let event = log.get(leg).and_then(|k| k.event_id.as_deref());
    log.orders()
        .filter(|(_, k)| event.is_none() || k.event_id.as_deref() == event)
        .find_map(|(entry, _)| {
            let (sl, tp) = (
                leg_client_order_id(entry, "sl"),
                leg_client_order_id(entry, "tp"),
            );
            match leg {
                l if l == sl => Some(tp),
                l if l == tp => Some(sl),
                _ => None,
            }
        })
}

/// The base quantity the working legs of `symbol` hold on a spot venue
/// (a sell list or order locks what it would sell), as the log knows
/// them; `None` beyond the decimals' range.
pub fn held_by_legs(log: &OrderLog, symbol: &str) -> Option<Decimal> {
    let mut held = Decimal::ZERO;
    for (_, k) in log.working().filter(|(_, k)| k.order.symbol == symbol) {
        if is_leg(&k.order) {
            held = add(held, k.order.quantity)?;
        }
    }
    Some(held)
}

/// What [`cancel`] did to a symbol's working legs.
#[derive(Debug, Default)]
pub struct Cancelled {
    /// Legs that were working, as the log knew them.
    pub working: usize,
    /// The legs the venue answered cancelled, with nothing executed: the
    /// protection to place again ([`restored`]) if the order they were
    /// cancelled for does not happen.
    pub legs: Vec<VenueOrder>,
}

/// Cancels every leg of `symbol` still working, as the log knows them.
pub async fn cancel<V: Venue>(
    executor: &mut Executor<V>,
    symbol: &str,
) -> Result<Cancelled, LogError> {
    let working: Vec<(String, VenueOrder)> = executor
        .log()
        .working()
        .filter(|(_, k)| k.order.symbol == symbol && is_leg(&k.order))
        .map(|(id, k)| (id.clone(), k.order.clone()))
        .collect();
    let mut cancelled = Cancelled {
        working: working.len(),
        legs: Vec::new(),
    };
    for (id, leg) in working {
        let report = executor.cancel(symbol, &id).await?;
        if report.is_some_and(|r| {
            r.status == OrderStatus::Canceled && r.executed_quantity.mantissa() == 0
        }) {
            cancelled.legs.push(leg);
        }
    }
    Ok(cancelled)
}

/// The `legs` cancelled for the order `closing`, placed again because it
/// did not happen (the venue refused it): the same kinds, triggers and
/// quantities under new client ids, derived from the closing order's as
/// an entry's legs are from the entry's (`"sl"`, `"tp"`, `"oc"`; a second
/// leg of one kind from its old id), so each is placed exactly once and
/// followed, one-cancels-the-other, like any bracket.
pub fn restored(closing: &str, legs: &[VenueOrder]) -> Vec<VenueOrder> {
    let mut names = Vec::new();
    legs.iter()
        .map(|leg| {
            let name = match leg.kind {
                VenueOrderKind::StopMarket { .. } => "sl",
                VenueOrderKind::TakeProfitMarket { .. } => "tp",
                _ => "oc",
            };
            let id = if names.contains(&name) {
                leg_client_order_id(closing, &leg.client_order_id)
            } else {
                names.push(name);
                leg_client_order_id(closing, name)
            };
            VenueOrder {
                client_order_id: id,
                ..leg.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alertgate_validator::OrderType;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    /// An order of `id` in `log` under `event` (none: an older log).
    fn logged(log: &mut OrderLog, id: &str, event: Option<&str>) {
        use crate::venue::order_log::{Change, State};
        log.record(Change {
            order: Some(VenueOrder::market(id, "BTC/USDT", Side::Buy, d("0.01"))),
            event_id: event.map(str::to_string),
            timestamp_ms: Some(1),
            ..Change::new(State::Intent, id, 1)
        })
        .unwrap();
    }

    #[test]
    fn a_legs_sibling_is_found_by_its_entry_with_or_without_event_ids() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = OrderLog::open(&dir.path().join("orders.jsonl")).unwrap();
        let entry = "agentry";
        let (sl, tp) = (
            leg_client_order_id(entry, "sl"),
            leg_client_order_id(entry, "tp"),
        );
        logged(&mut log, "agother", Some("other"));
        logged(&mut log, entry, Some("e1"));
        logged(&mut log, &sl, Some("e1"));
        logged(&mut log, &tp, Some("e1"));
        assert_eq!(sibling(&log, &sl), Some(tp.clone()));
        assert_eq!(sibling(&log, &tp), Some(sl.clone()));
        assert_eq!(sibling(&log, entry), None);
        // An older log, without event ids: every order is a candidate.
        let mut old = OrderLog::open(&dir.path().join("old.jsonl")).unwrap();
        logged(&mut old, entry, None);
        logged(&mut old, &sl, None);
        assert_eq!(sibling(&old, &sl), Some(tp));
    }

    #[test]
    fn a_leg_is_told_by_its_record_and_in_older_logs_by_its_shape() {
        let stop = |leg| VenueOrder {
            kind: VenueOrderKind::StopMarket { trigger: d("90") },
            reduce_only: true,
            leg,
            ..VenueOrder::market("ag1", "BTC/USDT", Side::Sell, d("1"))
        };
        let read_back = |o: &VenueOrder| {
            let json = serde_json::to_string(o).unwrap();
            serde_json::from_str::<VenueOrder>(&json).unwrap()
        };
        // An alert's own reduce-only stop is not a leg, after a restart too.
        assert!(!is_leg(&read_back(&stop(Some(false)))));
        assert!(is_leg(&read_back(&stop(Some(true)))));
        // A log written before `leg` was recorded: the shape tells.
        let old = serde_json::to_string(&stop(None)).unwrap();
        assert!(!old.contains("\"leg\""), "{old}");
        assert!(is_leg(&serde_json::from_str::<VenueOrder>(&old).unwrap()));
    }

    #[test]
    fn a_long_entrys_legs_sell_reduce_only_at_triggers_on_the_tick() {
        let entry = ExecOrder {
            price: Some(d("50000")),
            stop_loss: Some(d("49000.07")),
            take_profit: Some(d("52000.01")),
            ..ExecOrder::new(
                "agentry",
                "e",
                "BTC/USDT",
                Side::Buy,
                OrderType::Market,
                d("0.02"),
            )
        };
        let rules = TradingRules {
            step: d("0.001"),
            tick: d("0.1"),
            ..TradingRules::default()
        };
        let legs = legs(&entry, d("0.02"), &rules).unwrap();
        assert_eq!(legs.len(), 2);
        assert!(legs
            .iter()
            .all(|l| l.side == Side::Sell && l.reduce_only && is_leg(l)));
        // A sell's trigger rounds up: never a worse price for the trader.
        assert_eq!(
            legs[0].kind,
            VenueOrderKind::StopMarket {
                trigger: d("49000.1")
            }
        );
        assert_eq!(
            legs[1].kind,
            VenueOrderKind::TakeProfitMarket {
                trigger: d("52000.1")
            }
        );
        assert_ne!(legs[0].client_order_id, legs[1].client_order_id);
        assert!(crate::venue::client_order_id_is_portable(
            &legs[0].client_order_id
        ));
    }

    fn spot_entry(stop: Option<&str>, take_profit: Option<&str>) -> ExecOrder {
        ExecOrder {
            stop_loss: stop.map(d),
            take_profit: take_profit.map(d),
            ..ExecOrder::new(
                "agentry",
                "e",
                "BTC/USDT",
                Side::Buy,
                OrderType::Market,
                d("0.02"),
            )
        }
    }

    fn spot_rules() -> TradingRules {
        TradingRules {
            step: d("0.0001"),
            min_quantity: d("0.0001"),
            tick: d("0.1"),
            min_notional: d("10"),
            ..TradingRules::default()
        }
    }

    #[test]
    fn a_spot_long_is_closed_by_one_oco_on_what_it_holds_after_commission() {
        let entry = spot_entry(Some("49000.07"), Some("52000.01"));
        // 0.02 bought, 0.00002 BTC of commission: 0.01998 held → 0.0199.
        let held = held_after_commission(d("0.02"), d("0.00002"));
        assert_eq!(held, d("0.01998"));
        let legs = spot_legs(&entry, held, &spot_rules()).unwrap();
        assert_eq!(legs.len(), 1);
        let oco = &legs[0];
        assert_eq!(oco.quantity, d("0.0199"));
        assert_eq!(oco.side, Side::Sell);
        assert_eq!(
            oco.kind,
            VenueOrderKind::Oco {
                stop: d("49000.1"),
                take_profit: d("52000.1")
            }
        );
        assert_eq!(oco.client_order_id, leg_client_order_id("agentry", "oc"));
        assert!(is_leg(oco));
        assert!(crate::venue::client_order_id_is_portable(
            &oco.client_order_id
        ));
    }

    #[test]
    fn an_oco_fill_is_logged_as_the_leg_its_price_is_nearer() {
        let oco = spot_legs(
            &spot_entry(Some("49000"), Some("52000")),
            d("0.02"),
            &spot_rules(),
        )
        .unwrap()
        .remove(0);
        let report = |price: &str| OrderReport {
            client_order_id: oco.client_order_id.clone(),
            venue_order_id: "list-1".into(),
            status: crate::venue::OrderStatus::Filled,
            executed_quantity: d("0.02"),
            average_price: Some(d(price)),
            updated_ms: 1,
        };
        let tp = executed_leg(&oco, &report("52010"));
        assert!(matches!(tp.kind, VenueOrderKind::TakeProfitMarket { .. }));
        let sl = executed_leg(&oco, &report("48900"));
        assert!(matches!(sl.kind, VenueOrderKind::StopMarket { .. }));
        assert_eq!((sl.quantity, sl.side), (oco.quantity, Side::Sell));
    }

    #[test]
    fn one_spot_price_alone_is_a_single_order() {
        let legs = spot_legs(&spot_entry(Some("49000"), None), d("0.02"), &spot_rules()).unwrap();
        assert_eq!(
            (legs.len(), legs[0].kind),
            (
                1,
                VenueOrderKind::StopMarket {
                    trigger: d("49000")
                }
            )
        );
        assert_eq!(
            legs[0].client_order_id,
            leg_client_order_id("agentry", "sl")
        );
        let legs = spot_legs(&spot_entry(None, Some("52000")), d("0.02"), &spot_rules()).unwrap();
        assert_eq!(
            legs[0].kind,
            VenueOrderKind::TakeProfitMarket {
                trigger: d("52000")
            }
        );
    }

    #[test]
    fn too_little_left_after_commission_is_a_bracket_error_not_a_panic() {
        let entry = spot_entry(Some("49000"), Some("52000"));
        // All of it taken as commission (or more: never negative).
        assert_eq!(held_after_commission(d("0.0001"), d("0.0002")), d("0"));
        let e = spot_legs(&entry, d("0.00009"), &spot_rules()).unwrap_err();
        assert_eq!(e.code(), "venue_quantity_below_step");
        // On the step but worth less than the minimum notional.
        let e = spot_legs(&entry, d("0.0001"), &spot_rules()).unwrap_err();
        assert_eq!(e.code(), "venue_below_min_notional");
    }
}
