//! Runs every `tests/data/*.bas` program with the scripted answers of its
//! header (see `common/mod.rs`) and snapshots what the run did.

mod common;

#[test]
fn programs() {
    insta::glob!("data/*.bas", |path| {
        let source = std::fs::read_to_string(path).expect("the test program is readable");
        let trace = common::run(&source, &common::PLAIN);
        insta::assert_yaml_snapshot!(trace);
    });
}
