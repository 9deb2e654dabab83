//! The live stage against a scripted venue: what happens to positions and
//! their protection when orders are refused, race a fill, come late or
//! again, and what the `[policy]` limits allow sizing to order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use alertgate_validator::{Decimal, OrderType, Side};

use super::*;
use crate::serve::journal::CancelOf;
use crate::venue::binance::answers::add;
use crate::venue::exactly_once::ResolvePolicy;
use crate::venue::order_log::OrderLog;
use crate::venue::{Account, Balance, OrderStatus, Position};

fn d(s: &str) -> Decimal {
    Decimal::parse(s).unwrap()
}

fn neg(x: Decimal) -> Decimal {
    Decimal::new(-x.mantissa(), x.scale()).unwrap()
}

const SYMBOL: &str = "BTC/USDT";

/// The venue's books: one symbol, market orders filled at once at 100.
#[derive(Default)]
struct Books {
    /// USDⓈ-M: the signed position.
    position: Decimal,
    /// Spot: free and locked BTC.
    base_free: Decimal,
    base_locked: Decimal,
    /// Every order the venue took, by client id.
    orders: HashMap<String, (VenueOrder, OrderReport)>,
    /// Every order POST, in order.
    posts: Vec<VenueOrder>,
    /// The next POST of an order that is not a bracket leg is refused so.
    refuse_next_entry: Option<VenueError>,
    /// A working leg executes just before its cancel reaches the venue
    /// (the cancel then finds nothing: Binance's -2011).
    legs_fill_on_cancel: bool,
    /// The account is not answered (the venue unreachable).
    account_down: bool,
    /// The symbol's minimum notional (none by default).
    min_notional: Decimal,
}

impl Books {
    fn execute(&mut self, side: Side, quantity: Decimal) {
        let signed = match side {
            Side::Buy => quantity,
            Side::Sell => neg(quantity),
        };
        self.position = add(self.position, signed).unwrap();
        self.base_free = add(self.base_free, signed).unwrap();
    }

    fn working_legs(&self) -> Vec<&VenueOrder> {
        self.orders
            .values()
            .filter(|(o, r)| brackets::is_leg(o) && !r.status.is_final())
            .map(|(o, _)| o)
            .collect()
    }
}

struct Fake {
    kind: VenueKind,
    books: Arc<Mutex<Books>>,
}

fn report(id: &str, status: OrderStatus, executed: Decimal) -> OrderReport {
    OrderReport {
        client_order_id: id.into(),
        venue_order_id: format!("v-{id}"),
        status,
        executed_quantity: executed,
        average_price: executed.is_positive().then(|| d("100")),
        updated_ms: 1,
    }
}

impl Venue for Fake {
    fn kind(&self) -> VenueKind {
        self.kind
    }
    async fn server_time(&self) -> Result<i64, VenueError> {
        Ok(wall_clock_ms())
    }
    async fn trading_rules(
        &self,
        _quotes: &[&str],
    ) -> Result<Vec<(String, TradingRules)>, VenueError> {
        let rules = TradingRules {
            step: d("0.001"),
            tick: d("0.1"),
            min_notional: self.books.lock().unwrap().min_notional,
            ..TradingRules::default()
        };
        Ok(vec![(SYMBOL.to_string(), rules)])
    }
    async fn submit(&self, order: &VenueOrder, _ts: i64) -> Result<OrderReport, VenueError> {
        let mut b = self.books.lock().unwrap();
        b.posts.push(order.clone());
        if !brackets::is_leg(order) {
            if let Some(e) = b.refuse_next_entry.take() {
                return Err(e);
            }
        }
        let id = order.client_order_id.as_str();
        let r = match order.kind {
            VenueOrderKind::Market => {
                b.execute(order.side, order.quantity);
                report(id, OrderStatus::Filled, order.quantity)
            }
            VenueOrderKind::Oco { .. } => {
                // A spot sell list holds the base asset it would sell.
                b.base_free = add(b.base_free, neg(order.quantity)).unwrap();
                b.base_locked = add(b.base_locked, order.quantity).unwrap();
                report(id, OrderStatus::New, Decimal::ZERO)
            }
            _ => report(id, OrderStatus::New, Decimal::ZERO),
        };
        b.orders.insert(id.to_string(), (order.clone(), r.clone()));
        Ok(r)
    }
    async fn query(&self, _s: &str, id: &str, _ts: i64) -> Result<OrderReport, VenueError> {
        let b = self.books.lock().unwrap();
        b.orders
            .get(id)
            .map(|(_, r)| r.clone())
            .ok_or(VenueError::NotFound {
                venue: "fake",
                client_order_id: id.into(),
            })
    }
    async fn cancel(&self, _s: &str, id: &str, _ts: i64) -> Result<OrderReport, VenueError> {
        let mut b = self.books.lock().unwrap();
        let not_found = VenueError::NotFound {
            venue: "fake",
            client_order_id: id.into(),
        };
        let Some((order, r)) = b.orders.get(id).cloned() else {
            return Err(not_found);
        };
        if r.status.is_final() {
            return Err(not_found);
        }
        if b.legs_fill_on_cancel && brackets::is_leg(&order) {
            b.execute(order.side, order.quantity);
            let filled = report(id, OrderStatus::Filled, order.quantity);
            b.orders.insert(id.to_string(), (order, filled));
            return Err(not_found);
        }
        if let VenueOrderKind::Oco { .. } = order.kind {
            b.base_free = add(b.base_free, order.quantity).unwrap();
            b.base_locked = add(b.base_locked, neg(order.quantity)).unwrap();
        }
        let cancelled = report(id, OrderStatus::Canceled, Decimal::ZERO);
        b.orders.insert(id.to_string(), (order, cancelled.clone()));
        Ok(cancelled)
    }
    async fn account(&self, _ts: i64) -> Result<Account, VenueError> {
        let b = self.books.lock().unwrap();
        if b.account_down {
            return Err(VenueError::NotSent {
                venue: "fake",
                reason: "connection refused".into(),
            });
        }
        Ok(match self.kind {
            VenueKind::BinanceSpot => Account {
                equity: None,
                balances: vec![
                    Balance {
                        asset: "BTC".into(),
                        free: b.base_free,
                        locked: b.base_locked,
                    },
                    Balance {
                        asset: "USDT".into(),
                        free: d("1000000"),
                        locked: Decimal::ZERO,
                    },
                ],
                positions: Vec::new(),
            },
            _ => Account {
                equity: Some(d("1000000")),
                balances: Vec::new(),
                positions: (b.position != Decimal::ZERO)
                    .then(|| Position {
                        symbol: SYMBOL.into(),
                        quantity: b.position,
                        mark_price: Some(d("100")),
                    })
                    .into_iter()
                    .collect(),
            },
        })
    }
    async fn mark_price(&self, _symbol: &str) -> Result<Decimal, VenueError> {
        Ok(d("100"))
    }
}

struct Harness {
    live: Live<Fake>,
    books: Arc<Mutex<Books>>,
    _dir: tempfile::TempDir,
}

async fn harness(kind: VenueKind) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let books = Arc::new(Mutex::new(Books::default()));
    let venue = Fake {
        kind,
        books: books.clone(),
    };
    let clock = Arc::new(VenueClock::default());
    let log = OrderLog::open(&dir.path().join("orders.jsonl")).unwrap();
    let executor = Executor::new(
        venue,
        log,
        clock.clone(),
        ResolvePolicy::default(),
        wall_clock_ms,
    );
    let fills = FillLog::open(&dir.path().join("fills.jsonl")).unwrap();
    let mut live = Live::new(
        executor,
        clock,
        vec!["USDT".into()],
        SharedRules::default(),
        fills,
        Arc::new(CircuitBreaker::new(0, Duration::from_secs(1))),
        Arc::new(Metrics::default()),
    );
    live.refresh().await.unwrap();
    Harness {
        live,
        books,
        _dir: dir,
    }
}

fn sizing(mode: SizingMode) -> Arc<SizingSection> {
    Arc::new(SizingSection {
        mode,
        ..SizingSection::default()
    })
}

/// A market alert of `event` with the target position `target`.
fn target(event: &str, side: Side, target: &str) -> ExecOrder {
    ExecOrder {
        target_position: Some(d(target)),
        price: Some(d("100")),
        ..ExecOrder::new(
            &crate::serve::execution::client_order_id("s", event),
            event,
            SYMBOL,
            side,
            OrderType::Market,
            d("1"),
        )
    }
}

fn bracketed(mut order: ExecOrder, stop: &str, take_profit: Option<&str>) -> ExecOrder {
    order.stop_loss = Some(d(stop));
    order.take_profit = take_profit.map(d);
    order
}

async fn run(h: &mut Harness, order: ExecOrder, mode: SizingMode) {
    h.live
        .execute(&LiveOrder {
            order,
            sizing: sizing(mode),
            limits: OrderLimits::default(),
            accepted_ms: wall_clock_ms(),
        })
        .await;
}

/// USDⓈ-M: a long of 1 protected by a reduce-only stop at 90.
async fn protected_long(h: &mut Harness) {
    let entry = bracketed(target("e1", Side::Buy, "1"), "90", None);
    run(h, entry, SizingMode::Target).await;
    let b = h.books.lock().unwrap();
    assert_eq!(b.position, d("1"));
    assert_eq!(b.working_legs().len(), 1, "the long is protected");
}

#[tokio::test]
async fn a_reversal_the_venue_refuses_leaves_the_position_protected() {
    let mut h = harness(VenueKind::BinanceUsdm).await;
    protected_long(&mut h).await;
    h.books.lock().unwrap().refuse_next_entry = Some(VenueError::Rejected {
        venue: "fake",
        code: "venue_insufficient_margin",
        venue_code: -2019,
        message: "Margin is insufficient.".into(),
    });
    // Target short 1: sell 2, refused by the venue.
    run(&mut h, target("e2", Side::Sell, "-1"), SizingMode::Target).await;
    let b = h.books.lock().unwrap();
    assert_eq!(b.position, d("1"), "nothing executed: still long 1");
    assert_eq!(
        b.working_legs().len(),
        1,
        "the long that is still open must keep its stop-loss"
    );
}

#[tokio::test]
async fn a_leg_that_fills_as_its_cancel_arrives_does_not_oversize_a_target_reversal() {
    let mut h = harness(VenueKind::BinanceUsdm).await;
    protected_long(&mut h).await;
    // The stop triggers just as the reversal cancels it: the position is
    // then flat, and the alert's target (short 1) is one sell of 1.
    h.books.lock().unwrap().legs_fill_on_cancel = true;
    run(&mut h, target("e2", Side::Sell, "-1"), SizingMode::Target).await;
    let b = h.books.lock().unwrap();
    assert_eq!(b.position, d("-1"), "the alert's target, not past it");
}

#[tokio::test]
async fn a_spot_exit_sized_from_the_account_closes_a_long_its_oco_protects() {
    let mut h = harness(VenueKind::BinanceSpot).await;
    let entry = bracketed(target("e1", Side::Buy, "1"), "90", Some("110"));
    run(&mut h, entry, SizingMode::Target).await;
    {
        let b = h.books.lock().unwrap();
        assert_eq!(
            (b.base_free, b.base_locked),
            (d("0"), d("1")),
            "the OCO holds it"
        );
    }
    // The strategy goes flat.
    run(&mut h, target("e2", Side::Sell, "0"), SizingMode::Target).await;
    let b = h.books.lock().unwrap();
    assert_eq!(
        add(b.base_free, b.base_locked).unwrap(),
        d("0"),
        "the exit alert must sell the long (posts: {:?})",
        b.posts.iter().map(|o| (o.side, o.kind)).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_venue_set_up_failure_never_rewrites_an_order_the_log_knows() {
    let mut h = harness(VenueKind::BinanceUsdm).await;
    // An entry filled; the gateway died before its legs were placed.
    let entry = target("e1", Side::Buy, "1");
    run(&mut h, entry.clone(), SizingMode::Target).await;
    let id = entry.client_order_id.clone();
    assert_eq!(h.live.executor.log().get(&id).unwrap().state, State::Filled);
    // After a restart the venue set-up fails (say hedge mode): the journal
    // resumes the entry for its missing legs, and the stage refuses it.
    h.live.block(VenueError::Rejected {
        venue: "fake",
        code: "venue_hedge_mode",
        venue_code: 0,
        message: "hedge mode".into(),
    });
    let entry = bracketed(entry, "90", None);
    run(&mut h, entry, SizingMode::Target).await;
    // The filled entry must stay filled: recorded `rejected`, a later
    // restart (set-up fixed) would never place its legs (`knows` says it
    // never fills) and would stop following it.
    assert_eq!(h.live.executor.log().get(&id).unwrap().state, State::Filled);
}

#[tokio::test]
async fn a_cancel_alert_cancels_the_strategys_own_reduce_only_stop_order() {
    let mut h = harness(VenueKind::BinanceUsdm).await;
    run(&mut h, target("e1", Side::Buy, "1"), SizingMode::Alert).await;
    // The strategy's own exit: a stop sell of 1 at 90 (reduce-only: it
    // closes the long).
    let stop = ExecOrder {
        stop_price: Some(d("90")),
        price: Some(d("100")),
        ..ExecOrder::new(
            &crate::serve::execution::client_order_id("s", "stop"),
            "stop",
            SYMBOL,
            Side::Sell,
            OrderType::StopLoss,
            d("1"),
        )
    };
    run(&mut h, stop.clone(), SizingMode::Alert).await;
    assert_eq!(
        h.books.lock().unwrap().orders[&stop.client_order_id]
            .1
            .status,
        OrderStatus::New
    );
    // Then it withdraws that stop.
    let cancel = ExecOrder {
        action: ExecAction::Cancel(CancelOf {
            event_id: Some("stop".into()),
            client_order_id: Some(stop.client_order_id.clone()),
        }),
        ..ExecOrder::new(
            &crate::serve::execution::client_order_id("s", "cancel"),
            "cancel",
            SYMBOL,
            Side::Buy,
            OrderType::Market,
            Decimal::ZERO,
        )
    };
    run(&mut h, cancel, SizingMode::Alert).await;
    let b = h.books.lock().unwrap();
    assert_eq!(
        b.orders[&stop.client_order_id].1.status,
        OrderStatus::Canceled,
        "the stop the strategy withdrew is still working"
    );
}

#[tokio::test]
async fn a_repeated_target_alert_does_not_rest_a_second_limit_order() {
    let mut h = harness(VenueKind::BinanceUsdm).await;
    let limit = |event: &str| ExecOrder {
        order_type: OrderType::Limit,
        price: Some(d("95")),
        ..target(event, Side::Buy, "1")
    };
    // TradingView repeats the alert (a new event id each time): target
    // long 1, as a limit buy at 95 that rests.
    run(&mut h, limit("t-1"), SizingMode::Target).await;
    run(&mut h, limit("t-2"), SizingMode::Target).await;
    let b = h.books.lock().unwrap();
    let resting: Vec<_> = b
        .orders
        .values()
        .filter(|(o, r)| matches!(o.kind, VenueOrderKind::Limit { .. }) && !r.status.is_final())
        .map(|(o, _)| o.quantity)
        .collect();
    assert_eq!(
        resting,
        [d("1")],
        "both resting buys filling would make the position 2, the target 1"
    );
}

async fn run_limited(
    h: &mut Harness,
    order: ExecOrder,
    sizing: Arc<SizingSection>,
    limits: OrderLimits,
) {
    h.live
        .execute(&LiveOrder {
            order,
            sizing,
            limits,
            accepted_ms: wall_clock_ms(),
        })
        .await;
}

fn max_quantity(max: &str) -> OrderLimits {
    OrderLimits {
        max_quantity: Some(d(max)),
        max_order_value: None,
    }
}

fn max_value(max: &str) -> OrderLimits {
    OrderLimits {
        max_quantity: None,
        max_order_value: Some(d(max)),
    }
}

/// The order log's text: refusals carry their code there.
/// The stage's `alertgate_venue_errors_total` lines (a venue's client
/// counts its failed calls itself; the fake venue counts none).
fn errors_counted(h: &Harness) -> Vec<String> {
    let text = h.live.metrics.render();
    text.lines()
        .filter(|l| l.starts_with("alertgate_venue_errors_total{"))
        .map(str::to_string)
        .collect()
}

fn order_log(h: &Harness) -> String {
    std::fs::read_to_string(h._dir.path().join("orders.jsonl")).unwrap()
}

#[tokio::test]
async fn a_target_alert_never_orders_past_the_policy_max_quantity() {
    // The gate checks the alert's `quantity` (1 here); the target position
    // it asks for (1000) is what sizing orders: held to max_quantity too.
    let mut h = harness(VenueKind::BinanceUsdm).await;
    let order = target("e1", Side::Buy, "1000");
    run_limited(&mut h, order, sizing(SizingMode::Target), max_quantity("1")).await;
    let b = h.books.lock().unwrap();
    assert!(b.posts.is_empty(), "nothing sent: {:?}", b.posts);
    assert_eq!(b.position, d("0"));
    drop(b);
    let log = order_log(&h);
    assert!(log.contains("sizing_quantity_too_large"), "{log}");
    assert!(log.contains("target position 1000"), "{log}");
    // The stage's own refusal: counted by the stage.
    assert_eq!(
        errors_counted(&h),
        ["alertgate_venue_errors_total{venue=\"binance-usdm\",code=\"sizing_quantity_too_large\"} 1"]
    );
}

#[tokio::test]
async fn a_reversal_within_the_limit_orders_up_to_twice_it_and_a_close_is_never_refused() {
    let mut h = harness(VenueKind::BinanceUsdm).await;
    let target_mode = sizing(SizingMode::Target);
    let limits = max_quantity("1");
    run_limited(
        &mut h,
        target("e1", Side::Buy, "1"),
        target_mode.clone(),
        limits,
    )
    .await;
    // Long 1 → short 1: one sell of 2, the target within the limit.
    run_limited(
        &mut h,
        target("e2", Side::Sell, "-1"),
        target_mode.clone(),
        limits,
    )
    .await;
    assert_eq!(h.books.lock().unwrap().position, d("-1"));
    // A position above the limit (opened by hand) may always be closed.
    h.books.lock().unwrap().position = d("5");
    run_limited(&mut h, target("e3", Side::Sell, "0"), target_mode, limits).await;
    let b = h.books.lock().unwrap();
    assert_eq!(b.position, d("0"));
    let sizes: Vec<String> = b.posts.iter().map(|o| o.quantity.to_string()).collect();
    assert_eq!(sizes, ["1", "2", "5"]);
}

#[tokio::test]
async fn a_sized_order_is_valued_at_the_venues_mark_not_at_the_alerts_own_price() {
    // The alert claims a price of 0.001: at it, 1 BTC is worth 0.001. The
    // venue's mark is 100: worth 100, above the limit of 50.
    let mut h = harness(VenueKind::BinanceUsdm).await;
    let mut order = target("e1", Side::Buy, "1");
    order.price = Some(d("0.001"));
    run_limited(&mut h, order, sizing(SizingMode::Target), max_value("50")).await;
    assert!(h.books.lock().unwrap().posts.is_empty());
    assert!(order_log(&h).contains("sizing_order_value_too_large"));
    // equity_pct: 10 % of 1,000,000 at 100 is 1,000 BTC, worth 100,000.
    let equity_pct = Arc::new(SizingSection {
        mode: SizingMode::EquityPct,
        equity_pct: Some(d("10")),
        ..SizingSection::default()
    });
    let order = ExecOrder {
        price: Some(d("100")),
        ..ExecOrder::new("ag2", "e2", SYMBOL, Side::Buy, OrderType::Market, d("1"))
    };
    run_limited(
        &mut h,
        order.clone(),
        equity_pct.clone(),
        max_value("99999"),
    )
    .await;
    assert!(h.books.lock().unwrap().posts.is_empty());
    let order = ExecOrder {
        client_order_id: "ag3".into(),
        event_id: "e3".into(),
        ..order
    };
    run_limited(&mut h, order, equity_pct, max_value("100000")).await;
    let b = h.books.lock().unwrap();
    assert_eq!(b.position, d("1000"), "at the limit: sent");
}

#[tokio::test]
async fn a_spot_sell_the_venue_refuses_leaves_the_long_under_its_oco() {
    // The OCO locks the coins a sell needs, so it is cancelled before the
    // sell goes out; the venue refuses the sell: the same OCO (triggers,
    // quantity) is placed again, under a new client id, and holds the long.
    let mut h = harness(VenueKind::BinanceSpot).await;
    let entry = bracketed(target("e1", Side::Buy, "1"), "90", Some("110"));
    run(&mut h, entry, SizingMode::Target).await;
    let first = h.books.lock().unwrap().working_legs()[0].clone();
    h.books.lock().unwrap().refuse_next_entry = Some(VenueError::Rejected {
        venue: "fake",
        code: "venue_rejected",
        venue_code: -2010,
        message: "Account has insufficient balance for requested action.".into(),
    });
    run(&mut h, target("e2", Side::Sell, "0"), SizingMode::Target).await;
    // The venue's answer is counted by the venue's client, not again by
    // the stage.
    assert_eq!(errors_counted(&h), Vec::<String>::new());
    {
        let b = h.books.lock().unwrap();
        assert_eq!(
            (b.base_free, b.base_locked),
            (d("0"), d("1")),
            "the OCO holds the long again"
        );
        let legs = b.working_legs();
        assert_eq!(legs.len(), 1, "{legs:?}");
        assert_eq!(
            (legs[0].kind, legs[0].quantity, legs[0].side),
            (first.kind, first.quantity, first.side)
        );
        assert_ne!(
            legs[0].client_order_id, first.client_order_id,
            "a client id is used once"
        );
    }
    // Placed again once: the same alert resumed (a restart) changes nothing.
    let again = target("e2", Side::Sell, "0");
    run(&mut h, again, SizingMode::Target).await;
    assert_eq!(h.books.lock().unwrap().working_legs().len(), 1);
}

#[tokio::test]
async fn an_order_accepted_longer_ago_than_give_up_after_ms_is_abandoned_not_sent() {
    // Resumed by a restart an hour after it was accepted (or queued behind
    // a long resolution): its market is gone.
    let mut h = harness(VenueKind::BinanceUsdm).await;
    let give_up = i64::try_from(ResolvePolicy::default().give_up_after_ms).unwrap();
    let order = target("late", Side::Buy, "1");
    let id = order.client_order_id.clone();
    h.live
        .execute(&LiveOrder {
            order,
            sizing: sizing(SizingMode::Target),
            limits: OrderLimits::default(),
            accepted_ms: wall_clock_ms() - give_up - 1_000,
        })
        .await;
    assert!(h.books.lock().unwrap().posts.is_empty(), "never sent late");
    assert_eq!(
        h.live.executor.log().get(&id).unwrap().state,
        State::Abandoned
    );
    // Given up by the stage: its own refusal, counted.
    assert_eq!(
        errors_counted(&h),
        ["alertgate_venue_errors_total{venue=\"binance-usdm\",code=\"venue_not_sent\"} 1"]
    );
    // Within it: sent.
    let order = target("on-time", Side::Buy, "1");
    h.live
        .execute(&LiveOrder {
            order,
            sizing: sizing(SizingMode::Target),
            limits: OrderLimits::default(),
            accepted_ms: wall_clock_ms() - give_up + 5_000,
        })
        .await;
    assert_eq!(h.books.lock().unwrap().position, d("1"));
}

#[tokio::test]
async fn a_leg_that_filled_before_its_cancel_is_recorded_filled_not_cancelled() {
    let mut h = harness(VenueKind::BinanceUsdm).await;
    protected_long(&mut h).await;
    let leg = h.books.lock().unwrap().working_legs()[0]
        .client_order_id
        .clone();
    // The stop fills just as the flatten's cancel reaches it: the venue
    // answers the cancel "unknown order".
    h.books.lock().unwrap().legs_fill_on_cancel = true;
    run(&mut h, target("e2", Side::Sell, "0"), SizingMode::Target).await;
    let known = h.live.executor.log().get(&leg).unwrap();
    assert_eq!(
        known.state,
        State::Filled,
        "its fill counts (fill log, PnL)"
    );
    assert_eq!(h.books.lock().unwrap().position, d("0"));
}

#[tokio::test]
async fn a_reversals_legs_protect_the_new_position_not_all_the_reversal_filled() {
    let mut h = harness(VenueKind::BinanceUsdm).await;
    run(&mut h, target("e1", Side::Buy, "1"), SizingMode::Target).await;
    // Long 1 → short 1 with a bracket: one sell of 2; the legs cover 1.
    let reversal = bracketed(target("e2", Side::Sell, "-1"), "110", Some("90"));
    run(&mut h, reversal, SizingMode::Target).await;
    let b = h.books.lock().unwrap();
    assert_eq!(b.position, d("-1"));
    let legs = b.working_legs();
    assert_eq!(legs.len(), 2, "{legs:?}");
    assert!(
        legs.iter()
            .all(|l| l.quantity == d("1") && l.side == Side::Buy),
        "{legs:?}"
    );
}

/// What `h`'s stage says of `order` before its answer, with `ahead`
/// other accepted orders not handed over yet and `queued` in its channel.
async fn size_check(
    h: &Harness,
    order: &ExecOrder,
    mode: SizingMode,
    ahead: usize,
    queued: usize,
) -> Fit {
    let admissions = Admissions::default();
    let _mine = admissions.admit();
    let _others: Vec<Admission> = (0..ahead).map(|_| admissions.admit()).collect();
    let check = SizeCheck {
        order: order.clone(),
        sizing: sizing(mode),
        limits: OrderLimits::default(),
        admissions,
        deadline: tokio::time::Instant::now() + Duration::from_secs(5),
        reply: oneshot::channel().0,
    };
    h.live.size_check(&check, || queued).await
}

fn unfit_code(fit: &Fit) -> Option<&'static str> {
    match fit {
        Fit::Unfit(e) => Some(e.code()),
        _ => None,
    }
}

#[tokio::test]
async fn sized_before_its_answer_an_order_is_refused_as_its_execution_would_refuse_it() {
    let mut h = harness(VenueKind::BinanceUsdm).await;
    // Flat; a target of 0.0004 orders 0.0004, below the 0.001 step.
    let tiny = target("tiny", Side::Buy, "0.0004");
    let fit = size_check(&h, &tiny, SizingMode::Target, 0, 0).await;
    assert_eq!(
        unfit_code(&fit),
        Some("venue_quantity_below_step"),
        "{fit:?}"
    );
    // A target of 1 fits; checking placed nothing.
    let one = target("one", Side::Buy, "1");
    let fit = size_check(&h, &one, SizingMode::Target, 0, 0).await;
    assert!(matches!(fit, Fit::Fits), "{fit:?}");
    assert!(h.books.lock().unwrap().posts.is_empty());
    assert!(h.live.executor.log().get(&one.client_order_id).is_none());
    // Executed, the same orders end alike: the tiny one refused with the
    // same code, the other placed.
    run(&mut h, tiny.clone(), SizingMode::Target).await;
    run(&mut h, one, SizingMode::Target).await;
    {
        let b = h.books.lock().unwrap();
        assert_eq!(b.position, d("1"));
        assert_eq!(b.posts.len(), 1);
    }
    let refused = h.live.executor.log().get(&tiny.client_order_id).unwrap();
    assert_eq!(refused.state, State::Rejected);
    assert!(order_log(&h).contains("venue_quantity_below_step"));
    // At the target: nothing to order, which fits (the answer is 200).
    let again = target("again", Side::Buy, "1");
    let fit = size_check(&h, &again, SizingMode::Target, 0, 0).await;
    assert!(matches!(fit, Fit::Fits), "{fit:?}");
    // A sizing refusal carries the sizing's own code: equity_pct without
    // a percent is refused by its configuration's check, so use a limit.
    let limited = SizeCheck {
        order: target("big", Side::Buy, "5"),
        sizing: sizing(SizingMode::Target),
        limits: max_quantity("2"),
        admissions: Admissions::default(),
        deadline: tokio::time::Instant::now() + Duration::from_secs(5),
        reply: oneshot::channel().0,
    };
    let _mine = limited.admissions.admit();
    let fit = h.live.size_check(&limited, || 0).await;
    assert_eq!(
        unfit_code(&fit),
        Some("sizing_quantity_too_large"),
        "{fit:?}"
    );
}

#[tokio::test]
async fn a_size_check_is_unsure_of_an_order_with_anything_ahead_of_it_or_no_account() {
    let mut h = harness(VenueKind::BinanceUsdm).await;
    let tiny = target("tiny", Side::Buy, "0.0004");
    // An order accepted before it and not handed over yet, or one in the
    // channel: either may move the position first.
    for (ahead, queued) in [(1, 0), (0, 1), (3, 2)] {
        let fit = size_check(&h, &tiny, SizingMode::Target, ahead, queued).await;
        assert!(matches!(fit, Fit::Unsure(_)), "{ahead} {queued}: {fit:?}");
    }
    // The account unreadable: accepted, its execution decides.
    h.books.lock().unwrap().account_down = true;
    let fit = size_check(&h, &tiny, SizingMode::Target, 0, 0).await;
    assert!(matches!(fit, Fit::Unsure(_)), "{fit:?}");
    h.books.lock().unwrap().account_down = false;
    // `target` with a working entry of the symbol: its execution cancels
    // the entry first, which may fill meanwhile.
    let limit = ExecOrder {
        price: Some(d("90")),
        ..ExecOrder::new("lim", "lim", SYMBOL, Side::Buy, OrderType::Limit, d("1"))
    };
    run(&mut h, limit, SizingMode::Alert).await;
    let fit = size_check(&h, &tiny, SizingMode::Target, 0, 0).await;
    assert!(matches!(fit, Fit::Unsure(_)), "{fit:?}");
    // equity_pct is not held back by it (nothing is cancelled first).
    let equity = SizeCheck {
        order: target("eq", Side::Buy, "1"),
        sizing: Arc::new(SizingSection {
            mode: SizingMode::EquityPct,
            equity_pct: Some(d("0.000001")),
            ..SizingSection::default()
        }),
        limits: OrderLimits::default(),
        admissions: Admissions::default(),
        deadline: tokio::time::Instant::now() + Duration::from_secs(5),
        reply: oneshot::channel().0,
    };
    let _mine = equity.admissions.admit();
    // 0.000001 % of 1,000,000 at 100: 0.0001 BTC, below the step.
    let fit = h.live.size_check(&equity, || 0).await;
    assert_eq!(
        unfit_code(&fit),
        Some("venue_quantity_below_step"),
        "{fit:?}"
    );
    // An order whose client id the log knows is never sized again.
    let known = target("lim", Side::Buy, "1");
    let fit = size_check(
        &h,
        &ExecOrder {
            client_order_id: "lim".into(),
            ..known
        },
        SizingMode::Alert,
        0,
        0,
    )
    .await;
    assert!(matches!(fit, Fit::Unsure(_)), "{fit:?}");
    // Checks placed and cancelled nothing: the limit is the only order.
    assert_eq!(h.books.lock().unwrap().posts.len(), 1);
}

#[tokio::test]
async fn a_position_worth_less_than_the_minimum_notional_can_still_be_closed() {
    // USDⓈ-M waives the minimum notional for a reduce-only order (-4164:
    // "unless you choose reduce only"). Minimum 100 at a price of 100.
    let mut h = harness(VenueKind::BinanceUsdm).await;
    h.books.lock().unwrap().min_notional = d("100");
    h.live.refresh().await.unwrap();
    let market = |event: &str, side: Side, qty: &str| ExecOrder {
        price: Some(d("100")),
        ..ExecOrder::new(event, event, SYMBOL, side, OrderType::Market, d(qty))
    };
    run(&mut h, market("long", Side::Buy, "3"), SizingMode::Alert).await;
    run(&mut h, market("trim", Side::Sell, "2.5"), SizingMode::Alert).await;
    // Long 0.5, worth 50: a buy of 0.5 adds to it, so the minimum binds
    // it: refused alike before the answer and when executed.
    let add_to = market("add", Side::Buy, "0.5");
    let fit = size_check(&h, &add_to, SizingMode::Alert, 0, 0).await;
    assert_eq!(
        unfit_code(&fit),
        Some("venue_below_min_notional"),
        "{fit:?}"
    );
    run(&mut h, add_to, SizingMode::Alert).await;
    // A sell of 0.5 only closes it: sized before its answer it fits, and
    // it is sent reduce-only; so is a target of 0.
    let close = market("close", Side::Sell, "0.5");
    let fit = size_check(&h, &close, SizingMode::Alert, 0, 0).await;
    assert!(matches!(fit, Fit::Fits), "{fit:?}");
    let flat = target("flat", Side::Sell, "0");
    let fit = size_check(&h, &flat, SizingMode::Target, 0, 0).await;
    assert!(matches!(fit, Fit::Fits), "{fit:?}");
    run(&mut h, flat, SizingMode::Target).await;
    let b = h.books.lock().unwrap();
    let sent: Vec<(String, bool)> = b
        .posts
        .iter()
        .map(|o| (o.quantity.to_string(), o.reduce_only))
        .collect();
    assert_eq!(
        sent,
        [
            ("3".into(), false),
            ("2.5".into(), true),
            ("0.5".into(), true)
        ]
    );
    assert_eq!(b.position, Decimal::ZERO);
    drop(b);
    assert!(order_log(&h).contains("venue_below_min_notional"));
}

#[test]
fn a_start_up_read_refused_by_a_hold_waits_for_its_end_not_the_pause() {
    let pause = Duration::from_millis(500);
    let banned = VenueError::Banned {
        venue: "v",
        until_ms: 10_000,
    };
    assert_eq!(
        super::retry_wait(&banned, pause, 4_000),
        Duration::from_secs(6)
    );
    assert_eq!(
        super::retry_wait(&banned, pause, 9_900),
        pause,
        "never shorter"
    );
    let limited = VenueError::RateLimited {
        venue: "v",
        retry_after_ms: 3_000,
    };
    assert_eq!(
        super::retry_wait(&limited, pause, 0),
        Duration::from_secs(3)
    );
    let refused = VenueError::NotSent {
        venue: "v",
        reason: "could not connect".into(),
    };
    assert_eq!(super::retry_wait(&refused, pause, 0), pause);
}
