//! DESIGN.md invariant 2: the engine is deterministic, and a run continues
//! the same from a serialised copy of its state. Every data-driven program
//! is run with random instruction budgets, cut at random points, with and
//! without a JSON round trip of the state, and must do exactly what the
//! reference run did.

mod common;

use proptest::prelude::*;

fn programs() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut programs: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("tests/data exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "bas"))
        .map(|path| {
            let source = std::fs::read_to_string(&path).expect("the test program is readable");
            (path.display().to_string(), source)
        })
        .collect();
    programs.sort();
    programs
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_budget_and_any_checkpoint_give_the_same_run(
        budgets in proptest::collection::vec(1u32..12, 1..6),
        round_trip in any::<bool>(),
    ) {
        for (name, source) in programs() {
            let reference = common::run(&source, &common::Drive { budgets: &[u32::MAX], round_trip: false });
            let cut = common::run(&source, &common::Drive { budgets: &budgets, round_trip });
            prop_assert_eq!(&cut.outcome, &reference.outcome, "{}", name);
            prop_assert_eq!(&cut.variables, &reference.variables, "{}", name);
            prop_assert_eq!(&cut.effects, &reference.effects, "{}", name);
            prop_assert_eq!(&cut.requests, &reference.requests, "{}", name);
        }
    }
}

#[test]
fn the_data_folder_has_programs() {
    assert!(programs().len() >= 10);
}
