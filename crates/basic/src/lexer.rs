//! The lexer: source text to a flat list of [`Token`]s.
//!
//! BASIC is line-oriented, so newlines are tokens. The lexer also owns the
//! lexical rules that do not need the grammar:
//!
//! - comments (`'`, `REM`, `//`, and `#` at the start of a line) become
//!   [`TokenKind::Comment`] tokens that run to the end of the line;
//! - a `_` that ends a line joins it to the next one;
//! - the lines between `BEGIN TALK` / `BEGIN SYSTEM PROMPT` and their `END`
//!   are not BASIC: each becomes one [`TokenKind::RawLine`];
//! - strings run to their closing quote, skipping over `${ ... }`
//!   interpolations (which may hold strings of their own); the parser decodes them.
//!
//! The lexer never fails: a character it does not know becomes an
//! [`TokenKind::Unknown`] token and the parser reports it.

use crate::ast::CommentMarker;
use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A name or keyword: letters, digits and `_`, not starting with a digit.
    Word,
    /// `42` or `0.8`.
    Number,
    /// A string literal including its quotes; `terminated` is false when the line ended first.
    Str {
        terminated: bool,
    },
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Semicolon,
    Dot,
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    Amp,
    /// `=`
    Eq,
    /// `==`
    EqEq,
    /// `<>` or `!=`
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    /// `??`
    Coalesce,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `!`
    Bang,
    /// A comment, marker included, up to the end of the line.
    Comment(CommentMarker),
    /// One line inside `BEGIN TALK` / `BEGIN SYSTEM PROMPT`, without its line break.
    RawLine,
    /// A character no rule accepts.
    Unknown,
    Newline,
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Tokenizes `source[start..end]`; spans are offsets into the whole `source`.
///
/// The range form lets the parser lex the inside of a `${}` interpolation
/// with spans that still point into the file.
pub(crate) fn tokenize(source: &str, start: usize, end: usize) -> Vec<Token> {
    let mut lexer = Lexer {
        src: source.as_bytes(),
        text: source,
        pos: start,
        end,
        tokens: Vec::new(),
        line_start: true,
    };
    lexer.run();
    lexer.tokens
}

struct Lexer<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    end: usize,
    tokens: Vec<Token>,
    /// Nothing but blanks since the last line break: `#` starts a comment here.
    line_start: bool,
}

/// Which raw block a `BEGIN` line opens.
#[derive(Clone, Copy)]
enum RawBlock {
    Talk,
    SystemPrompt,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        let at = self.pos + ahead;
        if at < self.end { self.src[at] } else { 0 }
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token {
            kind,
            span: Span::new(start as u32, self.pos as u32),
        });
    }

    fn run(&mut self) {
        // A byte-order mark is not part of the program.
        if self.pos == 0
            && self
                .text
                .get(..self.end)
                .is_some_and(|t| t.starts_with('\u{feff}'))
        {
            self.pos = 3;
        }
        while self.pos < self.end {
            let start = self.pos;
            let byte = self.src[self.pos];
            match byte {
                b' ' | b'\t' | b'\x0c' => self.pos += 1,
                b'\r' if self.peek(1) == b'\n' => self.pos += 1,
                b'\n' | b'\r' => {
                    self.pos += 1;
                    self.push(TokenKind::Newline, start);
                    self.line_start = true;
                    self.after_newline();
                    continue;
                }
                b'\'' => self.comment(CommentMarker::Quote, start),
                b'/' if self.peek(1) == b'/' => self.comment(CommentMarker::Slashes, start),
                b'#' if self.line_start => self.comment(CommentMarker::Hash, start),
                b'"' => {
                    let terminated = self.string();
                    self.push(TokenKind::Str { terminated }, start);
                }
                b'0'..=b'9' => {
                    self.number();
                    self.push(TokenKind::Number, start);
                }
                b'_' if self.is_line_joiner() => {
                    // `_` then only blanks (or a comment) to the end of the line: join the lines.
                    self.skip_to_line_end();
                    self.skip_line_break();
                }
                _ if self.word_starts_here() => {
                    self.word();
                    let word = &self.text[start..self.pos];
                    if word.eq_ignore_ascii_case("REM") {
                        self.pos = start;
                        self.comment(CommentMarker::Rem, start);
                    } else if word == "_" {
                        // A lone `_` is the line-join mark; anywhere but at the end
                        // of a line it would read differently once formatted.
                        self.push(TokenKind::Unknown, start);
                    } else {
                        self.push(TokenKind::Word, start);
                    }
                }
                _ => self.punct(start),
            }
            if byte != b' ' && byte != b'\t' {
                self.line_start = false;
            }
        }
        let end = self.end as u32;
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            span: Span::new(end, end),
        });
    }

    fn comment(&mut self, marker: CommentMarker, start: usize) {
        self.skip_to_line_end();
        self.push(TokenKind::Comment(marker), start);
    }

    fn skip_to_line_end(&mut self) {
        while self.pos < self.end && !matches!(self.src[self.pos], b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn skip_line_break(&mut self) {
        if self.peek(0) == b'\r' {
            self.pos += 1;
        }
        if self.peek(0) == b'\n' {
            self.pos += 1;
        }
    }

    /// Whether the `_` at `pos` stands alone and ends its line (a comment may follow).
    fn is_line_joiner(&self) -> bool {
        // A `_` alone on its line joins nothing: it is a name.
        if self.line_start {
            return false;
        }
        let before_ok = self.pos == 0
            || matches!(
                self.src[self.pos - 1],
                b' ' | b'\t' | b',' | b'(' | b'+' | b'&'
            );
        if !before_ok {
            return false;
        }
        let mut at = self.pos + 1;
        while at < self.end && matches!(self.src[at], b' ' | b'\t') {
            at += 1;
        }
        at >= self.end || matches!(self.src[at], b'\n' | b'\r' | b'\'')
    }

    /// The character at `pos`, if it lies before `end`.
    fn char_here(&self) -> Option<char> {
        self.text
            .get(self.pos..self.end)
            .and_then(|rest| rest.chars().next())
    }

    /// Whether a name starts at `pos`: an ASCII letter or `_`, or a non-ASCII
    /// letter (`preço`, `名前`). Other non-ASCII characters (`×`, `→`, emoji) are
    /// no part of a name: they become [`TokenKind::Unknown`] and get `E001`.
    fn word_starts_here(&self) -> bool {
        let byte = self.src[self.pos];
        if byte.is_ascii() {
            return byte.is_ascii_alphabetic() || byte == b'_';
        }
        self.char_here().is_some_and(char::is_alphabetic)
    }

    fn word(&mut self) {
        while self.pos < self.end {
            let byte = self.src[self.pos];
            if byte.is_ascii() {
                if !(byte.is_ascii_alphanumeric() || byte == b'_') {
                    return;
                }
                self.pos += 1;
            } else {
                match self.char_here() {
                    Some(c) if c.is_alphanumeric() => self.pos += c.len_utf8(),
                    _ => return,
                }
            }
        }
    }

    fn number(&mut self) {
        while self.peek(0).is_ascii_digit() {
            self.pos += 1;
        }
        if self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
            self.pos += 1;
            while self.peek(0).is_ascii_digit() {
                self.pos += 1;
            }
        }
        // An exponent (`1.5e3`, `2E-4`), only when digits follow it.
        let sign = usize::from(matches!(self.peek(1), b'+' | b'-'));
        if matches!(self.peek(0), b'e' | b'E') && self.peek(1 + sign).is_ascii_digit() {
            self.pos += 1 + sign;
            while self.peek(0).is_ascii_digit() {
                self.pos += 1;
            }
        }
    }

    /// Scans a string from its opening quote. Returns false when the line (or
    /// the input) ends before the closing quote; `pos` then stops at the line end.
    fn string(&mut self) -> bool {
        match scan_nested(self.src, self.pos + 1, self.end, Frame::Str) {
            Ok(after) => {
                self.pos = after;
                true
            }
            Err(stop) => {
                self.pos = stop;
                false
            }
        }
    }

    fn punct(&mut self, start: usize) {
        let (kind, len) = match (self.peek(0), self.peek(1)) {
            (b'(', _) => (TokenKind::LParen, 1),
            (b')', _) => (TokenKind::RParen, 1),
            (b'[', _) => (TokenKind::LBracket, 1),
            (b']', _) => (TokenKind::RBracket, 1),
            (b'{', _) => (TokenKind::LBrace, 1),
            (b'}', _) => (TokenKind::RBrace, 1),
            (b',', _) => (TokenKind::Comma, 1),
            (b':', _) => (TokenKind::Colon, 1),
            (b';', _) => (TokenKind::Semicolon, 1),
            (b'.', _) => (TokenKind::Dot, 1),
            (b'+', _) => (TokenKind::Plus, 1),
            (b'-', _) => (TokenKind::Minus, 1),
            (b'*', _) => (TokenKind::Star, 1),
            (b'/', _) => (TokenKind::Slash, 1),
            (b'^', _) => (TokenKind::Caret, 1),
            (b'&', b'&') => (TokenKind::AndAnd, 2),
            (b'&', _) => (TokenKind::Amp, 1),
            (b'|', b'|') => (TokenKind::OrOr, 2),
            (b'=', b'=') => (TokenKind::EqEq, 2),
            (b'=', _) => (TokenKind::Eq, 1),
            (b'<', b'>') => (TokenKind::Ne, 2),
            (b'<', b'=') => (TokenKind::Le, 2),
            (b'<', _) => (TokenKind::Lt, 1),
            (b'>', b'=') => (TokenKind::Ge, 2),
            (b'>', _) => (TokenKind::Gt, 1),
            (b'!', b'=') => (TokenKind::Ne, 2),
            (b'!', _) => (TokenKind::Bang, 1),
            (b'?', b'?') => (TokenKind::Coalesce, 2),
            _ => {
                // One whole character, so spans stay on UTF-8 boundaries.
                let len = self.text[start..self.end]
                    .chars()
                    .next()
                    .map_or(1, char::len_utf8);
                (TokenKind::Unknown, len)
            }
        };
        self.pos += len;
        self.push(kind, start);
    }

    /// After a line break: if the previous line was `BEGIN TALK` or
    /// `BEGIN SYSTEM PROMPT`, the lines up to the matching `END` are raw text.
    fn after_newline(&mut self) {
        let Some(block) = self.raw_block_opened() else {
            return;
        };
        while self.pos < self.end {
            let start = self.pos;
            self.skip_to_line_end();
            let line = &self.text[start..self.pos];
            if closes_raw_block(line, block) {
                // Leave the closing line for the normal rules.
                self.pos = start;
                return;
            }
            self.tokens.push(Token {
                kind: TokenKind::RawLine,
                span: Span::new(start as u32, self.pos as u32),
            });
            let break_start = self.pos;
            self.skip_line_break();
            if self.pos > break_start {
                self.push(TokenKind::Newline, break_start);
            }
        }
    }

    /// Whether the tokens of the line just ended are exactly `BEGIN TALK` or
    /// `BEGIN SYSTEM PROMPT` (a trailing comment allowed).
    fn raw_block_opened(&self) -> Option<RawBlock> {
        // The tokens of the last line, without its newline token.
        let tokens = &self.tokens[..self.tokens.len().saturating_sub(1)];
        let line_start = tokens
            .iter()
            .rposition(|t| t.kind == TokenKind::Newline)
            .map_or(0, |i| i + 1);
        let mut words = Vec::new();
        for token in &tokens[line_start..] {
            match token.kind {
                TokenKind::Word => words.push(&self.text[token.span.range()]),
                TokenKind::Comment(_) => break,
                _ => return None,
            }
        }
        let is = |i: usize, w: &str| words.get(i).is_some_and(|x| x.eq_ignore_ascii_case(w));
        match words.len() {
            2 if is(0, "BEGIN") && is(1, "TALK") => Some(RawBlock::Talk),
            3 if is(0, "BEGIN") && is(1, "SYSTEM") && is(2, "PROMPT") => {
                Some(RawBlock::SystemPrompt)
            }
            _ => None,
        }
    }
}

/// Where [`scan_nested`] is: inside a string, or inside an interpolation with
/// this many `{` open.
enum Frame {
    Str,
    Interp(usize),
}

/// Scans from `pos` (inside a string or just after a `${`) to just after the
/// `"` or `}` that closes it, skipping escapes, `""`, and the interpolations
/// and strings nested inside, to any depth. `Err` holds where it stopped when
/// the line or `end` came first.
///
/// The nesting lives on an explicit stack rather than in recursion, so no
/// input can exhaust the thread's stack here; the parser limits how deep it
/// reads the interpolations. The lexer and the parser's string decoding both
/// use it, so they always agree on where an interpolation ends.
fn scan_nested(bytes: &[u8], mut pos: usize, end: usize, first: Frame) -> Result<usize, usize> {
    let peek = |at: usize| if at < end { bytes[at] } else { 0 };
    let mut stack = vec![first];
    loop {
        if pos >= end || matches!(bytes[pos], b'\n' | b'\r') {
            return Err(pos);
        }
        let byte = bytes[pos];
        match stack.last_mut() {
            Some(Frame::Str) => match byte {
                b'"' if peek(pos + 1) == b'"' => pos += 2,
                b'"' => {
                    pos += 1;
                    stack.pop();
                }
                b'\\' if peek(pos + 1) != 0 && !matches!(peek(pos + 1), b'\n' | b'\r') => pos += 2,
                b'$' if peek(pos + 1) == b'{' => {
                    pos += 2;
                    stack.push(Frame::Interp(1));
                }
                _ => pos += 1,
            },
            Some(Frame::Interp(depth)) => {
                pos += 1;
                match byte {
                    b'{' => *depth += 1,
                    b'}' => {
                        *depth -= 1;
                        if *depth == 0 {
                            stack.pop();
                        }
                    }
                    b'"' => stack.push(Frame::Str),
                    _ => {}
                }
            }
            None => return Ok(pos),
        }
        if stack.is_empty() {
            return Ok(pos);
        }
    }
}

/// The offset of the `}` that closes the interpolation whose inside starts
/// at `from` (just after its `${`); `None` if the line or `end` comes first.
pub(crate) fn interpolation_end(bytes: &[u8], from: usize, end: usize) -> Option<usize> {
    scan_nested(bytes, from, end, Frame::Interp(1))
        .ok()
        .map(|after| after - 1)
}

fn closes_raw_block(line: &str, block: RawBlock) -> bool {
    let mut words = line.split_whitespace();
    let first = words.next();
    let second = words.next();
    let third = words.next();
    let is = |w: Option<&str>, k: &str| w.is_some_and(|w| w.eq_ignore_ascii_case(k));
    let ends_line = |w: Option<&str>| {
        w.is_none() || w.is_some_and(|w| w.starts_with('\'') || w.starts_with("//"))
    };
    match block {
        RawBlock::Talk => is(first, "END") && is(second, "TALK") && ends_line(third),
        RawBlock::SystemPrompt => {
            is(first, "END")
                && is(second, "SYSTEM")
                && is(third, "PROMPT")
                && ends_line(words.next())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        tokenize(source, 0, source.len())
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn comments_in_all_their_spellings() {
        use TokenKind::*;
        assert_eq!(
            kinds("x = 1 ' c"),
            [Word, Eq, Number, Comment(CommentMarker::Quote), Eof]
        );
        assert_eq!(
            kinds("REM c\n"),
            [Comment(CommentMarker::Rem), Newline, Eof]
        );
        assert_eq!(kinds("REMEMBER"), [Word, Eof]);
        assert_eq!(kinds("  # c"), [Comment(CommentMarker::Hash), Eof]);
        assert_eq!(
            kinds("a // c"),
            [Word, Comment(CommentMarker::Slashes), Eof]
        );
    }

    #[test]
    fn strings_skip_interpolations_with_quotes_inside() {
        use TokenKind::*;
        assert_eq!(
            kinds(r#""a ${x["k"]} b" c"#),
            [Str { terminated: true }, Word, Eof]
        );
        assert_eq!(
            kinds("\"open\nx"),
            [Str { terminated: false }, Newline, Word, Eof]
        );
        assert_eq!(
            kinds(r#""say ""hi"" \" ok""#),
            [Str { terminated: true }, Eof]
        );
    }

    #[test]
    fn underscore_joins_lines_but_not_names() {
        use TokenKind::*;
        assert_eq!(
            kinds("a = 1 + _\n 2"),
            [Word, Eq, Number, Plus, Number, Eof]
        );
        assert_eq!(kinds("my_var_\nx"), [Word, Newline, Word, Eof]);
    }

    #[test]
    fn talk_blocks_are_raw_lines() {
        use TokenKind::*;
        assert_eq!(
            kinds("BEGIN TALK\n  Hello, ${name}!\n  it's me\nEND TALK\n"),
            [
                Word, Word, Newline, RawLine, Newline, RawLine, Newline, Word, Word, Newline, Eof
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(kinds("\u{feff}x"), [TokenKind::Word, TokenKind::Eof]);
    }
}
