//! Spot order lists: an OCO exit pair placed as one list
//! (`POST /api/v3/orderList/oco`), queried (`GET /api/v3/orderList`, then
//! its legs once it is done) and cancelled (`DELETE /api/v3/orderList`)
//! by its `listClientOrderId`; and the base-asset commission of an order
//! (`GET /api/v3/myTrades`).

use super::*;
use crate::venue::base_asset;
use crate::venue::binance::answers::{commission_in, ListState, MyTrade, OrderList};

/// The endpoint placing an OCO.
pub(super) const NEW_OCO: &str = "orderList/oco";

impl BinanceVenue {
    /// The request placing the OCO `order` (Spot only). A `SELL` OCO
    /// closes a long: its take-profit is the above leg and its stop-loss
    /// the below one (a `BUY` OCO the other way round). Both legs are
    /// `TAKE_PROFIT` / `STOP_LOSS` with a `stopPrice`, market orders when
    /// triggered, like the USDⓈ-M legs: `LIMIT_MAKER` would rest at the
    /// take-profit price at once, but may fill in part and then leave the
    /// list working on the rest; a market leg fills whole or not at all.
    pub(super) fn oco_request<'a>(&self, order: &'a VenueOrder) -> Result<Request<'a>, VenueError> {
        let VenueOrderKind::Oco { stop, take_profit } = order.kind else {
            return Err(self.invalid("not an OCO order".into()));
        };
        if self.settings.market != Market::Spot {
            return Err(self.invalid("OCO order lists exist on Binance Spot only".into()));
        }
        self.check_id(&order.client_order_id)?;
        let decimal = |d, what| positive(d, what).map_err(|m| self.invalid(m));
        let (above, below) = match order.side {
            Side::Sell => (("TAKE_PROFIT", take_profit), ("STOP_LOSS", stop)),
            Side::Buy => (("STOP_LOSS", stop), ("TAKE_PROFIT", take_profit)),
        };
        let params: Vec<(&'static str, String)> = vec![
            ("symbol", self.symbol(&order.symbol)?),
            ("listClientOrderId", order.client_order_id.clone()),
            ("side", side(order.side).into()),
            ("quantity", decimal(order.quantity, "quantity")?),
            ("aboveType", above.0.into()),
            ("aboveStopPrice", decimal(above.1, "above stop price")?),
            ("belowType", below.0.into()),
            ("belowStopPrice", decimal(below.1, "below stop price")?),
            ("newOrderRespType", "RESULT".into()),
        ];
        let call = self.call(NEW_OCO, Effect::Changes, Some(&order.client_order_id));
        Ok(self.signed(Method::POST, NEW_OCO, params, call))
    }

    /// A list answer holding its legs' reports (a new list, a cancel).
    pub(super) fn list_answer(
        &self,
        body: &str,
        call: &Call<'_>,
    ) -> Result<OrderReport, VenueError> {
        let mut list: OrderList = call.parse(body)?;
        let legs = match list.take_leg_reports(call) {
            Some(legs) => legs?,
            None => Vec::new(),
        };
        list.report(&legs, call)
    }

    /// `GET orderList` by `listClientOrderId`; once the list is done, its
    /// legs are read too (`GET order` by `orderId`) to learn which one
    /// executed and how much.
    pub(super) async fn query_list(
        &self,
        symbol: &str,
        id: &str,
        timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        let params = vec![("origClientOrderId", id.to_string())];
        let call = self.call("orderList", Effect::ReadOnly, Some(id));
        let list: OrderList = self
            .get(
                self.signed(Method::GET, "orderList", params, call),
                timestamp_ms,
            )
            .await?;
        let mut legs = Vec::new();
        if list.state(&call)? == ListState::AllDone {
            for leg in list.leg_ids() {
                legs.push(self.query_leg(symbol, id, leg, timestamp_ms).await?);
            }
        }
        list.report(&legs, &call)
    }

    /// One leg of the list `list_id` by its `orderId`.
    async fn query_leg(
        &self,
        symbol: &str,
        list_id: &str,
        order_id: i64,
        timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        let params = vec![
            ("symbol", self.symbol(symbol)?),
            ("orderId", order_id.to_string()),
        ];
        let call = self.call("order", Effect::ReadOnly, Some(list_id));
        let body = self
            .send(
                &self.signed(Method::GET, "order", params, call),
                timestamp_ms,
            )
            .await?;
        call.parse::<SpotOrder>(&body)?.report(&call)
    }

    /// `DELETE orderList` by `listClientOrderId`: both legs cancelled.
    pub(super) async fn cancel_list(
        &self,
        symbol: &str,
        id: &str,
        timestamp_ms: i64,
    ) -> Result<OrderReport, VenueError> {
        let params = vec![
            ("symbol", self.symbol(symbol)?),
            ("listClientOrderId", id.to_string()),
        ];
        let call = self.call("orderList", Effect::Changes, Some(id));
        let body = self
            .send(
                &self.signed(Method::DELETE, "orderList", params, call),
                timestamp_ms,
            )
            .await?;
        self.list_answer(&body, &call)
    }

    /// The commission `report`'s order paid in `symbol`'s base asset
    /// (`GET myTrades` by `orderId`, weight 5); zero on USDⓈ-M, whose fees
    /// are taken from the margin asset.
    pub(super) async fn spot_base_commission(
        &self,
        symbol: &str,
        report: &OrderReport,
        timestamp_ms: i64,
    ) -> Result<Decimal, VenueError> {
        if self.settings.market != Market::Spot {
            return Ok(Decimal::ZERO);
        }
        let order_id: i64 = report.venue_order_id.parse().map_err(|_| {
            self.invalid(format!(
                "venue order id {:?} is not a spot order id",
                report.venue_order_id
            ))
        })?;
        let params = vec![
            ("symbol", self.symbol(symbol)?),
            ("orderId", order_id.to_string()),
        ];
        let call = self.call("myTrades", Effect::ReadOnly, Some(&report.client_order_id));
        let trades: Vec<MyTrade> = self
            .get(
                self.signed(Method::GET, "myTrades", params, call),
                timestamp_ms,
            )
            .await?;
        commission_in(&trades, base_asset(symbol), &call)
    }
}
