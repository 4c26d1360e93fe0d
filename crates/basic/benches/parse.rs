//! `cargo bench -p basic`: parse and check a generated 10,000-line program
//! and report MB/s and lines/s (the front end's performance figure).
//!
//! A plain `main` (no harness): the figure is what matters, and it needs no
//! extra dependency. Each measurement is the median of several runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use basic::{CheckContext, check, parse};

/// A block of typical script lines: a tool header, conversation, control
/// flow, expressions with calls and interpolation, and a workflow's steps.
const UNIT: &str = r#"' --- order handling, part {n} ---
PARAM order_id{n} AS STRING LIKE "o-42" DESCRIPTION "The order to look at"
total{n} = 0
items{n} = [{"sku": "a", "price": 10.5, "qty": 2}, {"sku": "b", "price": 3, "qty": 1}]
FOR EACH item IN items{n}
  total{n} = total{n} + item.price * item.qty  ' running sum
NEXT item
IF total{n} > 100 AND NOT LEN(order_id{n}) = 0 THEN
  TALK "Order ${order_id{n}} is large: " & FORMAT(total{n}, "0.00")
ELSEIF total{n} > 10 THEN
  TALK "Order ${order_id{n}} is medium"
ELSE
  TALK "small"
END IF
SELECT CASE UPPER(TRIM(order_id{n}))
  CASE "A", "B"
    status{n} = "letter"
  CASE IS > "M"
    status{n} = "late"
  CASE ELSE
    status{n} = "other"
END SELECT
reply{n} = LLM "Summarise order " + order_id{n} WITH OPTIMIZE FOR "speed"
SET BOT MEMORY "last_order", {"id": order_id{n}, "total": total{n}, "at": NOW()}
"#;

const WORKFLOW: &str = r#"ORCHESTRATE WORKFLOW "bench"
  STEP 1: BOT "classifier" "analyze complaint"
  STEP 2: BOT "order-checker" "validate order" WITH {"id": order_id0} TIMEOUT 30 RETRY 3
  IF order_amount > 100 THEN
    STEP 3: HUMAN APPROVAL FROM "manager@company.com"
      TIMEOUT 1800
      ON TIMEOUT: ESCALATE TO "director@company.com"
  END IF
  STEP 4: PARALLEL
    BRANCH A: BOT "refund-processor" "process refund"
    BRANCH B: BOT "inventory-updater" "update stock"
  END PARALLEL
  BOT SHARE MEMORY "resolution_method" WITH "support-bot-2"
  PUBLISH EVENT "workflow_completed" WITH {"case": order_id0}
END WORKFLOW
"#;

fn program(lines: usize) -> String {
    let mut source = String::new();
    let mut n = 0;
    while source.lines().count() < lines - WORKFLOW.lines().count() {
        source.push_str(&UNIT.replace("{n}", &n.to_string()));
        n += 1;
    }
    source.push_str(WORKFLOW);
    source
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure(runs: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let source = program(10_000);
    let lines = source.lines().count();
    let bytes = source.len();
    let context = CheckContext::default();
    let parsed = parse(&source);
    assert!(
        parsed.diagnostics.is_empty(),
        "the benchmark program must be clean: {:?}",
        parsed.diagnostics.first()
    );
    let checked = check(&parsed.program, &context);
    assert!(
        !basic::has_errors(&checked),
        "the benchmark program must check clean: {:?}",
        checked.first()
    );

    let runs = 21;
    let parse_time = measure(runs, || {
        black_box(parse(black_box(&source)));
    });
    let check_time = measure(runs, || {
        black_box(check(black_box(&parsed.program), &context));
    });
    let both_time = measure(runs, || {
        let parsed = parse(black_box(&source));
        black_box(check(&parsed.program, &context));
    });
    println!("program: {lines} lines, {:.2} MB", bytes as f64 / 1e6);
    for (what, time) in [
        ("parse", parse_time),
        ("check", check_time),
        ("parse + check", both_time),
    ] {
        let secs = time.as_secs_f64();
        println!(
            "{what:>14}: {:>8.2} ms  {:>7.1} MB/s  {:>10.0} lines/s",
            secs * 1e3,
            bytes as f64 / 1e6 / secs,
            lines as f64 / secs
        );
    }
}
