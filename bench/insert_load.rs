//! Insert load for the partition benchmark: one connection inserting rows
//! stamped `now()` (or the given time) into randomly chosen tables
//! `t1..tN`, one statement per transaction, until the stop file appears.
//! Prints one line: `ok failed p50_us p99_us max_us`.
//!
//! Usage: insert_load URL TABLES READY_FILE STOP_FILE [TIMESTAMP]

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection, PgConnection};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (url, tables, ready, stop, at) = match &args[..] {
        [_, url, tables, ready, stop] => (url, tables, ready, stop, "now()".to_string()),
        [_, url, tables, ready, stop, at] => (url, tables, ready, stop, format!("'{at}'")),
        _ => {
            eprintln!("usage: insert_load URL TABLES READY_FILE STOP_FILE [TIMESTAMP]");
            std::process::exit(2);
        }
    };
    let tables: u64 = tables.parse().expect("TABLES is a number");
    let mut conn = PgConnection::connect(url).await.expect("connect");
    // An application that gives up quickly: any long lock on a parent
    // shows up as a failed insert, not only as latency.
    sqlx::raw_sql("SET lock_timeout = '1s'")
        .execute(&mut conn)
        .await
        .expect("set");
    let mut latencies: Vec<Duration> = Vec::with_capacity(1 << 20);
    let (mut ok, mut failed) = (0u64, 0u64);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut n = 0u64;
    loop {
        if n.is_multiple_of(64) && Path::new(stop).exists() {
            break;
        }
        n += 1;
        // xorshift: a cheap, dependency-free spread over the tables.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let table = seed % tables + 1;
        let sql = format!("INSERT INTO t{table} (payload, created_at) VALUES ('x', {at})");
        let started = Instant::now();
        match sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await {
            Ok(_) => ok += 1,
            Err(_) => failed += 1,
        }
        latencies.push(started.elapsed());
        if ok == 1 {
            std::fs::write(ready, b"ready").expect("ready file");
        }
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .map_or(0, |d| d.as_micros())
    };
    println!("{ok} {failed} {} {} {}", pct(0.50), pct(0.99), pct(1.0));
}
