//! Bot packages: loading General Bots `.gbai` folders and deciding how a bot
//! answers an action.
//!
//! [`load_package`] reads one `<name>.gbai` folder into a [`Package`] (its
//! `.bas` scripts, `config.csv` and `PROMPT.md`); [`load_deployment`] reads a
//! folder of them. [`Package::resolve`] applies LANGUAGE.md §5 to say who
//! answers `BOT "name" "action"`, and [`Package::workflows`] finds the
//! `ORCHESTRATE WORKFLOW` blocks.
//!
//! Architecture invariant: this crate reads package files and nothing else.
//! It never touches the store, the network or a clock, and bad packages give
//! an [`Error`] naming the file at fault, never a panic.

mod config;
mod deployment;
mod error;
pub mod layout;
mod package;
mod syntax;

pub use config::{Config, ConfigEntry};
pub use deployment::{Deployment, load_deployment};
pub use error::Error;
pub use package::{Package, Resolution, Script, WorkflowRef, load_package, source_hash};

/// The slug of a name or an action: lower case, every run of characters that
/// are not letters or digits turned into one `-`, no `-` at either end.
/// `"Validate Order!"` → `"validate-order"`.
pub fn slug(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    let mut pending_dash = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.extend(c.to_lowercase());
        } else {
            pending_dash = true;
        }
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs() {
        let cases = [
            ("Validate Order!", "validate-order"),
            ("validate order", "validate-order"),
            ("validate-order", "validate-order"),
            ("validate_order", "validate-order"),
            ("  --Validate   ORDER--  ", "validate-order"),
            ("process refund (v2)", "process-refund-v2"),
            ("Ação Rápida", "ação-rápida"),
            ("", ""),
            ("!!!", ""),
            ("a", "a"),
        ];
        for (text, expected) in cases {
            assert_eq!(slug(text), expected, "slug of {text:?}");
        }
    }
}
