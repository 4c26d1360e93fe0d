//! Reading a script from disk for `check` and `fmt`: a size limit, then UTF-8.
//!
//! Bytes that are not UTF-8 become a diagnostic like any other, pointing at the
//! first invalid byte. So that it can be shown in context, the text is then
//! decoded lossily: everything before the bad byte is unchanged, so the
//! diagnostic's offset is still right.

use std::io::Read;
use std::path::Path;

use basic::{Diagnostic, Span};

/// The largest script `check` and `fmt` read: the package loader's limit, so
/// a file `check` accepts is one a run can load.
pub const MAX_FILE_BYTES: u64 = bots::layout::MAX_SCRIPT_BYTES;

/// A script's text, or the reason it has none.
pub enum Source {
    /// Valid UTF-8.
    Text(String),
    /// Not UTF-8: the lossy text for display, and the diagnostic.
    NotUtf8 {
        text: String,
        diagnostic: Diagnostic,
    },
}

/// Reads the script at `path`. The error is a one-line message for the user.
pub fn read(path: &Path) -> Result<Source, String> {
    let file = std::fs::File::open(path).map_err(|error| crate::inputs::io_reason(&error))?;
    let size = file
        .metadata()
        .map_err(|error| crate::inputs::io_reason(&error))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // Never read past the limit, even if the file grows while we read it.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| crate::inputs::io_reason(&error))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(match basic::decode(&bytes) {
        Ok(_) => {
            // `decode` just proved the bytes are UTF-8; reuse the buffer instead of copying it.
            String::from_utf8(bytes)
                .map(Source::Text)
                .unwrap_or_else(|error| lossy(error.as_bytes(), None))
        }
        Err(diagnostic) => lossy(&bytes, Some(diagnostic)),
    })
}

fn lossy(bytes: &[u8], diagnostic: Option<Diagnostic>) -> Source {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let valid_up_to = std::str::from_utf8(bytes)
        .err()
        .map_or(bytes.len(), |e| e.valid_up_to());
    let at = valid_up_to as u32;
    let mut diagnostic = diagnostic.unwrap_or_else(|| {
        Diagnostic::new(
            basic::Code::InvalidUtf8,
            Span::new(at, at),
            "the file is not valid UTF-8",
        )
    });
    // In the lossy text the invalid byte(s) became one U+FFFD (3 bytes).
    let end = (at as usize + '\u{fffd}'.len_utf8()).min(text.len()) as u32;
    diagnostic.span = Span::new(at, end);
    Source::NotUtf8 { text, diagnostic }
}

fn too_large(size: u64) -> String {
    format!(
        "the file is {} MiB, more than the limit of {} MiB",
        size.div_ceil(1024 * 1024),
        MAX_FILE_BYTES / (1024 * 1024)
    )
}
