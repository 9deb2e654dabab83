//! Venue-side brackets on USDⓈ-M: an entry's `stop_loss` / `take_profit`
//! become reduce-only `STOP_MARKET` / `TAKE_PROFIT_MARKET` conditional
//! orders (`POST /fapi/v1/algoOrder`) on the quantity the entry filled,
//! placed exactly once each like any order (their client ids derive from
//! the entry's), and cancelled when a later order flattens or reverses the
//! position.
//!
//! Both legs are reduce-only, so a leg left behind (the other leg filled,
//! a cancel that failed) can never open a position; it only expires.
//! Brackets are placed for market entries (filled at once) on USDⓈ-M; a
//! limit entry or a spot order that asks for them is refused before
//! anything is sent (`venue_brackets_unsupported`) rather than sent
//! unprotected.

use alertgate_validator::{Decimal, Side};

use super::execution::leg_client_order_id;
use super::journal::ExecOrder;
use crate::venue::exactly_once::{Executor, LogError, Outcome};
use crate::venue::order_log::{OrderLog, State};
use crate::venue::{TradingRules, Venue, VenueError, VenueOrder, VenueOrderKind};

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
        });
    }
    Ok(legs)
}

/// Whether `order` is a bracket leg (a reduce-only conditional order).
pub fn is_leg(order: &VenueOrder) -> bool {
    order.reduce_only
        && matches!(
            order.kind,
            VenueOrderKind::StopMarket { .. } | VenueOrderKind::TakeProfitMarket { .. }
        )
}

/// Places each leg exactly once; returns how each ended.
pub async fn place<V: Venue>(
    executor: &mut Executor<V>,
    legs: &[VenueOrder],
) -> Result<Vec<Outcome>, LogError> {
    let mut outcomes = Vec::new();
    for leg in legs {
        outcomes.push(executor.place(leg).await?);
    }
    Ok(outcomes)
}

/// The legs still working, as the log knows them: (client id, symbol).
pub fn working(log: &OrderLog) -> Vec<(String, String)> {
    log.orders()
        .filter(|(_, k)| is_leg(&k.order))
        .filter(|(_, k)| matches!(k.state, State::Acknowledged | State::Resolved))
        .filter(|(_, k)| k.report.as_ref().is_some_and(|r| !r.status.is_final()))
        .map(|(id, k)| (id.clone(), k.order.symbol.clone()))
        .collect()
}

/// The other leg of the bracket `leg` belongs to, if the log knows its
/// entry (a leg's id derives from its entry's).
pub fn sibling(log: &OrderLog, leg: &str) -> Option<String> {
    log.orders().find_map(|(entry, _)| {
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

/// Cancels every leg of `symbol` still working, as the log knows them.
pub async fn cancel<V: Venue>(executor: &mut Executor<V>, symbol: &str) -> Result<usize, LogError> {
    let working: Vec<String> = executor
        .log()
        .orders()
        .filter(|(_, k)| k.order.symbol == symbol && is_leg(&k.order))
        .filter(|(_, k)| matches!(k.state, State::Acknowledged | State::Resolved))
        .filter(|(_, k)| k.report.as_ref().is_some_and(|r| !r.status.is_final()))
        .map(|(id, _)| id.clone())
        .collect();
    for id in &working {
        executor.cancel(symbol, id).await?;
    }
    Ok(working.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alertgate_validator::OrderType;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
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
}
