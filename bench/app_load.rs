//! Application load for the live-traffic benchmark: `CLIENTS` connections,
//! each reading and updating random rows of `accounts` (ids 1..=ROWS), one
//! statement per transaction, as a web service would, and waiting as long
//! as the server makes it (no lock timeout of its own), until the stop file
//! appears. Prints one line: `ok failed p50_us p99_us max_us`, the longest
//! single query being the worst stall any user saw.
//!
//! Usage: app_load URL CLIENTS ROWS READY_FILE STOP_FILE

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

async fn client(url: String, rows: i64, seed: u64, stop: String) -> (u64, u64, Vec<Duration>) {
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let (mut ok, mut failed) = (0u64, 0u64);
    let mut latencies = Vec::with_capacity(1 << 18);
    let mut x = seed | 1;
    let mut n = 0u64;
    loop {
        if n.is_multiple_of(32) && Path::new(&stop).exists() {
            break;
        }
        n += 1;
        // xorshift: a cheap, dependency-free spread over the rows.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let id = (x % rows as u64) as i64 + 1;
        let started = Instant::now();
        let done = if n.is_multiple_of(2) {
            sqlx::query("SELECT note FROM accounts WHERE id = $1")
                .bind(id)
                .execute(&mut conn)
                .await
        } else {
            sqlx::query("UPDATE accounts SET n = n + 1 WHERE id = $1")
                .bind(id)
                .execute(&mut conn)
                .await
        };
        latencies.push(started.elapsed());
        match done {
            Ok(_) => ok += 1,
            Err(_) => failed += 1,
        }
    }
    (ok, failed, latencies)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, clients, rows, ready, stop] = &args[..] else {
        eprintln!("usage: app_load URL CLIENTS ROWS READY_FILE STOP_FILE");
        std::process::exit(2);
    };
    let clients: u64 = clients.parse().expect("CLIENTS is a number");
    let rows: i64 = rows.parse().expect("ROWS is a number");
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            tokio::spawn(client(
                url.clone(),
                rows,
                0x9e37_79b9_7f4a_7c15 ^ (i + 1).wrapping_mul(0x2545_f491_4f6c_dd1d),
                stop.clone(),
            ))
        })
        .collect();
    std::fs::write(ready, b"ready").expect("ready file");
    let (mut ok, mut failed) = (0u64, 0u64);
    let mut latencies = Vec::new();
    for t in tasks {
        let (o, f, l) = t.await.expect("client");
        ok += o;
        failed += f;
        latencies.extend(l);
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .map_or(0, |d| d.as_micros())
    };
    println!("{ok} {failed} {} {} {}", pct(0.50), pct(0.99), pct(1.0));
}
