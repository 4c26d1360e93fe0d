//! The `botflow` command-line tool (being written).

fn main() {}
