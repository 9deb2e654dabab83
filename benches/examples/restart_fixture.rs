//! Writes a gateway's journal and mock exchange log holding N accepted
//! orders, in the on-disk formats, for `benches/gateway-restart.sh`: what a
//! gateway that ran for a long time leaves behind, without sending N HTTP
//! requests.
//!
//! ```text
//! cargo run --release -p alertgate-benches --example restart_fixture -- DIR N
//! ```
//!
//! `DIR/journal.jsonl`: N accepted requests (timestamped-scheme headers, a
//! body, the decision with its order), accepted one every 10 ms and ending
//! an hour ago, so none is within a replay window. `DIR/fills.jsonl`: each
//! order submitted through the real [`MockExchange`] in batches of 4,096
//! (its submit line and fills): market orders on three symbols, and one
//! order in a thousand a buy limit far below the market that rests, so the
//! book holds N/1000 working orders.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use alertgate_gateway::clock::wall_clock_ms;
use alertgate_gateway::serve::execution::client_order_id;
use alertgate_gateway::serve::journal::ExecOrder;
use alertgate_gateway::serve::mock::{MockExchange, MockSettings};
use alertgate_simulator::stream::write_line;
use alertgate_validator::{Decimal, OrderType, Side};

const SYMBOLS: [&str; 3] = ["BTC/USDT", "ETH/USDT", "SOL/USDT"];
const BATCH: usize = 4096;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: restart_fixture DIR N");
        std::process::exit(2)
    };
    let dir = PathBuf::from(dir);
    let n: u64 = n.parse().unwrap_or_else(|_| {
        eprintln!("restart_fixture: N must be a count, got {n:?}");
        std::process::exit(2)
    });
    std::fs::create_dir_all(&dir).expect("create DIR");
    let journal = std::fs::File::create(dir.join("journal.jsonl")).expect("journal");
    let mut journal = BufWriter::with_capacity(1 << 20, journal);
    let fills = dir.join("fills.jsonl");
    let _ = std::fs::remove_file(&fills);
    let _ = std::fs::remove_file(dir.join("fills.jsonl.snapshot"));
    let mut exchange = MockExchange::open(&fills, MockSettings::default()).expect("fills");
    let end_ms = wall_clock_ms() - 3_600_000;
    let first_ms = end_ms - n as i64 * 10;
    let mut batch = Vec::with_capacity(BATCH);
    let started = std::time::Instant::now();
    for i in 0..n {
        let accepted_ms = first_ms + i as i64 * 10;
        let event = format!("bench-{i:010}");
        let symbol = SYMBOLS[(i % 3) as usize];
        let base = [67_000, 3_500, 150][(i % 3) as usize] + (i % 50) as i64;
        let resting = i % 1000 == 999;
        let side = if resting || i % 2 == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let price = Decimal::parse(&if resting {
            "1".to_string()
        } else {
            base.to_string()
        })
        .expect("price");
        let order = ExecOrder {
            client_order_id: client_order_id("", &event),
            event_id: event.clone(),
            symbol: symbol.to_string(),
            side,
            order_type: if resting {
                OrderType::Limit
            } else {
                OrderType::Market
            },
            quantity: Decimal::parse("0.1").expect("quantity"),
            price: Some(price),
            stop_price: None,
            mark_price: None,
            stop_loss: None,
            take_profit: None,
            target_position: None,
            action: Default::default(),
        };
        let body = format!(
            r#"{{"symbol":"{}","side":"{}","order_type":"{}","quantity":"0.1","price":"{}","confidence":"0.9","timestamp":{},"event_id":"{event}"}}"#,
            symbol.replace('/', ""),
            side.name(),
            order.order_type.name(),
            price,
            accepted_ms - 50,
        );
        let decision = serde_json::json!({
            "strategy": "",
            "accepted": true,
            "status": 200,
            "code": "accepted",
            "replay_key": event,
            "accepted_ms": accepted_ms,
            "timestamp_ms": accepted_ms - 50,
            "order": &order,
        });
        let signature = format!("t={},v1={:064x}", accepted_ms / 1000 - 1, i);
        let headers = [
            ("content-type", "application/json"),
            ("x-tradeeon-signature", signature.as_str()),
            ("x-forwarded-for", "52.89.214.238"),
        ];
        let line = write_line(
            &accepted_ms.to_string(),
            &headers,
            &body,
            Some("52.89.214.238".parse().expect("ip")),
            Some(&decision.to_string()),
        );
        journal.write_all(line.as_bytes()).expect("journal write");
        journal.write_all(b"\n").expect("journal write");
        batch.push(order);
        if batch.len() == BATCH || i + 1 == n {
            for r in exchange.execute_batch(&batch, accepted_ms + 1) {
                r.expect("executed");
            }
            batch.clear();
        }
        if i % 1_000_000 == 999_999 {
            eprintln!("{} orders, {:.0} s", i + 1, started.elapsed().as_secs_f64());
        }
    }
    journal.flush().expect("journal flush");
    journal.get_ref().sync_all().expect("journal fsync");
    println!(
        "{n} orders: journal {} bytes, exchange log {} bytes, {} working, {:.1} s",
        std::fs::metadata(dir.join("journal.jsonl")).map_or(0, |m| m.len()),
        std::fs::metadata(&fills).map_or(0, |m| m.len()),
        exchange.open_orders(),
        started.elapsed().as_secs_f64()
    );
}
