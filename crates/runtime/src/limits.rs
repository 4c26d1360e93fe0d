//! What the runtime refuses at the door: run ids it cannot use and values
//! too large for the store ([`store::MAX_VALUE_BYTES`] of JSON text each).
//!
//! Values are measured where they enter (a run's input and first state at
//! start, a bot's answer when it arrives), so a value that cannot be stored
//! fails the one thing it belongs to with a message that names it, instead of
//! a whole durable point being rejected later.

use serde::Serialize;

use crate::{Error, Result};

/// The longest run id, in characters.
pub const MAX_RUN_ID_CHARS: usize = 128;

/// Checks a run id given by a caller: non-empty, at most
/// [`MAX_RUN_ID_CHARS`] characters, ASCII letters, digits and `-_.:` only.
/// Run ids become parts of event ids, idempotency keys and command lines, so
/// anything else is refused before a run is created.
pub fn check_run_id(id: &str) -> Result<()> {
    let reason = if id.is_empty() {
        Some("it is empty".to_owned())
    } else if id.chars().count() > MAX_RUN_ID_CHARS {
        Some(format!(
            "it is {} characters long; at most {MAX_RUN_ID_CHARS} are allowed",
            id.chars().count()
        ))
    } else {
        id.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
            .map(|c| {
                format!("it contains {c:?}; use only letters, digits and the characters - _ . :")
            })
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidRunId {
            id: id.to_owned(),
            reason,
        }),
    }
}

/// The size of `value` as compact JSON text, as the store measures it,
/// without building the text.
pub(crate) fn json_len(value: &impl Serialize) -> usize {
    let mut counter = Counter(0);
    // Writing to a counter cannot fail, and the values measured here (JSON
    // values and serde-derived state) always serialise; on the impossible
    // error the partial count is still a lower bound.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// `4194315 bytes (4.0 MiB)`: exact for logs and tests, rounded for people.
pub(crate) fn size_text(bytes: usize) -> String {
    // Precision loss is irrelevant for a size shown with one decimal.
    #[allow(clippy::cast_precision_loss)]
    let mib = bytes as f64 / (1024.0 * 1024.0);
    format!("{bytes} bytes ({mib:.1} MiB)")
}

struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_ids_are_checked() {
        for good in ["keep", "a-b_c.d:e", "0198", &"x".repeat(MAX_RUN_ID_CHARS)] {
            assert!(check_run_id(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "it is empty"),
            ("a b", "contains ' '"),
            ("a/b", "contains '/'"),
            ("é", "contains 'é'"),
            (&"x".repeat(MAX_RUN_ID_CHARS + 1), "129 characters long"),
        ] {
            let message = check_run_id(bad).expect_err(bad).to_string();
            assert!(message.contains(why), "{bad:?}: {message}");
        }
    }

    #[test]
    fn json_len_is_the_length_of_the_compact_text() {
        let value = json!({"a": [1, 2, "ü"], "b": null});
        assert_eq!(json_len(&value), value.to_string().len());
        assert_eq!(size_text(3 * 1024 * 1024), "3145728 bytes (3.0 MiB)");
    }
}
