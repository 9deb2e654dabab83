//! Spot order lists (`POST /api/v3/orderList/oco`, `GET` and `DELETE
//! /api/v3/orderList`) and the account's trades (`GET /api/v3/myTrades`),
//! read into the venue layer's types.
//!
//! A list is reported as one order under its `listClientOrderId`: the
//! list's own status says whether it still works (`listOrderStatus`
//! `EXECUTING`, `ALL_DONE`, `REJECT`), its legs' reports say what
//! executed. Only one leg of an OCO can execute (the other is cancelled
//! when it does), so the list's executed quantity is the sum of its legs'.

use alertgate_validator::Decimal;
use serde::Deserialize;

use super::{add, divide, Call, SpotOrder};
use crate::venue::{OrderReport, OrderStatus, VenueError};

/// An order list answer (new, query or cancel). `orderReports` is in the
/// answers to a new list and a cancel, not in a query's.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderList {
    order_list_id: i64,
    list_order_status: String,
    list_client_order_id: String,
    #[serde(default)]
    transaction_time: Option<i64>,
    orders: Vec<ListLeg>,
    #[serde(default)]
    order_reports: Option<Vec<SpotOrder>>,
}

/// One leg as a list names it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListLeg {
    order_id: i64,
}

/// Where a list stands, from `listOrderStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListState {
    /// `EXECUTING`: its legs work.
    Executing,
    /// `ALL_DONE`: a leg executed or both were cancelled or expired.
    AllDone,
    /// `REJECT`: refused.
    Rejected,
}

impl OrderList {
    /// `listOrderStatus` read, or the error an unknown one means.
    pub fn state(&self, call: &Call<'_>) -> Result<ListState, VenueError> {
        match self.list_order_status.as_str() {
            "EXECUTING" => Ok(ListState::Executing),
            "ALL_DONE" => Ok(ListState::AllDone),
            "REJECT" => Ok(ListState::Rejected),
            other => Err(call.unreadable(format!("listOrderStatus {other:?}"))),
        }
    }

    /// The legs' venue order ids (to query them when the answer holds no
    /// `orderReports`).
    pub fn leg_ids(&self) -> Vec<i64> {
        self.orders.iter().map(|l| l.order_id).collect()
    }

    /// The legs' reports, if the answer holds them.
    pub fn take_leg_reports(
        &mut self,
        call: &Call<'_>,
    ) -> Option<Result<Vec<OrderReport>, VenueError>> {
        let reports = self.order_reports.take()?;
        Some(reports.into_iter().map(|r| r.report(call)).collect())
    }

    /// The list as one [`OrderReport`], from its legs' reports: `New` (or
    /// `PartiallyFilled`) while executing, `Filled` when a leg filled,
    /// `Expired` when every leg expired, else `Canceled`; `Rejected` for a
    /// refused list.
    pub fn report(&self, legs: &[OrderReport], call: &Call<'_>) -> Result<OrderReport, VenueError> {
        let state = self.state(call)?;
        let mut executed = Decimal::ZERO;
        let mut quote = Decimal::ZERO;
        for leg in legs {
            executed = add(executed, leg.executed_quantity)
                .ok_or_else(|| call.unreadable("executed quantity out of range".into()))?;
            if let Some(price) = leg.average_price {
                let value = multiply(price, leg.executed_quantity)
                    .ok_or_else(|| call.unreadable("executed value out of range".into()))?;
                quote = add(quote, value)
                    .ok_or_else(|| call.unreadable("executed value out of range".into()))?;
            }
        }
        let status = match state {
            ListState::Executing if executed.is_positive() => OrderStatus::PartiallyFilled,
            ListState::Executing => OrderStatus::New,
            ListState::Rejected => OrderStatus::Rejected,
            ListState::AllDone if legs.iter().any(|l| l.status == OrderStatus::Filled) => {
                OrderStatus::Filled
            }
            ListState::AllDone
                if !legs.is_empty() && legs.iter().all(|l| l.status == OrderStatus::Expired) =>
            {
                OrderStatus::Expired
            }
            ListState::AllDone => OrderStatus::Canceled,
        };
        let updated = legs.iter().map(|l| l.updated_ms).max().unwrap_or(0);
        Ok(OrderReport {
            client_order_id: self.list_client_order_id.clone(),
            venue_order_id: format!("list-{}", self.order_list_id),
            status,
            executed_quantity: executed,
            average_price: divide(quote, executed),
            updated_ms: self.transaction_time.unwrap_or(0).max(updated),
        })
    }
}

/// `a × b` for an average price times a quantity, exact, if it fits.
fn multiply(a: Decimal, b: Decimal) -> Option<Decimal> {
    let mut d = a.checked_mul(b)?;
    // Keep within what `Decimal::parse` reads back (18 places).
    while d.scale() > 18 {
        d = Decimal::new(d.mantissa() / 10, d.scale() - 1)?;
    }
    Decimal::parse(&d.to_string())
}

/// One trade of `GET /api/v3/myTrades` (the part read).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MyTrade {
    commission: Decimal,
    commission_asset: String,
}

/// The commission the `trades` charged in `asset`.
pub fn commission_in(
    trades: &[MyTrade],
    asset: &str,
    call: &Call<'_>,
) -> Result<Decimal, VenueError> {
    trades
        .iter()
        .filter(|t| t.commission_asset == asset)
        .try_fold(Decimal::ZERO, |sum, t| {
            if t.commission.is_negative() {
                return Err(call.unreadable(format!("negative commission {}", t.commission)));
            }
            add(sum, t.commission).ok_or_else(|| call.unreadable("commission out of range".into()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::binance::answers::Effect;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    const CALL: Call<'static> = Call {
        venue: "binance-spot",
        endpoint: "orderList",
        effect: Effect::ReadOnly,
        client_order_id: Some("agoc"),
    };

    fn leg(id: i64, status: &str, executed: &str, quote: &str) -> String {
        format!(
            r#"{{"symbol":"BTCUSDT","orderId":{id},"orderListId":7,"clientOrderId":"x{id}",
            "transactTime":1700000000100,"price":"0","origQty":"0.02","executedQty":"{executed}",
            "cummulativeQuoteQty":"{quote}","status":"{status}","timeInForce":"GTC",
            "type":"STOP_LOSS","side":"SELL","stopPrice":"49000"}}"#
        )
    }

    fn list(status: &str, reports: Option<[String; 2]>) -> String {
        let reports = reports.map_or(String::new(), |[a, b]| {
            format!(r#","orderReports":[{a},{b}]"#)
        });
        format!(
            r#"{{"orderListId":7,"contingencyType":"OCO","listStatusType":"ALL_DONE",
            "listOrderStatus":"{status}","listClientOrderId":"agoc","transactionTime":1700000000000,
            "symbol":"BTCUSDT","orders":[{{"symbol":"BTCUSDT","orderId":10,"clientOrderId":"x10"}},
            {{"symbol":"BTCUSDT","orderId":11,"clientOrderId":"x11"}}]{reports}}}"#
        )
    }

    fn report_of(body: &str) -> Result<OrderReport, VenueError> {
        let mut l: OrderList = CALL.parse(body)?;
        let legs = l.take_leg_reports(&CALL).unwrap_or(Ok(Vec::new()))?;
        l.report(&legs, &CALL)
    }

    #[test]
    fn a_list_with_a_filled_leg_is_filled_with_that_legs_quantity_and_price() {
        let body = list(
            "ALL_DONE",
            Some([
                leg(10, "CANCELED", "0", "0"),
                leg(11, "FILLED", "0.02", "1040"),
            ]),
        );
        let r = report_of(&body).unwrap();
        assert_eq!(r.client_order_id, "agoc");
        assert_eq!(r.venue_order_id, "list-7");
        assert_eq!(r.status, OrderStatus::Filled);
        assert_eq!(r.executed_quantity, d("0.02"));
        assert_eq!(r.average_price, Some(d("52000")));
        assert_eq!(r.updated_ms, 1700000000100);
    }

    #[test]
    fn list_statuses_map_to_order_statuses() {
        let working = list(
            "EXECUTING",
            Some([leg(10, "NEW", "0", "0"), leg(11, "NEW", "0", "0")]),
        );
        assert_eq!(report_of(&working).unwrap().status, OrderStatus::New);
        let cancelled = list(
            "ALL_DONE",
            Some([leg(10, "CANCELED", "0", "0"), leg(11, "CANCELED", "0", "0")]),
        );
        let r = report_of(&cancelled).unwrap();
        assert_eq!(
            (r.status, r.executed_quantity),
            (OrderStatus::Canceled, d("0"))
        );
        let expired = list(
            "ALL_DONE",
            Some([leg(10, "EXPIRED", "0", "0"), leg(11, "EXPIRED", "0", "0")]),
        );
        assert_eq!(report_of(&expired).unwrap().status, OrderStatus::Expired);
        assert_eq!(
            report_of(&list("REJECT", None)).unwrap().status,
            OrderStatus::Rejected
        );
        // A query's answer names the legs without reports.
        let l: OrderList = CALL.parse(&list("EXECUTING", None)).unwrap();
        assert_eq!(l.leg_ids(), vec![10, 11]);
    }

    #[test]
    fn malformed_lists_are_errors_not_panics() {
        for body in [
            list("SOMETHING", None),
            r#"{"orderListId":7}"#.to_string(),
            list(
                "ALL_DONE",
                Some([leg(10, "WEIRD", "0", "0"), leg(11, "NEW", "0", "0")]),
            ),
            "[]".to_string(),
            "".to_string(),
        ] {
            let e = report_of(&body).unwrap_err();
            assert_eq!(e.code(), "venue_malformed_answer", "{body}");
        }
    }

    #[test]
    fn only_the_base_assets_commission_is_summed() {
        let trades: Vec<MyTrade> = CALL
            .parse(
                r#"[{"symbol":"BTCUSDT","id":1,"orderId":5,"orderListId":-1,"price":"50000",
                "qty":"0.01","quoteQty":"500","commission":"0.00001","commissionAsset":"BTC",
                "time":1,"isBuyer":true,"isMaker":false,"isBestMatch":true},
                {"symbol":"BTCUSDT","id":2,"orderId":5,"orderListId":-1,"price":"50000",
                "qty":"0.01","quoteQty":"500","commission":"0.00002","commissionAsset":"BTC",
                "time":1,"isBuyer":true,"isMaker":false,"isBestMatch":true},
                {"symbol":"BTCUSDT","id":3,"orderId":5,"orderListId":-1,"price":"50000",
                "qty":"0.01","quoteQty":"500","commission":"0.01","commissionAsset":"BNB",
                "time":1,"isBuyer":true,"isMaker":false,"isBestMatch":true}]"#,
            )
            .unwrap();
        assert_eq!(commission_in(&trades, "BTC", &CALL).unwrap(), d("0.00003"));
        assert_eq!(commission_in(&trades, "ETH", &CALL).unwrap(), d("0"));
        let negative: Vec<MyTrade> = CALL
            .parse(r#"[{"commission":"-1","commissionAsset":"BTC"}]"#)
            .unwrap();
        assert!(commission_in(&negative, "BTC", &CALL).is_err());
    }
}
