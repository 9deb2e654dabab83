//! The replay engine: a discrete-event loop on a virtual clock.
//!
//! Each recorded request travels the path a live one would:
//!
//! 1. **delivery**: it reaches the gateway at `received_at + delivery`;
//! 2. the [`Gate`] checks it then (`now` =
//!    arrival; mark price = the open of the symbol's latest bar or trade
//!    started by then — the last price known without looking ahead); a
//!    rejection is counted by code; its replay guard has `[replay]
//!    capacity` slots, as `serve`'s gates do;
//! 3. **order**: the accepted order reaches the exchange `order` ms later;
//! 4. the [`Exchange`] fills it against the bars that start at or after its
//!    arrival; a cancel alert's order (see [`alertgate_validator::Action`])
//!    travels the same way and, at its arrival, withdraws its target's
//!    working order, or every working order of its symbol
//!    ([`Exchange::cancel`]; a target not yet arrived, filled or unknown
//!    is counted as a cancel that found nothing);
//! 5. **response**: each fill's report travels back (sampled and reported;
//!    the replayed strategy is recorded, so nothing waits for it).
//!
//! Three sources of events are merged by time: gate arrivals, exchange
//! arrivals and bars. At equal times, gate arrivals go first, then exchange
//! arrivals, then bars, so an order that reaches the exchange exactly when a
//! bar starts fills in that bar ("first bar whose start ≥ arrival"). Ties
//! within a source keep a fixed order (stream order, submission order, symbol
//! order), and every random draw comes from a seeded stream: the same inputs
//! and seed give the same run, bit for bit.
//!
//! Per-event work does not allocate once buffers are warm: headers are lent
//! from the stream through one reused buffer, decimals are converted through
//! stack buffers, and every queue is reserved up front.
//!
//! Bars are **streamed**: each symbol's bars come from a reader (its cache
//! files block by block, or memory) and a k-way merge on a heap of each
//! symbol's next bar orders them, so memory grows with the number of
//! symbols, not bars. Nothing needs the whole series: the mark is the open
//! of the symbol's latest bar started at arrival (the last one replayed, or
//! one just ahead at that very time, read ahead for it), and equity is
//! observed bar by bar. Every bar of every symbol passes once, in replay
//! order, through [`Engine::on_bar`], which hands it to the run's
//! [`BarObserver`] (if any) before the exchange sees it: that is where a
//! chart or any per-symbol accumulator is fed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::path::Path;

use alertgate_validator::alert::EventId;
use alertgate_validator::replay::Slot;
use alertgate_validator::{Action, CancelTarget, Decimal, Gate, Order, Rejection, Request};

use crate::chart::{ChartSeries, DEFAULT_CANDLES};
use crate::config::{GateSettings, SimulationSection};
pub use crate::error::ReplayError;
use crate::exchange::{decimal_to_f64, f64_to_decimal, Costs, Exchange, ExchangeOrder, OrderKind};
use crate::input::InputError;
use crate::latency::{Stage, StageLatency};
use crate::market::{Bar, MarketData, MarketSource, SeriesReader};
use crate::stream::{AlertStream, RecordedRequest};

/// Most points kept of the equity curve (the rest of the statistics use
/// every bar).
pub const CURVE_POINTS: usize = 1000;

/// One rejected alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectionEvent {
    /// Line in the stream file.
    pub line: u64,
    /// When it was received, Unix ms.
    pub received_at_ms: i64,
    /// When the gate checked it, Unix ms.
    pub checked_at_ms: i64,
    /// Why.
    pub rejection: Rejection,
    /// Market series of the symbol its body names, if the body could be
    /// read that far and the symbol has market data.
    pub symbol: Option<usize>,
}

/// One point of the equity curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EquityPoint {
    /// Bar start, Unix ms.
    pub time_ms: i64,
    /// Cash plus positions at their close.
    pub equity: f64,
    /// Fall from the running peak, as a fraction (0.1 = 10%).
    pub drawdown: f64,
}

/// Equity statistics gathered bar by bar, in constant memory per bar.
#[derive(Debug, Clone, PartialEq)]
pub struct EquityTrack {
    /// At most [`CURVE_POINTS`] + 1 points: the last of each time bucket.
    pub curve: Vec<EquityPoint>,
    /// Equity at the end of each UTC day that had a bar: `(day start, equity)`.
    pub daily: Vec<(i64, f64)>,
    /// Largest fall from a running peak, as a fraction.
    pub max_drawdown: f64,
    /// Time with any position open, ms.
    pub exposed_ms: i64,
    /// First and last observation, Unix ms.
    pub span_ms: (i64, i64),
    peak: f64,
    bucket_ms: i64,
    /// Times in the bucket of the curve's last point, `[from, until)`: a
    /// bar in it needs no division (two a bar, a tenth of the per-bar cost).
    last_bucket: (i64, i64),
    last: Option<(i64, bool)>,
}

const DAY_MS: i64 = 86_400_000;

impl EquityTrack {
    fn new(initial: f64, first_ms: i64, last_ms: i64) -> EquityTrack {
        let span = (last_ms - first_ms).max(1);
        EquityTrack {
            curve: Vec::with_capacity(CURVE_POINTS + 2),
            // One per day of data; capped so absurd spans cannot reserve
            // gigabytes up front.
            daily: Vec::with_capacity((span / DAY_MS + 2).min(100_000) as usize),
            max_drawdown: 0.0,
            exposed_ms: 0,
            span_ms: (first_ms, first_ms),
            peak: initial,
            bucket_ms: (span / CURVE_POINTS as i64).max(1),
            last_bucket: (0, 0),
            last: None,
        }
    }

    fn observe(&mut self, time_ms: i64, equity: f64, exposed: bool) {
        self.peak = self.peak.max(equity);
        let drawdown = if self.peak > 0.0 {
            (self.peak - equity) / self.peak
        } else {
            0.0
        };
        self.max_drawdown = self.max_drawdown.max(drawdown);
        if let Some((t, was_exposed)) = self.last {
            if was_exposed {
                self.exposed_ms += time_ms - t;
            }
        } else {
            self.span_ms.0 = time_ms;
        }
        self.span_ms.1 = time_ms;
        self.last = Some((time_ms, exposed));

        let day = time_ms.div_euclid(DAY_MS) * DAY_MS;
        match self.daily.last_mut() {
            Some((d, e)) if *d == day => *e = equity,
            _ => self.daily.push((day, equity)),
        }
        let point = EquityPoint {
            time_ms,
            equity,
            drawdown,
        };
        let (from, until) = self.last_bucket;
        match self.curve.last_mut() {
            Some(p) if from <= time_ms && time_ms < until => *p = point,
            _ => {
                self.curve.push(point);
                self.last_bucket = bucket_range(time_ms - self.span_ms.0, self.bucket_ms);
                self.last_bucket.0 = self.last_bucket.0.saturating_add(self.span_ms.0);
                self.last_bucket.1 = self.last_bucket.1.saturating_add(self.span_ms.0);
            }
        }
    }
}

/// The offsets `x` with `x / width == offset / width` (Rust's division,
/// toward zero), as `[from, until)`; `width` > 0. Saturates at `i64`'s
/// ends, where no bar time lies.
fn bucket_range(offset: i64, width: i64) -> (i64, i64) {
    let b = offset / width;
    let at = |k: i64| k.saturating_mul(width);
    match b {
        0 => ((1 - width), width),
        b if b > 0 => (at(b), at(b + 1)),
        b => (at(b - 1).saturating_add(1), at(b).saturating_add(1)),
    }
}

/// Everything a run produced, for the report.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Symbols, by market series index.
    pub symbols: Vec<String>,
    /// Starting cash.
    pub initial_cash: f64,
    /// Requests in the stream.
    pub alerts: u64,
    /// Requests the gate accepted.
    pub accepted: u64,
    /// Rejections by code, sorted by code.
    pub rejected_by_code: BTreeMap<&'static str, u64>,
    /// Every rejection, in the order the gate saw them.
    pub rejections: Vec<RejectionEvent>,
    /// Bars (and trades) processed.
    pub bars: u64,
    /// The exchange at the end: fills, trades, positions, cash.
    pub exchange: Exchange,
    /// Latency draws per stage (delivery, order, response), ms, sorted.
    pub latency: [Vec<i64>; 3],
    /// Equity statistics.
    pub equity: EquityTrack,
    /// Each market series' bars, reduced to at most
    /// [`DEFAULT_CANDLES`] candles, by series index.
    pub charts: Vec<ChartSeries>,
}

/// An order on its way to the exchange, ordered by arrival, then by when
/// the gate accepted it. Its exchange id is given when it arrives: ids must
/// follow arrival at the exchange, which varying order latency can make
/// differ from the gate's order.
struct InFlight {
    arrival_ms: i64,
    gate_seq: u32,
    delivery: Delivery,
}

/// What reaches the exchange.
enum Delivery {
    /// An order, and the identity of its alert when cancels may name it.
    Place(ExchangeOrder, Option<EventId>),
    /// A cancel alert's: withdraw from the book of series `symbol`.
    Cancel { symbol: usize, target: CancelTarget },
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}
impl InFlight {
    fn key(&self) -> (i64, u32) {
        (self.arrival_ms, self.gate_seq)
    }
}

/// What the engine reports while it runs: called with the alerts and bars
/// done so far (of `stream.requests.len() + market.bar_count()`) every few
/// thousand.
pub type Progress<'p> = &'p (dyn Fn(u64) + Sync);

/// Events between progress calls.
const PROGRESS_EVERY: u64 = 16_384;

/// Sees every bar (or trade) of every symbol once, in the order the engine
/// replays them: by time, then by series index (the symbols' sorted order),
/// each bar before the exchange fills against it.
pub trait BarObserver {
    /// `bar` of the series `series` (an index of [`RunResult::symbols`]).
    fn on_bar(&mut self, series: usize, bar: &Bar);
}

/// What a run reports while it runs, besides its result.
#[derive(Default)]
pub struct Hooks<'h> {
    /// Called with the events done so far ([`Progress`]).
    pub progress: Option<Progress<'h>>,
    /// Sees every bar ([`BarObserver`]).
    pub bars: Option<&'h mut dyn BarObserver>,
}

/// Replays `stream` against `market` through the gate of `settings`, with
/// `simulation`'s latencies, costs and cash; `stream_name` names the stream
/// in errors and `base_dir` anchors relative paths in the `[simulation]`
/// section (empirical latency files).
pub fn run(
    stream: &AlertStream,
    stream_name: &str,
    market: &MarketData,
    settings: &GateSettings,
    simulation: &SimulationSection,
    base_dir: &Path,
    progress: Option<Progress<'_>>,
) -> Result<RunResult, ReplayError> {
    let hooks = Hooks {
        progress,
        bars: None,
    };
    let source = MarketSource::borrowed(market);
    let inputs = (stream, stream_name);
    run_source(inputs, &source, settings, simulation, base_dir, hooks)
}

/// [`run`] on market data streamed from `market` (cache files read block by
/// block, or memory), with `hooks`; `(stream, stream_name)` as in [`run`].
pub fn run_source(
    (stream, stream_name): (&AlertStream, &str),
    market: &MarketSource<'_>,
    settings: &GateSettings,
    simulation: &SimulationSection,
    base_dir: &Path,
    hooks: Hooks<'_>,
) -> Result<RunResult, ReplayError> {
    let lent = settings.lend();
    // The replay guard has `[replay] capacity` slots on the heap, as
    // `serve`'s gates do.
    let gate = lent.gate().map_err(ReplayError::Gate)?;
    Engine::new(
        stream,
        stream_name,
        market,
        settings,
        simulation,
        base_dir,
        gate,
        (
            hooks.progress,
            hooks.bars.map(|b| -> &mut dyn BarObserver { b }),
        ),
    )?
    .run()
}

/// One series being replayed: its reader, the bars read but not yet
/// replayed (the next one, and for a mark any just ahead at the arrival
/// time), and the open of the last bar replayed.
struct Feed<'a> {
    reader: SeriesReader<'a>,
    ahead: VecDeque<Bar>,
    last_open: Option<f64>,
}

impl Feed<'_> {
    /// Reads one more bar into `ahead`; `false` at the end.
    fn pull(&mut self) -> Result<bool, ReplayError> {
        match self.reader.next_bar()? {
            Some(bar) => {
                self.ahead.push_back(bar);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The open of the latest bar started at `now`, replayed or not (bars
    /// before `now` have all been replayed: events run in time order).
    fn open_at(&mut self, now: i64) -> Result<Option<f64>, ReplayError> {
        while self.ahead.back().is_some_and(|b| b.time_ms <= now) && self.pull()? {}
        let ahead = self.ahead.iter().rev().find(|b| b.time_ms <= now);
        Ok(ahead.map(|b| b.open).or(self.last_open))
    }
}

/// The event that comes next: the earliest head of the three sources, gate
/// arrivals first at equal times, then exchange arrivals, then bars.
enum Next {
    /// A request reaches the gate.
    Gate,
    /// An accepted order reaches the exchange.
    Exchange,
    /// A bar starts.
    Bar,
    /// Every source is drained.
    Done,
}

/// The discrete-event loop: the three event sources, one handler per kind
/// of event, and what the run gathers for [`RunResult`].
struct Engine<'a> {
    requests: &'a [RecordedRequest],
    stream_name: &'a str,
    market: &'a MarketSource<'a>,
    gate: Gate<'a, Box<[Slot]>>,
    order_latency: StageLatency,
    response: StageLatency,
    /// Market series of the symbol each body names, for its mark price.
    body_symbol: Vec<Option<usize>>,
    /// Gate arrivals, `(time, request index)`, in arrival order.
    arrivals: Vec<(i64, u32)>,
    /// Index of the next gate arrival.
    next_gate: usize,
    /// Accepted orders on their way to the exchange.
    in_flight: BinaryHeap<Reverse<InFlight>>,
    /// Start of each series' next bar, `(time, series)`: the k-way merge.
    next_bar: BinaryHeap<Reverse<(i64, usize)>>,
    /// Each series' reader and read-ahead.
    feeds: Vec<Feed<'a>>,
    /// Sees every bar.
    observer: Option<&'a mut dyn BarObserver>,
    /// The current request's headers, lent from the stream.
    headers: Vec<(&'a str, &'a str)>,
    /// The gate's secrets, to put back what a journal redacted.
    secrets: Vec<Vec<u8>>,
    exchange: Exchange,
    equity: EquityTrack,
    /// Each series' candles, fed bar by bar.
    charts: Vec<ChartSeries>,
    initial_cash: f64,
    /// Draws per stage: delivery, order, response.
    latency: [Vec<i64>; 3],
    rejected_by_code: BTreeMap<&'static str, u64>,
    rejections: Vec<RejectionEvent>,
    accepted: u64,
    /// Orders the exchange received: the next exchange id.
    submitted: u32,
    /// The exchange id of each arrived order by its alert's identity (the
    /// gate's replay key), kept only when a cancel alert names one.
    ids: Option<HashMap<EventId, u32>>,
    bars_done: u64,
    /// Alerts and bars done, for the progress callback.
    done: u64,
    /// Fills already given a response draw.
    fills_seen: usize,
    progress: Option<Progress<'a>>,
}

impl<'a> Engine<'a> {
    /// Sets up the run: latency streams, delivery draws, the gate's queue,
    /// the symbol of each body, the exchange and the bar queue.
    // Private, called once by `run`, which takes the same inputs.
    #[allow(clippy::too_many_arguments)]
    fn new(
        stream: &'a AlertStream,
        stream_name: &'a str,
        market: &'a MarketSource<'a>,
        settings: &GateSettings,
        sim: &SimulationSection,
        base_dir: &Path,
        gate: Gate<'a, Box<[Slot]>>,
        (progress, observer): (Option<Progress<'a>>, Option<&'a mut dyn BarObserver>),
    ) -> Result<Engine<'a>, ReplayError> {
        let stage = |s: Stage| {
            StageLatency::new(sim.latency.stage(s), s, sim.seed, base_dir)
                .map_err(ReplayError::Latency)
        };
        let (mut delivery, order_latency, response) = (
            stage(Stage::Delivery)?,
            stage(Stage::Order)?,
            stage(Stage::Response)?,
        );
        let requests = &stream.requests;
        let n = requests.len();
        if n > u32::MAX as usize {
            return Err(ReplayError::TooManyAlerts { count: n });
        }
        let mut latency: [Vec<i64>; 3] = [Vec::with_capacity(n), Vec::with_capacity(n), Vec::new()];
        let arrivals = gate_arrivals(requests, &mut delivery, &mut latency[0]);
        let (body_symbol, names_targets) = body_symbols(requests, &settings.quotes, market);
        let (first_bar, last_bar) = bar_span(market)?;
        let (feeds, next_bar) = feeds(market)?;
        Ok(Engine {
            requests,
            stream_name,
            market,
            gate,
            order_latency,
            response,
            body_symbol,
            arrivals,
            next_gate: 0,
            in_flight: BinaryHeap::with_capacity(n),
            next_bar,
            feeds,
            observer,
            headers: Vec::with_capacity(stream.max_headers()),
            secrets: settings.secrets.iter().map(|s| s.0.clone()).collect(),
            exchange: exchange_for(market, sim),
            equity: EquityTrack::new(sim.initial_cash, first_bar, last_bar),
            charts: vec![ChartSeries::new(DEFAULT_CANDLES); market.series.len()],
            initial_cash: sim.initial_cash,
            latency,
            rejected_by_code: BTreeMap::new(),
            rejections: Vec::new(),
            accepted: 0,
            submitted: 0,
            ids: names_targets.then(|| HashMap::with_capacity(n)),
            bars_done: 0,
            done: 0,
            fills_seen: 0,
            progress,
        })
    }

    /// Handles events in time order until every source is drained.
    fn run(mut self) -> Result<RunResult, ReplayError> {
        loop {
            match self.next_event() {
                Next::Gate => self.on_gate_arrival()?,
                Next::Exchange => self.on_exchange_arrival(),
                Next::Bar => self.on_bar()?,
                Next::Done => break,
            }
        }
        Ok(self.finish())
    }

    /// Which source's event comes next.
    fn next_event(&self) -> Next {
        let n = self.arrivals.len();
        let t_gate = self.arrivals.get(self.next_gate).map_or(i64::MAX, |a| a.0);
        let t_exchange = self.in_flight.peek().map_or(i64::MAX, |o| o.0.arrival_ms);
        let t_bar = self.next_bar.peek().map_or(i64::MAX, |b| b.0 .0);
        if self.next_gate == n && self.in_flight.is_empty() && self.next_bar.is_empty() {
            Next::Done
        } else if self.next_gate < n && t_gate <= t_exchange && t_gate <= t_bar {
            Next::Gate
        } else if t_exchange <= t_bar {
            Next::Exchange
        } else {
            Next::Bar
        }
    }

    /// Counts one alert or bar done, calling the progress callback every
    /// [`PROGRESS_EVERY`].
    fn tick(&mut self) {
        self.done += 1;
        if self.done.is_multiple_of(PROGRESS_EVERY) {
            if let Some(p) = self.progress {
                p(self.done);
            }
        }
    }

    /// Step 2, the gate: checks the next arriving request, recording a
    /// rejection or sending the accepted order on to the exchange.
    fn on_gate_arrival(&mut self) -> Result<(), ReplayError> {
        let (now, index) = self.arrivals[self.next_gate];
        self.next_gate += 1;
        self.tick();
        let requests = self.requests;
        let r = &requests[index as usize];
        self.headers.clear();
        self.headers
            .extend(r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        // A journal's redacted passphrase, put back from the settings.
        let body = crate::redact::restore(&r.body, &self.secrets);
        let mark_price = self.mark_price(index, now)?;
        let request = Request {
            body: body.as_bytes(),
            headers: &self.headers,
            source_ip: r.source_ip,
            mark_price,
        };
        match self.gate.check(&request, now) {
            Err(rejection) => {
                *self.rejected_by_code.entry(rejection.code()).or_insert(0) += 1;
                self.rejections.push(RejectionEvent {
                    line: r.line,
                    received_at_ms: r.received_at_ms,
                    checked_at_ms: now,
                    rejection,
                    symbol: self.body_symbol[index as usize],
                });
                Ok(())
            }
            Ok(order) => self.send(order, r, now),
        }
    }

    /// The mark price the gate sees for request `index` at `now`: the open
    /// of its symbol's latest bar started by then.
    fn mark_price(&mut self, index: u32, now: i64) -> Result<Option<Decimal>, ReplayError> {
        let Some(s) = self.body_symbol[index as usize] else {
            return Ok(None);
        };
        Ok(self.feeds[s].open_at(now)?.and_then(f64_to_decimal))
    }

    /// Step 3, order latency: puts `order`, accepted at `now` from request
    /// `r`, in flight to the exchange after an order-latency draw.
    fn send(&mut self, order: Order, r: &RecordedRequest, now: i64) -> Result<(), ReplayError> {
        self.accepted += 1;
        let at = |field: &str, m: String| InputError::at(self.stream_name, r.line, field, m);
        let symbol = self.market.index_of(order.symbol.as_str()).ok_or_else(|| {
            at(
                "symbol",
                format!(
                    "no market data for {0}: pass --market {0}=FILE.csv or put {1}.csv in --market-dir",
                    order.symbol,
                    order.symbol.as_str().replace('/', "-")
                ),
            )
        })?;
        let delivery = match order.action {
            Action::Cancel(target) => Delivery::Cancel { symbol, target },
            Action::Place => {
                let Some(kind) =
                    OrderKind::for_order(order.order_type, order.price, order.stop_price)
                else {
                    unreachable!(
                        "the gate accepted a {} order without its price (it refuses that as missing_price)",
                        order.order_type.name()
                    )
                };
                let key = self.ids.as_ref().map(|_| order.replay_key.clone());
                let placed = ExchangeOrder {
                    id: 0, // numbered on arrival
                    symbol,
                    side: order.side,
                    quantity: decimal_to_f64(order.quantity),
                    kind,
                    stop_loss: order.stop_loss.map(decimal_to_f64),
                    take_profit: order.take_profit.map(decimal_to_f64),
                    arrival_ms: 0, // set below
                };
                Delivery::Place(placed, key)
            }
        };
        let o = self.order_latency.sample(now);
        self.latency[1].push(o);
        let arrival_ms = now.saturating_add(o);
        self.in_flight.push(Reverse(InFlight {
            arrival_ms,
            gate_seq: self.accepted as u32,
            delivery,
        }));
        Ok(())
    }

    /// Step 4: the exchange receives the next order in flight, numbers it,
    /// and works it from the next bar; or a cancel, which withdraws its
    /// target at once.
    fn on_exchange_arrival(&mut self) {
        let Some(Reverse(InFlight {
            arrival_ms,
            delivery,
            ..
        })) = self.in_flight.pop()
        else {
            return;
        };
        match delivery {
            Delivery::Place(mut order, key) => {
                order.id = self.submitted;
                order.arrival_ms = arrival_ms;
                self.submitted += 1;
                if let (Some(ids), Some(key)) = (&mut self.ids, key) {
                    ids.insert(key, order.id);
                }
                self.exchange.submit(order);
            }
            Delivery::Cancel { symbol, target } => {
                let id = match &target {
                    CancelTarget::Symbol => None,
                    // An id never given (ids stay below the alert count,
                    // at most u32::MAX) when the target has not arrived
                    // or does not exist: the cancel finds nothing.
                    CancelTarget::Event(key) => Some(
                        self.ids
                            .as_ref()
                            .and_then(|ids| ids.get(key).copied())
                            .unwrap_or(u32::MAX),
                    ),
                };
                self.exchange.cancel(symbol, id);
            }
        }
    }

    /// The next bar goes to the observer, then to the exchange (step 4,
    /// fills); step 5, each new fill gets a response draw; then equity is
    /// observed at the bar. The one place every bar passes, in replay order.
    fn on_bar(&mut self) -> Result<(), ReplayError> {
        let Some(Reverse((t, s))) = self.next_bar.pop() else {
            return Ok(());
        };
        let feed = &mut self.feeds[s];
        let Some(bar) = feed.ahead.pop_front() else {
            return Ok(());
        };
        feed.last_open = Some(bar.open);
        if feed.ahead.is_empty() {
            feed.pull()?;
        }
        if let Some(next) = feed.ahead.front() {
            self.next_bar.push(Reverse((next.time_ms, s)));
        }
        if let Some(observer) = self.observer.as_deref_mut() {
            observer.on_bar(s, &bar);
        }
        // The market reader has checked each series' order and prices; a
        // bar the chart would refuse is left out of the chart, never the run.
        let _ = self.charts[s].push(bar.time_ms, bar.open, bar.high, bar.low, bar.close);
        self.exchange.on_bar(s, &bar);
        self.bars_done += 1;
        self.tick();
        for fill in &self.exchange.fills[self.fills_seen..] {
            self.latency[2].push(self.response.sample(fill.time_ms));
        }
        self.fills_seen = self.exchange.fills.len();
        self.equity
            .observe(t, self.exchange.equity(), self.exchange.has_exposure());
        Ok(())
    }

    /// Reports the final progress and gathers the run's result.
    fn finish(mut self) -> RunResult {
        if let Some(p) = self.progress {
            p(self.done);
        }
        for l in &mut self.latency {
            l.sort_unstable();
        }
        RunResult {
            symbols: self
                .market
                .series
                .iter()
                .map(|s| s.symbol.clone())
                .collect(),
            initial_cash: self.initial_cash,
            alerts: self.requests.len() as u64,
            accepted: self.accepted,
            rejected_by_code: self.rejected_by_code,
            rejections: self.rejections,
            bars: self.bars_done,
            exchange: self.exchange,
            latency: self.latency,
            equity: self.equity,
            charts: self.charts,
        }
    }
}

/// Step 1, delivery: draws each request's delivery latency into `draws` in
/// received order (so the spike process sees time move forward), and
/// returns the gate arrivals `(time, request index)` in arrival order.
fn gate_arrivals(
    requests: &[RecordedRequest],
    delivery: &mut StageLatency,
    draws: &mut Vec<i64>,
) -> Vec<(i64, u32)> {
    let n = requests.len();
    let mut by_received: Vec<u32> = (0..n as u32).collect();
    by_received.sort_by_key(|&i| (requests[i as usize].received_at_ms, i));
    let mut arrivals: Vec<(i64, u32)> = Vec::with_capacity(n);
    for &i in &by_received {
        let received = requests[i as usize].received_at_ms;
        let d = delivery.sample(received);
        draws.push(d);
        arrivals.push((received.saturating_add(d), i));
    }
    arrivals.sort_unstable();
    arrivals
}

/// The market series of the symbol each body names, for its mark price: the
/// gate needs the price before it has read the body. Unreadable bodies get
/// none (the gate rejects them anyway). And whether a cancel alert names
/// a target: only then does the engine keep the orders' identities.
fn body_symbols(
    requests: &[RecordedRequest],
    quotes: &[String],
    market: &MarketSource<'_>,
) -> (Vec<Option<usize>>, bool) {
    let quotes: Vec<&str> = quotes.iter().map(String::as_str).collect();
    let mut names_targets = false;
    let symbols = requests
        .iter()
        .map(|r| {
            let fields = alertgate_validator::alert::RawAlert::scan(r.body.as_bytes())
                .and_then(|raw| raw.fields(&quotes))
                .ok()?;
            names_targets |= matches!(fields.action, Action::Cancel(CancelTarget::Event(_)));
            market.index_of(fields.symbol.as_str())
        })
        .collect();
    (symbols, names_targets)
}

/// Each series' reader, its first bar read, and the merge's queue: the
/// start of each series' first bar, `(time, series)`.
#[allow(clippy::type_complexity)] // a pair built together, used once
fn feeds<'a>(
    market: &'a MarketSource<'a>,
) -> Result<(Vec<Feed<'a>>, BinaryHeap<Reverse<(i64, usize)>>), ReplayError> {
    let mut feeds = Vec::with_capacity(market.series.len());
    let mut queue = BinaryHeap::with_capacity(market.series.len());
    for (i, reader) in market.readers()?.into_iter().enumerate() {
        let mut feed = Feed {
            reader,
            ahead: VecDeque::new(),
            last_open: None,
        };
        if feed.pull()? {
            queue.push(Reverse((feed.ahead[0].time_ms, i)));
        }
        feeds.push(feed);
    }
    Ok((feeds, queue))
}

/// An exchange with a book per series of `market`, holding `sim`'s initial
/// cash, charging its fees and slippage, by its conventions.
fn exchange_for(market: &MarketSource<'_>, sim: &SimulationSection) -> Exchange {
    let mut exchange = Exchange::new(
        market.series.len(),
        sim.initial_cash,
        Costs {
            maker_fee_bps: sim.maker_fee_bps,
            taker_fee_bps: sim.taker_fee_bps,
            slippage_bps: sim.slippage_bps,
        },
    );
    exchange.set_conventions(sim.conventions);
    exchange
}

/// The first and the last bar start over every series; an error without
/// any bar.
fn bar_span(market: &MarketSource<'_>) -> Result<(i64, i64), ReplayError> {
    let spans = market.series.iter().filter(|s| s.rows > 0);
    let first_bar = spans.clone().map(|s| s.span_ms.0).min();
    let last_bar = spans.map(|s| s.span_ms.1).max();
    match (first_bar, last_bar) {
        (Some(first), Some(last)) => Ok((first, last)),
        _ => Err(ReplayError::NoBars),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The cached bucket holds exactly the offsets the division puts in
        /// it, at its edges too.
        #[test]
        fn a_bucket_range_is_the_divisions_bucket(
            offset in -1_000_000_000_000_000i64..1_000_000_000_000_000,
            width in 1i64..1_000_000_000_000,
            probe in -3i64..3,
        ) {
            let (from, until) = bucket_range(offset, width);
            proptest::prop_assert!(from <= offset && offset < until);
            for x in [from + probe, until + probe] {
                proptest::prop_assert_eq!(x / width == offset / width, from <= x && x < until, "{}", x);
            }
        }

        /// The curve is the last point of each bucket of the span, as the
        /// division says, for bars in time order from any start.
        #[test]
        fn the_curve_keeps_the_last_point_of_each_bucket(
            first in -1_000_000_000i64..1_000_000_000,
            steps in proptest::collection::vec(0i64..5_000, 1..400),
        ) {
            let times: Vec<i64> = steps
                .iter()
                .scan(first, |t, s| { *t += s; Some(*t) })
                .collect();
            let last = *times.last().unwrap();
            let mut e = EquityTrack::new(1.0, first, last);
            for (i, &t) in times.iter().enumerate() {
                e.observe(t, i as f64, false);
            }
            // The curve's buckets start at the first observation.
            let (width, origin) = (e.bucket_ms, times[0]);
            let mut expected: Vec<(i64, f64)> = Vec::new();
            for (i, &t) in times.iter().enumerate() {
                match expected.last_mut() {
                    Some(p) if (p.0 - origin) / width == (t - origin) / width => *p = (t, i as f64),
                    _ => expected.push((t, i as f64)),
                }
            }
            let got: Vec<(i64, f64)> = e.curve.iter().map(|p| (p.time_ms, p.equity)).collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn equity_track_buckets_days_and_exposure() {
        let mut e = EquityTrack::new(100.0, 0, 2 * DAY_MS);
        e.observe(0, 100.0, true);
        e.observe(DAY_MS / 2, 120.0, false);
        e.observe(DAY_MS, 90.0, true);
        e.observe(2 * DAY_MS, 108.0, true);
        assert_eq!(e.daily, [(0, 120.0), (DAY_MS, 90.0), (2 * DAY_MS, 108.0)]);
        assert_eq!(e.max_drawdown, 0.25);
        assert_eq!(e.exposed_ms, DAY_MS / 2 + DAY_MS);
        assert_eq!(e.span_ms, (0, 2 * DAY_MS));
        assert_eq!(e.curve.len(), 4);
        assert_eq!(e.curve[3].drawdown, 0.1);
    }

    mod streaming {
        use super::super::*;
        use crate::market::{MarketKind, MarketSeries};
        use proptest::prelude::*;

        fn series(kind: MarketKind, times: &[i64]) -> MarketData {
            let bars = times
                .iter()
                .enumerate()
                .map(|(i, &t)| {
                    let p = 100.0 + i as f64;
                    Bar {
                        time_ms: t,
                        open: p,
                        high: p,
                        low: p,
                        close: p,
                        volume: 1.0,
                    }
                })
                .collect();
            MarketData {
                series: vec![MarketSeries {
                    symbol: "BTC/USDT".into(),
                    source: "m.csv".into(),
                    kind,
                    bars,
                }],
                gaps: Vec::new(),
            }
        }

        proptest! {
            /// The mark read ahead of the stream is the open of the latest
            /// bar started at arrival, as the whole series would tell,
            /// with several trades in one millisecond and arrivals at,
            /// between and beyond bar times.
            #[test]
            fn the_streamed_mark_is_the_last_started_bar(
                steps in prop::collection::vec(0i64..3, 1..40),
                queries in prop::collection::vec(0i64..90, 0..30),
            ) {
                let mut t = 10;
                let times: Vec<i64> = steps.iter().map(|s| { t += s; t }).collect();
                let data = series(MarketKind::Trades, &times);
                let source = MarketSource::borrowed(&data);
                let (mut feeds, mut queue) = feeds(&source).unwrap();
                let mut queries = queries;
                queries.sort_unstable();
                for now in queries {
                    // Bars before `now` are replayed first, as the engine
                    // orders events.
                    while queue.peek().is_some_and(|Reverse((t, _))| *t < now) {
                        let Reverse((_, s)) = queue.pop().unwrap();
                        let feed = &mut feeds[s];
                        let bar = feed.ahead.pop_front().unwrap();
                        feed.last_open = Some(bar.open);
                        if feed.ahead.is_empty() {
                            feed.pull().unwrap();
                        }
                        if let Some(next) = feed.ahead.front() {
                            queue.push(Reverse((next.time_ms, s)));
                        }
                    }
                    let want = data.series[0].last_started(now).map(|i| data.series[0].bars[i].open);
                    prop_assert_eq!(feeds[0].open_at(now).unwrap(), want, "at {}", now);
                }
            }
        }

        /// Records every bar it is shown.
        struct Seen(Vec<(usize, i64)>);
        impl BarObserver for Seen {
            fn on_bar(&mut self, series: usize, bar: &Bar) {
                self.0.push((series, bar.time_ms));
            }
        }

        #[test]
        fn the_observer_sees_every_bar_once_in_replay_order() {
            let mut data = series(MarketKind::Bars, &[1_000, 2_000, 3_000, 5_000]);
            let mut eth = series(MarketKind::Trades, &[2_000, 2_000, 4_000])
                .series
                .remove(0);
            eth.symbol = "ETH/USDT".into();
            data.series.push(eth);
            let settings = crate::config::Settings::defaults();
            let mut seen = Seen(Vec::new());
            let hooks = Hooks {
                progress: None,
                bars: Some(&mut seen),
            };
            let stream = AlertStream {
                requests: Vec::new(),
            };
            let r = run_source(
                (&stream, "s.jsonl"),
                &MarketSource::borrowed(&data),
                &settings.gate,
                &settings.simulation,
                Path::new("."),
                hooks,
            )
            .unwrap();
            assert_eq!(r.bars, 7);
            assert_eq!(
                seen.0,
                [
                    (0, 1_000),
                    (0, 2_000),
                    (1, 2_000),
                    (1, 2_000),
                    (0, 3_000),
                    (1, 4_000),
                    (0, 5_000)
                ]
            );
        }
    }

    mod replays {
        use super::super::*;
        use crate::config::Settings;
        use crate::market::{Bar, MarketKind, MarketSeries};
        use crate::stream::RecordedRequest;

        const T0: i64 = 1_700_000_040_000; // a minute boundary
        const MIN: i64 = 60_000;

        /// Five 1-minute bars opening at 99, 101, 103, ...
        fn market() -> MarketData {
            let bars = (0..5)
                .map(|i| {
                    let open = 99.0 + 2.0 * i as f64;
                    Bar {
                        time_ms: T0 + i * MIN,
                        open,
                        high: open + 1.0,
                        low: open - 1.0,
                        close: open + 0.5,
                        volume: 1.0,
                    }
                })
                .collect();
            MarketData {
                series: vec![MarketSeries {
                    symbol: "BTC/USDT".into(),
                    source: "btc.csv".into(),
                    kind: MarketKind::Bars,
                    bars,
                }],
                gaps: Vec::new(),
            }
        }

        fn alert(received_at_ms: i64, body: &str) -> RecordedRequest {
            RecordedRequest {
                line: 1,
                received_at_ms,
                headers: Vec::new(),
                body: body.into(),
                source_ip: None,
            }
        }

        fn replay(requests: Vec<RecordedRequest>, config: &str) -> RunResult {
            let settings = Settings::from_toml(config, "t.toml", |_| None).unwrap();
            let stream = AlertStream { requests };
            run(
                &stream,
                "s.jsonl",
                &market(),
                &settings.gate,
                &settings.simulation,
                Path::new("."),
                None,
            )
            .unwrap()
        }

        fn market_buy(at: i64, id: &str) -> String {
            format!(
                r#"{{"symbol":"BTCUSDT","side":"buy","quantity":"1","timestamp":{at},"event_id":"{id}"}}"#
            )
        }

        #[test]
        fn an_alert_at_a_bars_start_fills_at_its_open_by_the_configured_conventions() {
            // What backtesting.py placed at bar 0's close, received at bar
            // 1's start: it fills at bar 1's open, 101, under both
            // conventions; a quantity below 1 is units in alertgate's and
            // a fraction of margin in backtesting.py's (half of 100000 at
            // 101: 495 units).
            let body =
                market_buy(T0 + MIN, "a").replace(r#""quantity":"1""#, r#""quantity":"0.5""#);
            for (config, units) in [
                ("", 0.5),
                ("[simulation]\nconventions = \"backtesting.py\"", 495.0),
            ] {
                let r = replay(vec![alert(T0 + MIN, &body)], config);
                let f = r.exchange.fills[0];
                assert_eq!(
                    (f.time_ms, f.price, f.quantity),
                    (T0 + MIN, 101.0, units),
                    "{config}"
                );
            }
        }

        #[test]
        fn latency_decides_the_fill_bar() {
            // Received 30 s into bar 0, delivered 20 s later: at the
            // exchange 5 s (bar 1, open 101) or 15 s (bar 2, open 103) on.
            for (order_ms, open) in [(5_000, 101.0), (15_000, 103.0)] {
                let r = replay(
                    vec![alert(T0 + 30_000, &market_buy(T0 + 30_000, "a"))],
                    &format!("[simulation.latency]\ndelivery_ms = 20000\norder_ms = {order_ms}"),
                );
                assert_eq!(r.accepted, 1);
                assert_eq!(r.exchange.fills[0].price, open, "order latency {order_ms}");
                assert_eq!(r.latency[0], [20_000]);
                assert_eq!(r.latency[1], [order_ms]);
            }
        }

        #[test]
        fn the_gate_sees_arrival_time_and_the_last_known_price() {
            // Unpriced market orders are valued at the mark: the open of the
            // latest bar started at arrival. 10 × 99 fits 1000; 10 × 101
            // does not. Arriving 1 ms before bar 1 still sees bar 0's open.
            let body = |at: i64, id: &str| {
                format!(
                    r#"{{"symbol":"BTCUSDT","side":"buy","quantity":"10","timestamp":{at},"event_id":"{id}"}}"#
                )
            };
            let r = replay(
                vec![
                    alert(T0 + MIN - 1, &body(T0 + MIN - 1, "early")),
                    alert(T0 + MIN, &body(T0 + MIN, "late")),
                ],
                "[policy]\nmax_order_value = 1000",
            );
            assert_eq!(r.accepted, 1);
            assert_eq!(r.rejected_by_code.get("order_value_too_large"), Some(&1));
            assert_eq!(r.rejections[0].received_at_ms, T0 + MIN);

            // Delivery latency makes an alert stale at the gate.
            let r = replay(
                vec![alert(T0, &market_buy(T0, "slow"))],
                "[policy]\nmax_age_s = 10\n[simulation.latency]\ndelivery_ms = 10001",
            );
            assert_eq!(r.rejected_by_code.get("stale"), Some(&1));
            assert_eq!(r.rejections[0].checked_at_ms, T0 + 10_001);
        }

        #[test]
        fn the_replay_guard_has_the_configured_capacity() {
            // Three distinct alerts within one window: a guard of two
            // slots refuses the third, the default one takes all three.
            let alerts = || {
                (0..3)
                    .map(|i| alert(T0 + i, &market_buy(T0 + i, &format!("e{i}"))))
                    .collect()
            };
            let r = replay(alerts(), "[replay]\ncapacity = 2\n[rate]\nper_second = 0");
            assert_eq!(r.accepted, 2);
            assert_eq!(r.rejected_by_code.get("replay_cache_full"), Some(&1));
            let r = replay(alerts(), "[rate]\nper_second = 0");
            assert_eq!(r.accepted, 3);
        }

        #[test]
        fn a_cancel_alert_withdraws_its_target_before_it_fills() {
            // A sell limit at 104 fills in bar 2 (high 104) unless a cancel
            // reaches the exchange first; a cancel of an unknown target,
            // and one arriving after its target filled, find nothing.
            let limit = |at: i64, id: &str| {
                format!(
                    r#"{{"symbol":"BTCUSDT","side":"sell","type":"limit","price":"104","quantity":"1","timestamp":{at},"event_id":"{id}"}}"#
                )
            };
            let cancel = |at: i64, id: &str, target: &str| {
                format!(
                    r#"{{"symbol":"BTCUSDT","action":"cancel","cancel":"{target}","timestamp":{at},"event_id":"{id}"}}"#
                )
            };
            let config = "[simulation.latency]\ndelivery_ms = 1000\norder_ms = 1000";
            let alone = replay(vec![alert(T0 + 10_000, &limit(T0 + 10_000, "s1"))], config);
            assert_eq!(alone.exchange.fills.len(), 1, "the control fills");

            let r = replay(
                vec![
                    alert(T0 + 10_000, &limit(T0 + 10_000, "s1")),
                    alert(T0 + MIN + 10_000, &cancel(T0 + MIN + 10_000, "c1", "s1")),
                    alert(T0 + MIN + 20_000, &cancel(T0 + MIN + 20_000, "c2", "nope")),
                    // Late: s2 fills in bar 2, its cancel arrives in bar 3.
                    alert(T0 + MIN + 30_000, &limit(T0 + MIN + 30_000, "s2")),
                    alert(T0 + 3 * MIN + 1, &cancel(T0 + 3 * MIN + 1, "c3", "s2")),
                ],
                config,
            );
            assert_eq!(r.accepted, 5);
            let counts = r.exchange.counts();
            assert_eq!(counts.orders, 2, "cancels place nothing");
            assert_eq!(
                (counts.cancelled_by_alerts, counts.cancels_unmatched),
                (1, 2)
            );
            assert_eq!(r.exchange.fills.len(), 1);
            assert_eq!(r.exchange.fills[0].order_id, 1, "only s2 filled");
            assert_eq!(
                r.latency[1].len(),
                5,
                "a cancel travels with the order latency"
            );
            // The report shows both, beside the reversals' row.
            let report = crate::report::Report::new(&r, 0);
            let table = report.table();
            let row = |name: &str| {
                table
                    .lines()
                    .find(|l| l.trim_start().starts_with(name))
                    .and_then(|l| l.split_whitespace().last())
                    .map(str::to_string)
            };
            assert_eq!(row("cancelled by alerts").as_deref(), Some("1"), "{table}");
            assert_eq!(
                row("cancels that found nothing").as_deref(),
                Some("2"),
                "{table}"
            );
            let json = report.to_json();
            assert!(json.contains(r#""cancelled_by_alerts": 1,"#), "{json}");
            assert!(json.contains(r#""cancels_unmatched": 2,"#), "{json}");
        }

        #[test]
        fn a_symbol_cancel_withdraws_every_working_order_of_its_symbol() {
            let limit = |at: i64, id: &str, price: &str| {
                format!(
                    r#"{{"symbol":"BTCUSDT","side":"sell","type":"limit","price":"{price}","quantity":"1","timestamp":{at},"event_id":"{id}"}}"#
                )
            };
            let r = replay(
                vec![
                    alert(T0 + 1_000, &limit(T0 + 1_000, "a", "104")),
                    alert(T0 + 2_000, &limit(T0 + 2_000, "b", "106")),
                    alert(
                        T0 + 3_000,
                        &format!(
                            r#"{{"symbol":"BTC/USDT","side":"cancel","timestamp":{},"id":"all"}}"#,
                            T0 + 3_000
                        ),
                    ),
                ],
                "[simulation.latency]\ndelivery_ms = 100\norder_ms = 100",
            );
            assert!(r.exchange.fills.is_empty());
            let counts = r.exchange.counts();
            assert_eq!((counts.cancelled_by_alerts, counts.open_orders), (2, 0));
        }

        #[test]
        fn an_alert_without_market_data_names_line_and_field() {
            let body =
                r#"{"symbol":"ETHUSDT","side":"buy","quantity":"1","timestamp":1700000040000}"#;
            let settings = Settings::defaults();
            let stream = AlertStream {
                requests: vec![RecordedRequest {
                    line: 7,
                    ..alert(T0, body)
                }],
            };
            let err = run(
                &stream,
                "s.jsonl",
                &market(),
                &settings.gate,
                &settings.simulation,
                Path::new("."),
                None,
            )
            .unwrap_err()
            .to_string();
            assert!(
                err.starts_with("s.jsonl:7: field \"symbol\": no market data for ETH/USDT"),
                "{err}"
            );
        }
    }
}
