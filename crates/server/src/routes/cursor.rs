//! Page cursors of the keyset-paged lists (runs, approval requests):
//! `<created_at>.<id>`, the listing-order key of a page's last item. Opaque
//! to clients; a time has no dot, so the first dot ends it and ids may hold
//! dots.

use store::ListKey;

use crate::problem::{ApiResult, Kind, Problem};

/// The cursor of the item with this key.
pub(crate) fn encode(key: &ListKey) -> String {
    format!("{}.{}", key.created_at, key.id)
}

/// The key a cursor holds, or a `400 invalid-query` for text this server
/// never gave out.
pub(crate) fn decode(text: &str) -> ApiResult<ListKey> {
    text.split_once('.')
        .and_then(|(at, id)| {
            Some(ListKey {
                created_at: at.parse().ok()?,
                id: id.to_owned(),
            })
        })
        .filter(|key| !key.id.is_empty())
        .ok_or_else(|| {
            Problem::new(
                Kind::InvalidQuery,
                format!("the cursor {text:?} is not one this server gave out"),
            )
        })
}

#[cfg(test)]
mod tests {
    use store::ListKey;

    use super::{decode, encode};

    #[test]
    fn a_cursor_reads_back_its_key_even_with_dots_in_the_id() {
        let key = ListKey {
            created_at: -5,
            id: "run.1:3.2".to_owned(),
        };
        assert_eq!(decode(&encode(&key)).expect("decodes"), key);
    }

    #[test]
    fn text_that_is_no_cursor_is_refused() {
        for bad in [
            "",
            "garbage",
            "12.",
            ".x",
            "1e3.x",
            "9999999999999999999999.x",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }
}
