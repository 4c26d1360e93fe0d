//! Byte spans into a source text, and the line index that turns them into
//! line/column positions for people.

use serde::Serialize;

/// A half-open byte range `start..end` into the source a tree was parsed from.
///
/// Spans are `u32`: sources larger than 4 GiB are refused before parsing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: u32, end: u32) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both `self` and `other`.
    pub fn cover(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn len(self) -> u32 {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LineCol {
    pub line: u32,
    pub column: u32,
}

/// Maps byte offsets of one source text to lines and columns.
#[derive(Clone, Debug)]
pub struct LineIndex {
    /// Byte offset at which each line starts; the first entry is 0.
    line_starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(source: &str) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i as u32 + 1),
        );
        LineIndex { line_starts }
    }

    /// The line and column of byte `offset` in `source` (the text this index was built from).
    pub fn line_col(&self, source: &str, offset: u32) -> LineCol {
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1);
        let start = self.line_starts[line] as usize;
        let end = (offset as usize).min(source.len());
        // Offsets produced by the parser are always on char boundaries; a foreign
        // offset inside a character counts the partial character as one column.
        let column = source
            .get(start..end)
            .map_or(end - start, |s| s.chars().count())
            + 1;
        LineCol {
            line: line as u32 + 1,
            column: column as u32,
        }
    }

    /// The 1-based line that contains `offset`.
    pub fn line(&self, offset: u32) -> u32 {
        self.line_starts.partition_point(|&start| start <= offset) as u32
    }

    /// The number of lines in the source.
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}
