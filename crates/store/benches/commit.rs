//! Group-commit throughput: durable points per second for batches of 1, 16 and
//! 256 points over 256 concurrently active runs, on SQLite (`synchronous =
//! FULL`, and NORMAL for comparison) and on PostgreSQL when `BOTFLOW_TEST_PG`
//! (or the default local server) is reachable.
//!
//! Run with `cargo bench -p store --bench commit`. Each point carries what a
//! W1 bot step makes durable: the run's state (about 0.5 KiB, see
//! `BENCH_STATE_BYTES`), one step row and one journal entry; a run completes
//! after six points, publishing an event, and a new run takes its place.
//! Only `Store::commit` is timed.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::{
    AnyStore, Durability, DurablePoint, NewEvent, NewJournalEntry, NewRun, PointOutcome,
    PostgresOptions, PostgresStore, RunStatus, SqliteOptions, SqliteStore, StepStatus, StepWrite,
    Store,
};

const RUNS: usize = 256;
const BATCHES: [usize; 3] = [1, 16, 256];
/// How long each measurement runs.
const BUDGET: Duration = Duration::from_secs(3);

/// Padding that sets the state's size: `BENCH_STATE_BYTES` (default 300, which
/// makes a state of about 0.5 KiB, the size of W1's variables plus engine
/// bookkeeping).
fn padding() -> usize {
    std::env::var("BENCH_STATE_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn state(run: usize, seq: usize) -> Value {
    json!({
        "pc": seq,
        "run": run,
        "vars": {
            "case_id": format!("case-{run}"),
            "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "tier": "gold"},
            "order": {"id": 4242, "amount": 129.95, "items": ["a", "b", "c"]},
            "notes": "x".repeat(padding()),
        },
        "fibers": [{"id": 0, "pc": seq, "stack": []}],
    })
}

/// Steps per run: a W1 run makes about six durable points before it completes.
const POINTS_PER_RUN: usize = 6;

/// One of the `RUNS` concurrently active runs.
struct Slot {
    run: usize,
    epoch: i64,
    done: usize,
}

fn run_id(run: usize) -> String {
    // Zero-padded so ids sort by creation time, like the runtime's UUIDv7s.
    format!("run-{run:09}")
}

fn point(slot: &Slot, now: i64) -> DurablePoint {
    let run_id = run_id(slot.run);
    let seq = slot.done + 1;
    let path = format!("{seq}");
    let last = seq == POINTS_PER_RUN;
    DurablePoint {
        events: if last {
            vec![NewEvent {
                id: format!("{run_id}:{path}"),
                name: "workflow_completed".to_owned(),
                key: Some(run_id.clone()),
                target_bot: None,
                payload: Some(json!({"step": path})),
                from_bot: Some("bench".to_owned()),
                from_run: Some(run_id.clone()),
            }]
        } else {
            vec![]
        },
        steps: vec![StepWrite {
            path: path.clone(),
            number: path.clone(),
            kind: "bot".to_owned(),
            bot: Some("noop".to_owned()),
            attempts: 1,
            status: StepStatus::Done,
            answer: Some(json!({"ok": true, "seq": seq})),
            error: None,
            started_at: Some(now),
            finished_at: Some(now),
        }],
        journal: vec![NewJournalEntry {
            kind: "step_done".to_owned(),
            data: json!({"step": path}),
        }],
        run_id,
        epoch: slot.epoch,
        status: if last {
            RunStatus::Completed
        } else {
            RunStatus::Running
        },
        state: state(slot.run, seq).to_string(),
        wake_at: None,
        result: last.then(|| json!({"status": "completed"})),
        error: None,
        memory: vec![],
        approvals: vec![],
        consumed: Vec::new(),
        delivered: Vec::new(),
        waits: None,
        now,
        create: None,
        release: false,
    }
}

/// Creates and claims `count` new runs numbered from `first` (not timed: run
/// creation is its own batched transaction).
async fn start_runs(
    store: &AnyStore,
    first: usize,
    count: usize,
) -> Result<Vec<Slot>, store::Error> {
    let runs = (first..first + count)
        .map(|run| NewRun {
            id: run_id(run),
            workflow: "bench".to_owned(),
            bot: "bench".to_owned(),
            program_hash: "bench".to_owned(),
            status: RunStatus::Running,
            state: state(run, 0),
            input: json!({"order_amount": 50}),
            wake_at: None,
            parent_run: None,
            now: 0,
        })
        .collect();
    store.create_runs(runs).await?;
    let claimed = store.claim("bench", 0, i64::MAX / 2, count).await?;
    Ok(claimed
        .into_iter()
        .map(|r| Slot {
            run: r.id.trim_start_matches("run-").parse().unwrap_or(0),
            epoch: r.lease_epoch,
            done: 0,
        })
        .collect())
}

async fn measure(label: &str, store: &AnyStore) -> Result<(), store::Error> {
    store
        .put_program("bench", "ORCHESTRATE WORKFLOW \"bench\"")
        .await?;
    let mut next_run = 0;
    for batch in BATCHES {
        // `batch` of the RUNS active runs commit together; a completed run is
        // replaced by a new one.
        let mut slots = start_runs(store, next_run, RUNS).await?;
        next_run += RUNS;
        let mut spent = Duration::ZERO;
        let mut points = 0_usize;
        let mut cursor = 0;
        let mut now = 1;
        while spent < BUDGET {
            let picked: Vec<usize> = (0..batch).map(|i| (cursor + i) % slots.len()).collect();
            cursor = (cursor + batch) % slots.len();
            now += 1;
            let batch_points: Vec<DurablePoint> =
                picked.iter().map(|&i| point(&slots[i], now)).collect();
            // Only the commit is timed: building the points is the engine's work.
            let started = Instant::now();
            let outcomes = store.commit(batch_points).await?;
            spent += started.elapsed();
            assert!(
                outcomes.iter().all(|o| *o == PointOutcome::Ok),
                "{outcomes:?}"
            );
            points += batch;

            let mut finished = Vec::new();
            for &i in &picked {
                slots[i].done += 1;
                if slots[i].done == POINTS_PER_RUN {
                    finished.push(i);
                }
            }
            if !finished.is_empty() {
                let fresh = start_runs(store, next_run, finished.len()).await?;
                next_run += finished.len();
                for (i, slot) in finished.into_iter().zip(fresh) {
                    slots[i] = slot;
                }
            }
        }
        let secs = spent.as_secs_f64();
        println!(
            "{label:<16} batch {batch:>3}: {points:>7} points in {secs:.2} s = {:>9.0} points/s, {:>8.0} commits/s",
            points as f64 / secs,
            (points / batch) as f64 / secs
        );
        // Leave no active run behind for the next batch size.
        for slot in &slots {
            let _ = store
                .release(&run_id(slot.run), "bench", slot.epoch)
                .await?;
        }
        let done: Vec<DurablePoint> = slots
            .iter()
            .map(|slot| {
                let mut p = point(slot, now);
                p.status = RunStatus::Cancelled;
                p
            })
            .collect();
        store.commit(done).await?;
    }
    Ok(())
}

async fn bench() -> Result<(), store::Error> {
    let sample = serde_json::to_string(&state(0, 0)).unwrap_or_default();
    println!("state size: {} bytes", sample.len());
    for (label, durability) in [
        ("sqlite FULL", Durability::Full),
        ("sqlite NORMAL", Durability::Normal),
    ] {
        let dir = tempfile::tempdir().map_err(|e| store::Error::Database(e.into()))?;
        let options = SqliteOptions {
            durability,
            ..SqliteOptions::default()
        };
        let store: AnyStore = SqliteStore::open_with(dir.path().join("bench.db"), options)
            .await?
            .into();
        measure(label, &store).await?;
        store.close().await;
    }

    let url = std::env::var("BOTFLOW_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("bench_{}", std::process::id());
    let options = PostgresOptions {
        max_connections: 2,
        schema: Some(schema.clone()),
    };
    match PostgresStore::open_with(&url, options).await {
        Ok(pg) => {
            let store: AnyStore = pg.into();
            let result = measure("postgres", &store).await;
            store.close().await;
            drop_schema(&url, &schema).await;
            result?;
        }
        Err(error) => println!("postgres: skipped, {url} unreachable: {error}"),
    }
    Ok(())
}

async fn drop_schema(url: &str, schema: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(url).await {
        let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
}

fn main() -> Result<(), store::Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| store::Error::Database(e.into()))?;
    runtime.block_on(bench())
}
