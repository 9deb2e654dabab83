//! Recovery with a live venue: which accepted orders of
//! the journal a restart hands to a venue's stage again.

use super::*;
use crate::venue::settings::Venues;
use crate::venue::sizing::Sizings;
use alertgate_validator::{OrderType, Side};

/// A journal line accepting `order` for the top-level strategy.
fn accepted_line(order: &ExecOrder, accepted_ms: i64) -> String {
    let decision = serde_json::json!({
        "accepted": true,
        "strategy": "",
        "replay_key": order.event_id,
        "accepted_ms": accepted_ms,
        "order": order,
    });
    format!("{{\"decision\":{decision}}}\n")
}

#[test]
fn orders_the_paper_exchange_executed_are_not_resent_to_a_venue_configured_since() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths {
        journal: dir.path().join("journal.jsonl"),
        fills: dir.path().join("fills.jsonl"),
    };
    // A first run on paper (the default, `alert` sizing: the batched paper
    // stage) accepted and executed one alert, then stopped before its
    // first snapshot (they come every 300 s).
    let order = ExecOrder {
        price: Some(Decimal::parse("50000").unwrap()),
        ..ExecOrder::new(
            &execution::client_order_id("", "e1"),
            "e1",
            "BTC/USDT",
            Side::Buy,
            OrderType::Market,
            Decimal::parse("0.01").unwrap(),
        )
    };
    let now = wall_clock_ms();
    let mut paper = MockExchange::open(&paths.fills, MockSettings::default()).unwrap();
    assert!(paper.execute(&order, now).unwrap().fresh);
    drop(paper);
    std::fs::write(&paths.journal, accepted_line(&order, now)).unwrap();
    // The operator then points `[venue]` at a real venue and restarts.
    std::env::set_var("REVIEW_RECOVER_KEY", "k");
    std::env::set_var("REVIEW_RECOVER_SECRET", "s");
    let venues = Venues::from_toml(
        "[venue]\nkind = \"binance-usdm\"\nbase_url = \"http://127.0.0.1:9\"\n\
         key_env = \"REVIEW_RECOVER_KEY\"\nsecret_env = \"REVIEW_RECOVER_SECRET\"\n",
        "t.toml",
    )
    .unwrap();
    let live = LiveVenues::open(
        &venues,
        &Sizings::default(),
        [""].into_iter(),
        dir.path(),
        MockSettings::default(),
    )
    .unwrap();
    let (_, resume, _) = recover(&paths, MockSettings::default(), &BTreeMap::new(), &live).unwrap();
    let resumed: Vec<&str> = resume.iter().map(|(_, o, _)| o.event_id.as_str()).collect();
    assert!(
        resumed.is_empty(),
        "an alert the paper exchange executed would be placed on the real venue: {resumed:?}"
    );
}

#[test]
fn two_venue_sections_never_share_an_order_log() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("REVIEW_SHARED_KEY", "k");
    std::env::set_var("REVIEW_SHARED_SECRET", "s");
    // Two accounts, one order log: at the next start each stage would
    // reconcile the other's unsettled orders against its own account,
    // find them absent and place them there.
    let section = |url: &str| {
        format!(
            "kind = \"binance-usdm\"\nbase_url = \"{url}\"\norders = \"orders.jsonl\"\n\
             key_env = \"REVIEW_SHARED_KEY\"\nsecret_env = \"REVIEW_SHARED_SECRET\"\n"
        )
    };
    let text = format!(
        "[venue]\n{}\n[strategies.b.venue]\n{}",
        section("http://127.0.0.1:9"),
        section("http://127.0.0.1:10")
    );
    let venues = Venues::from_toml(&text, "t.toml").unwrap();
    let opened = LiveVenues::open(
        &venues,
        &Sizings::default(),
        ["", "b"].into_iter(),
        dir.path(),
        MockSettings::default(),
    );
    let e = opened.err().expect("refused");
    assert_eq!(e.code(), "venue");
    assert!(e.to_string().contains("orders.jsonl"), "{e}");
}
