//! The reliability campaign: every kind attacked the same way, through the
//! real `migrate` binary, against the real servers the test script starts
//! (Qdrant: the in-process test server).
//!
//! - **Race**: 16 `migrate up` processes at once against one empty database,
//!   20 rounds per kind. Every migration is reported applied by exactly one
//!   runner and took effect exactly once, the history is complete, the lock
//!   is released, and no runner failed except by the documented lock
//!   timeout. For PostgreSQL, also 8 `partitions run` racing 8 `migrate up`.
//! - **Crash**: 50 seeded trials per kind, each `SIGKILL`ing `migrate up` at
//!   a point drawn from the seed (once `k` versions are recorded, plus a
//!   delay of up to two migrations' time). After each kill the history and
//!   the database agree: a version recorded as applied took full effect, an
//!   unrecorded one none, a dirty one (never a transactional one) a prefix
//!   of its operations; `up` refuses a dirty record until `repair`; the dead
//!   runner's lock goes with its session (PostgreSQL) or is reported, never
//!   taken over, and removed by `migrate unlock` once its lease has run out
//!   (leased kinds); then `up` finishes the work, each operation once.
//! - **Frozen owner**: a runner stopped with `SIGSTOP` while it holds the
//!   lock keeps it: another runner times out naming it, `unlock` refuses,
//!   and once continued it finishes alone. When its lease is broken while
//!   it is stopped (leased kinds), it stops before its next step instead.
//!
//! Every output of every process is checked for the secrets its config used.
//! `STRATA_CRASH_SEED=<n>` replays a crash schedule; the seed, trial and
//! kill point are in every failure message.

#[path = "support/qdrant_server.rs"]
mod qdrant_server;
#[path = "reliability/subjects.rs"]
mod subjects;
mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use subjects::{Neo4j, Postgres, Search, Subject, Vectors};
use support::{Project, Rng, Run};

/// Runners started at once in every race round.
const RACERS: usize = 16;
/// Race rounds per kind.
const ROUNDS: usize = 20;
/// Crash trials per kind.
const TRIALS: usize = 50;

/// How many migrations a test writes, and how many operations each has.
#[derive(Clone, Copy)]
struct Shape {
    migrations: u64,
    ops: usize,
}

/// Races use small migrations, each of which fails if it runs twice.
const RACE: Shape = Shape {
    migrations: 8,
    ops: 2,
};

/// Crash trials use migrations of several operations, so that kills land
/// inside them.
const CRASH: Shape = Shape {
    migrations: 5,
    ops: 3,
};

// ---------------------------------------------------------------------------
// Running `migrate`.

/// A project with the subject's config and `shape.migrations` files.
fn project<S: Subject>(s: &S, shape: Shape) -> Project {
    let p = Project::new();
    p.config(s.config());
    for v in 1..=shape.migrations {
        p.migration(
            &format!("V{v}__m{v}.{}", S::EXT),
            &s.migration(v, shape.ops),
        );
    }
    p
}

fn command<S: Subject>(s: &S, p: &Project, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(support::migrate_bin());
    cmd.args(args)
        .current_dir(p.path())
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in s.env() {
        cmd.env(k, v);
    }
    cmd
}

/// Logs everything strata and its drivers log, at trace level: the
/// secrets check then covers every log line too.
fn traced(mut cmd: tokio::process::Command) -> tokio::process::Command {
    cmd.env("STRATA_LOG", "trace");
    cmd
}

/// Fails the test if any secret of the subject shows in a run's output.
fn assert_no_secret<S: Subject>(s: &S, run: &Run, ctx: &str) {
    let all = run.all();
    for secret in s.secrets() {
        assert!(
            !all.contains(&secret),
            "{ctx}: a secret was printed:\n{all}"
        );
    }
}

async fn finished<S: Subject>(s: &S, child: tokio::process::Child, ctx: &str) -> Run {
    let run = Run::from(child.wait_with_output().await.unwrap());
    assert_no_secret(s, &run, ctx);
    run
}

async fn migrate<S: Subject>(s: &S, p: &Project, args: &[&str], ctx: &str) -> Run {
    finished(s, command(s, p, args).spawn().unwrap(), ctx).await
}

/// Sends a signal (`STOP`, `CONT`) to a process; false when it has ended.
fn signal(pid: u32, name: &str) -> bool {
    std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// The versions a run reports as applied.
fn applied(stdout: &str) -> Vec<u64> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("db: applied "))
        .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

/// Which operations of migration `v` took effect, and how many copies of
/// each exist.
fn effects(objects: &[String], v: u64, ops: usize) -> Vec<usize> {
    (0..ops)
        .map(|i| {
            let name = format!("m{v}_{i}");
            objects.iter().filter(|o| **o == name).count()
        })
        .collect()
}

/// Every version recorded as applied, every operation done exactly once,
/// and the lock released.
async fn assert_complete<S: Subject>(s: &S, shape: Shape, ctx: &str) {
    let all: Vec<(u64, bool)> = (1..=shape.migrations).map(|v| (v, true)).collect();
    assert_eq!(s.history().await, all, "{ctx}: the history is complete");
    let objects = s.objects().await;
    for v in 1..=shape.migrations {
        assert_eq!(
            effects(&objects, v, shape.ops),
            vec![1; shape.ops],
            "{ctx}: every operation of V{v} took effect exactly once"
        );
    }
    assert_eq!(s.lock_owner().await, None, "{ctx}: the lock was released");
}

// ---------------------------------------------------------------------------
// The attacks.

/// 16 runners at once against an empty database, `ROUNDS` times.
async fn race<S: Subject>(s: &mut S) {
    for round in 1..=ROUNDS {
        let ctx = format!("{} race round {round}", S::KIND);
        s.fresh().await;
        let p = project(s, RACE);
        let children: Vec<_> = (0..RACERS)
            .map(|_| command(s, &p, &["up"]).spawn().unwrap())
            .collect();
        let mut reported = Vec::new();
        let mut timeouts = 0;
        for child in children {
            let run = finished(s, child, &ctx).await;
            match run.code {
                0 => reported.extend(applied(&run.stdout)),
                1 if run.stderr.contains("waiting for the migration lock") => timeouts += 1,
                _ => panic!("{ctx}: a runner failed:\n{}", run.all()),
            }
        }
        assert!(timeouts < RACERS, "{ctx}: every runner timed out");
        reported.sort();
        assert_eq!(
            reported,
            (1..=RACE.migrations).collect::<Vec<_>>(),
            "{ctx}: each migration reported applied by exactly one runner"
        );
        assert_complete(s, RACE, &ctx).await;
    }
}

/// What the crash trials hit.
#[derive(Debug, Default)]
struct Tally {
    /// Killed before any version was recorded.
    before_any_record: usize,
    /// Killed inside a migration that records dirty first.
    dirty: usize,
    /// Killed between migrations, or inside a transactional one.
    between_or_in_transaction: usize,
    /// Killed after the run had done everything.
    after_all: usize,
    /// Killed while holding the lock.
    lock_held: usize,
}

/// The dead runner's lock: PostgreSQL's ends with its session; a lease is
/// reported (never taken over) and removed by `unlock` once it ran out.
async fn release_dead_lock<S: Subject>(s: &S, p: &Project, pid: u32, ctx: &str) {
    let Some(owner) = s.lock_owner().await else {
        return;
    };
    assert!(S::LEASED, "{ctx}: the session lock outlived its session");
    let before = s.history().await;
    // With work left, a waiter gives up naming the holder; with none, it
    // needs no lock at all.
    let pending = before.len() as u64 != CRASH.migrations || before.iter().any(|(_, ok)| !ok);
    let wait = async |ctx: &str| {
        let waiter = migrate(s, p, &["--lock-timeout", "0", "up"], ctx).await;
        waiter.expect_in(if pending { 1 } else { 0 }, ctx);
        waiter.stderr
    };
    if owner == "(no owner point)" {
        // Killed between creating the lock and writing its owner: only
        // --force removes a lock nobody can be identified as holding.
        wait(ctx).await;
        let refused = migrate(s, p, &["unlock"], ctx).await;
        refused.expect_in(1, ctx);
        assert!(
            refused.stderr.contains("without an owner point"),
            "{ctx}: {}",
            refused.stderr
        );
        migrate(s, p, &["unlock", "--force"], ctx)
            .await
            .expect_in(0, ctx);
    } else {
        let tag = format!("pid {pid} (");
        assert!(
            owner.contains(&tag),
            "{ctx}: the lock names {owner}, not the dead runner"
        );
        // Its lease still runs: it looks alive, and nothing removes it.
        let refused = migrate(s, p, &["unlock"], ctx).await;
        refused.expect_in(1, ctx);
        assert!(
            refused.stderr.contains(&tag) && refused.stderr.contains("its owner is alive"),
            "{ctx}: {}",
            refused.stderr
        );
        let stderr = wait(ctx).await;
        assert!(
            !pending || (stderr.contains(&tag) && !stderr.contains("stale")),
            "{ctx}: a waiter must name the live-looking holder:\n{stderr}"
        );
        // Thirty seconds later, the lease has run out: reported as stale,
        // still never taken over, removed by `unlock`.
        s.expire_lock().await;
        let stderr = wait(ctx).await;
        assert!(
            !pending || (stderr.contains("stale") && stderr.contains("migrate unlock")),
            "{ctx}: {stderr}"
        );
        let unlock = migrate(s, p, &["unlock"], ctx).await;
        unlock.expect_in(0, ctx);
        assert!(
            unlock.stdout.contains("removed the lock held by") && unlock.stdout.contains(&tag),
            "{ctx}: {}",
            unlock.stdout
        );
    }
    assert_eq!(
        s.history().await,
        before,
        "{ctx}: nothing ran while the lock was left"
    );
    assert_eq!(s.lock_owner().await, None, "{ctx}: the lock is gone");
}

/// Checks that the history and the database agree after a kill; returns
/// the dirty version, if any.
async fn assert_consistent<S: Subject>(s: &S, shape: Shape, ctx: &str) -> Option<u64> {
    let history = s.history().await;
    for (i, (v, ok)) in history.iter().enumerate() {
        assert_eq!(
            *v,
            i as u64 + 1,
            "{ctx}: the history has a gap: {history:?}"
        );
        assert!(
            *ok || i + 1 == history.len(),
            "{ctx}: a dirty record before the last: {history:?}"
        );
    }
    let objects = s.objects().await;
    let mut dirty = None;
    for v in 1..=shape.migrations {
        let done = effects(&objects, v, shape.ops);
        assert!(
            done.iter().all(|n| *n <= 1),
            "{ctx}: V{v} ran twice: {done:?}"
        );
        let count = done.iter().sum::<usize>();
        assert!(
            done[..count].iter().all(|n| *n == 1),
            "{ctx}: V{v}'s effects are not a prefix of its operations: {done:?}"
        );
        match history.get(v as usize - 1) {
            Some((_, true)) => assert_eq!(
                count, shape.ops,
                "{ctx}: V{v} is recorded as applied but only {count} of its operations took effect"
            ),
            Some((_, false)) => {
                assert!(
                    !s.atomic(v),
                    "{ctx}: transactional V{v} left a dirty record"
                );
                dirty = Some(v);
            }
            None => assert_eq!(
                count, 0,
                "{ctx}: V{v} is not recorded but {count} of its operations took effect"
            ),
        }
    }
    dirty
}

/// Waits until `records` versions are recorded or the runner has exited.
async fn until_recorded<S: Subject>(s: &S, child: &mut tokio::process::Child, records: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.history().await.len() < records && child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "{}: gave up waiting for {records} record(s)",
            S::KIND
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// `TRIALS` seeded `SIGKILL`s of `migrate up`, each followed by recovery.
async fn crash<S: Subject>(s: &mut S, default_seed: u64) {
    let seed = match std::env::var("STRATA_CRASH_SEED") {
        Ok(v) => v.parse().expect("STRATA_CRASH_SEED must be a number"),
        Err(_) => default_seed,
    };
    let mut rng = Rng::new(seed);
    let p = project(s, CRASH);
    // Unkilled runs say how long this machine takes to get to the first
    // record, and then per migration; the quickest of three, so that a run
    // slowed by other work does not push the kills past the end.
    let (mut startup, mut span) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        s.fresh().await;
        let started = Instant::now();
        let mut child = command(s, &p, &["up"]).spawn().unwrap();
        until_recorded(s, &mut child, 1).await;
        let first = started.elapsed();
        finished(s, child, S::KIND).await.expect_in(0, S::KIND);
        startup = startup.min(first);
        span = span.min((started.elapsed() - first) / CRASH.migrations as u32);
    }
    let span = span.max(Duration::from_millis(1));

    let mut tally = Tally::default();
    for trial in 1..=TRIALS {
        // Kill once `after` versions are recorded, `delay` later: within the
        // start-up and first migration, or within two migrations' time.
        let after = rng.below(CRASH.migrations) as usize;
        let window = if after == 0 { startup + span } else { 2 * span };
        let delay = Duration::from_micros(rng.below(window.as_micros() as u64 + 1));
        let ctx = format!(
            "{} crash trial {trial} (STRATA_CRASH_SEED={seed}: kill {delay:?} after {after} record(s))",
            S::KIND
        );
        s.fresh().await;
        let mut child = command(s, &p, &["up"]).spawn().unwrap();
        let pid = child.id().unwrap();
        until_recorded(s, &mut child, after).await;
        tokio::time::sleep(delay).await;
        // SIGKILL; the run may also have just finished on its own.
        let _ = child.start_kill();
        let killed = finished(s, child, &ctx).await;
        assert!(
            killed.code == -1 || killed.code == 0,
            "{ctx}: the run failed before the kill:\n{}",
            killed.all()
        );
        // What the kill left, before the server has noticed.
        if s.lock_owner().await.is_some() {
            tally.lock_held += 1;
        }
        s.settle().await;

        release_dead_lock(s, &p, pid, &ctx).await;
        let dirty = assert_consistent(s, CRASH, &ctx).await;
        let recorded = s.history().await.len();
        match dirty {
            Some(_) => tally.dirty += 1,
            None if recorded == 0 => tally.before_any_record += 1,
            None if recorded as u64 == CRASH.migrations => tally.after_all += 1,
            None => tally.between_or_in_transaction += 1,
        }
        if let Some(v) = dirty {
            let refused = migrate(s, &p, &["up"], &ctx).await;
            refused.expect_in(3, &ctx);
            assert!(
                refused.stderr.contains(&format!("dirty: version {v}")),
                "{ctx}: {}",
                refused.stderr
            );
            s.undo(v, CRASH.ops).await;
            let repair = migrate(s, &p, &["repair"], &ctx).await;
            repair.expect_in(0, &ctx);
            assert!(
                repair.stdout.contains("record removed (dirty)"),
                "{ctx}: {}",
                repair.stdout
            );
        }
        migrate(s, &p, &["up"], &ctx).await.expect_in(0, &ctx);
        assert_complete(s, CRASH, &ctx).await;
    }
    eprintln!("{} crash trials (seed {seed}): {tally:?}", S::KIND);
    assert!(
        tally.dirty > 0,
        "{}: no trial interrupted a migration that records dirty first: {tally:?}",
        S::KIND
    );
    assert!(
        tally.dirty + tally.between_or_in_transaction >= TRIALS / 5,
        "{}: too few kills landed in the middle of a run: {tally:?}",
        S::KIND
    );
}

/// Migrations enough for a run to be caught holding the lock.
const LONG: Shape = Shape {
    migrations: 12,
    ops: 3,
};

/// Starts `up` and stops it (`SIGSTOP`) while it holds the lock, after its
/// first record; tries again when a run finishes before it can be stopped.
/// The owner is not traced: nobody reads its output until it ends, and a
/// full pipe would stop it for good.
async fn stopped_owner<S: Subject>(s: &mut S, ctx: &str) -> (Project, tokio::process::Child, u32) {
    for _ in 0..5 {
        s.fresh().await;
        let p = project(s, LONG);
        let mut owner = command(s, &p, &["up"]).spawn().unwrap();
        let pid = owner.id().unwrap();
        until_recorded(s, &mut owner, 1).await;
        if signal(pid, "STOP") && s.lock_owner().await.is_some() {
            return (p, owner, pid);
        }
        // It finished before it could be stopped: try again.
        signal(pid, "CONT");
        finished(s, owner, ctx).await.expect_in(0, ctx);
    }
    panic!("{ctx}: the run always finished before it could be stopped");
}

/// A runner frozen while it holds the lock keeps it.
async fn frozen_owner<S: Subject>(s: &mut S) {
    let ctx = format!("{} frozen owner", S::KIND);
    let (p, owner, pid) = stopped_owner(s, &ctx).await;
    // A request the owner sent just before it was stopped still completes.
    s.settle_frozen().await;
    let before = s.history().await;
    let waiter = traced(command(s, &p, &["--lock-timeout", "1", "up"]))
        .spawn()
        .unwrap();
    let waiter = finished(s, waiter, &ctx).await;
    waiter.expect_in(1, &ctx);
    assert!(
        waiter.stderr.contains("waiting for the migration lock"),
        "{ctx}: {}",
        waiter.stderr
    );
    let holder = if S::LEASED {
        format!("pid {pid} (")
    } else {
        "held by server process".to_string()
    };
    assert!(waiter.stderr.contains(&holder), "{ctx}: {}", waiter.stderr);
    let unlock = traced(command(s, &p, &["unlock"])).spawn().unwrap();
    let unlock = finished(s, unlock, &ctx).await;
    if S::LEASED {
        unlock.expect_in(1, &ctx);
        assert!(
            unlock.stderr.contains("its owner is alive"),
            "{ctx}: {}",
            unlock.stderr
        );
    } else {
        unlock.expect_in(0, &ctx);
    }
    assert!(
        s.lock_owner().await.is_some(),
        "{ctx}: the lock was taken away"
    );
    assert_eq!(s.history().await, before, "{ctx}: nothing else ran");
    assert!(signal(pid, "CONT"), "{ctx}: the stopped owner is gone");
    let run = finished(s, owner, &ctx).await;
    run.expect_in(0, &ctx);
    assert_eq!(
        applied(&run.stdout),
        (1..=LONG.migrations).collect::<Vec<_>>(),
        "{ctx}: the owner applied everything"
    );
    assert_complete(s, LONG, &ctx).await;
}

/// A lease broken while its owner was frozen past it: once continued, the
/// owner stops before its next step rather than run beside whoever may
/// have taken the lock since.
async fn broken_lease<S: Subject>(s: &mut S) {
    assert!(S::LEASED);
    let ctx = format!("{} broken lease", S::KIND);
    let (p, owner, pid) = stopped_owner(s, &ctx).await;
    // Frozen for longer than its lease (the test moves the expiry into the
    // past, as 30 s would), the lock is stale: `unlock` removes it.
    s.expire_lock().await;
    let unlock = migrate(s, &p, &["unlock"], &ctx).await;
    unlock.expect_in(0, &ctx);
    assert!(
        unlock.stdout.contains(&format!("pid {pid} (")),
        "{ctx}: {}",
        unlock.stdout
    );
    assert!(signal(pid, "CONT"), "{ctx}: the stopped owner is gone");
    let run = finished(s, owner, &ctx).await;
    run.expect_in(1, &ctx);
    assert!(
        run.stderr
            .contains("the migration lock was taken from this run (now held by nobody)"),
        "{ctx}: {}",
        run.stderr
    );
    // It finished the migration it was in, and started no other.
    let history = s.history().await;
    assert!(
        history.iter().all(|(_, ok)| *ok) && history.len() < LONG.migrations as usize,
        "{ctx}: {history:?}"
    );
    migrate(s, &p, &["up"], &ctx).await.expect_in(0, &ctx);
    assert_complete(s, LONG, &ctx).await;
}

// ---------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_race() {
    race(&mut Postgres::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crash() {
    crash(&mut Postgres::new().await, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_frozen_owner() {
    frozen_owner(&mut Postgres::new().await).await;
}

/// `partitions run` racing `migrate up`: both take the database's lock, so
/// no partition is attached while a migration changes its parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_partitions_race_migrations() {
    let mut s = Postgres::new().await;
    let months = ["2026_03", "2026_04", "2026_05", "2026_06"];
    for round in 1..=ROUNDS {
        let ctx = format!("partitions race round {round}");
        s.fresh().await;
        let p = Project::new();
        p.config(s.config());
        p.migration(
            "V1__events.sql",
            "CREATE TABLE events (id bigint NOT NULL, ts timestamptz NOT NULL) PARTITION BY RANGE (ts);\n",
        );
        migrate(&s, &p, &["up"], &ctx).await.expect_in(0, &ctx);
        // Pending when the race starts: changes to the parent that every
        // partition must end up with, and work elsewhere.
        p.migration(
            "V2__source.sql",
            "ALTER TABLE events ADD COLUMN source text NOT NULL DEFAULT 'app';\n",
        );
        p.migration(
            "V3__ts_index.sql",
            "CREATE INDEX events_ts ON events (ts);\n",
        );
        p.migration(
            "V4__other.sql",
            "-- strata:no-transaction\nCREATE TABLE other (id int);\nCREATE INDEX CONCURRENTLY other_id ON other (id);\n",
        );
        p.migration("V5__kind.sql", "ALTER TABLE events ADD COLUMN kind text;\n");
        let children: Vec<_> = (0..RACERS)
            .map(|i| {
                let args: &[&str] = if i % 2 == 0 {
                    &["up"]
                } else {
                    &[
                        "partitions",
                        "run",
                        "--allow-clock-skew",
                        "--now",
                        "2026-03-15T12:00:00Z",
                    ]
                };
                command(&s, &p, args).spawn().unwrap()
            })
            .collect();
        let mut reported = Vec::new();
        let mut created = Vec::new();
        for child in children {
            let run = finished(&s, child, &ctx).await;
            match run.code {
                0 => {}
                1 if run.stderr.contains("waiting for the migration lock") => continue,
                _ => panic!("{ctx}: a runner failed:\n{}", run.all()),
            }
            reported.extend(applied(&run.stdout));
            created.extend(run.stdout.lines().filter_map(|l| {
                l.strip_prefix("db public.events: created ")
                    .map(|rest| rest.split(' ').next().unwrap().to_string())
            }));
        }
        reported.sort();
        assert_eq!(reported, [2, 3, 4, 5], "{ctx}: each migration applied once");
        created.sort();
        let expected: Vec<String> = months.iter().map(|m| format!("events_{m}")).collect();
        assert_eq!(created, expected, "{ctx}: each partition created once");
        assert_eq!(
            s.history().await,
            (1..=5).map(|v| (v, true)).collect::<Vec<_>>(),
            "{ctx}"
        );
        let children = s
            .strings(
                "SELECT c.relname::text || ' ' || \
                   (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid \
                      AND a.attname IN ('source', 'kind') AND NOT a.attisdropped) || ' ' || \
                   (SELECT count(*) FROM pg_index x JOIN pg_inherits ii ON ii.inhrelid = x.indexrelid \
                      WHERE x.indrelid = c.oid AND ii.inhparent = 'events_ts'::regclass) \
                 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                 WHERE i.inhparent = 'events'::regclass ORDER BY 1",
            )
            .await;
        let expected: Vec<String> = months.iter().map(|m| format!("events_{m} 2 1")).collect();
        assert_eq!(
            children, expected,
            "{ctx}: every partition has the parent's columns and index"
        );
        assert_eq!(s.lock_owner().await, None, "{ctx}: the lock was released");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo4j_race() {
    let _turn = support::neo4j_client::TURN.lock().await;
    let graph = support::neo4j_client::graph().await;
    race(&mut Neo4j { graph }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo4j_crash() {
    let _turn = support::neo4j_client::TURN.lock().await;
    let graph = support::neo4j_client::graph().await;
    crash(&mut Neo4j { graph }, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo4j_frozen_owner() {
    let _turn = support::neo4j_client::TURN.lock().await;
    let graph = support::neo4j_client::graph().await;
    frozen_owner(&mut Neo4j { graph }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_race() {
    let (_turn, es) = support::es_client::fresh().await;
    race(&mut Search { es }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_crash() {
    let (_turn, es) = support::es_client::fresh().await;
    crash(&mut Search { es }, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_frozen_owner() {
    let (_turn, es) = support::es_client::fresh().await;
    frozen_owner(&mut Search { es }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qdrant_race() {
    race(&mut Vectors::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qdrant_crash() {
    crash(&mut Vectors::new().await, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qdrant_frozen_owner() {
    frozen_owner(&mut Vectors::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neo4j_broken_lease() {
    let _turn = support::neo4j_client::TURN.lock().await;
    let graph = support::neo4j_client::graph().await;
    broken_lease(&mut Neo4j { graph }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_broken_lease() {
    let (_turn, es) = support::es_client::fresh().await;
    broken_lease(&mut Search { es }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qdrant_broken_lease() {
    broken_lease(&mut Vectors::new().await).await;
}
