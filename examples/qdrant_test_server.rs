//! The in-process Qdrant test server as a stand-alone process, for the demo
//! (`tests/support/demo.sh`) on machines without a Qdrant: no registry this
//! project reaches ships Qdrant's server. It prints its URL on the first line
//! of standard output and serves until it is killed.

#[path = "../tests/support/qdrant_server.rs"]
mod qdrant_server;

#[tokio::main]
async fn main() {
    let running = qdrant_server::TestQdrant::default().start().await;
    println!("{}", running.url);
    std::future::pending::<()>().await;
}
