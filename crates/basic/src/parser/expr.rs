//! Expressions: precedence climbing over the operators of `LANGUAGE.md` §2,
//! literals (with string escapes and `${}` interpolation) and postfix access.

use super::Parser;
use crate::ast::{
    BinaryOp, Expr, ExprKind, IN_PRECEDENCE, Ident, NEG_PRECEDENCE, NOT_PRECEDENCE, ObjectEntry,
    ObjectKey, StrLit, StrPart, UnaryOp,
};
use crate::diagnostic::{Code, Diagnostic};
use crate::lexer::{Token, TokenKind};
use crate::span::Span;

/// A binary operator, or `IN` / `NOT IN`, found after an operand.
enum Infix {
    Binary(BinaryOp),
    /// `IN` (false) or `NOT IN` (true); the bool also says how many words it takes.
    In(bool),
}

impl Parser<'_> {
    /// Parses an expression.
    pub(crate) fn expr(&mut self) -> Expr {
        self.expr_bp(0)
    }

    /// Parses an expression whose operators bind at least as tightly as `min`.
    pub(crate) fn expr_bp(&mut self, min: u8) -> Expr {
        let start = self.tok().span;
        if !self.enter(start) {
            return Expr {
                kind: ExprKind::Error,
                span: start,
            };
        }
        let mut left = self.prefix();
        while let Some(infix) = self.infix() {
            match infix {
                Infix::Binary(op) => {
                    let power = op.precedence();
                    if power < min {
                        break;
                    }
                    self.bump();
                    self.skip_continuation();
                    // `^` groups to the right, everything else to the left.
                    let right = self.expr_bp(if op == BinaryOp::Pow {
                        power
                    } else {
                        power + 1
                    });
                    let span = left.span.cover(right.span);
                    left = Expr {
                        kind: ExprKind::Binary {
                            op,
                            left: Box::new(left),
                            right: Box::new(right),
                        },
                        span,
                    };
                }
                Infix::In(negated) => {
                    if IN_PRECEDENCE < min {
                        break;
                    }
                    if negated {
                        self.bump();
                    }
                    self.bump();
                    self.skip_continuation();
                    let list = self.expr_bp(IN_PRECEDENCE + 1);
                    let span = left.span.cover(list.span);
                    left = Expr {
                        kind: ExprKind::In {
                            value: Box::new(left),
                            list: Box::new(list),
                            negated,
                        },
                        span,
                    };
                }
            }
        }
        self.leave();
        left
    }

    /// A line that ends with an operator or a comma goes on on the next line.
    pub(crate) fn skip_continuation(&mut self) {
        while matches!(self.kind(), TokenKind::Newline | TokenKind::Comment(_)) {
            self.bump();
        }
    }

    /// Skips line breaks (and comment lines) inside brackets, but only when
    /// the token after them is one of `kinds` (the closing bracket or a comma).
    /// Otherwise the bracket was left open, and the next line is a statement of
    /// its own: staying put reports the bracket at the line end and keeps it.
    pub(crate) fn skip_continuation_before(&mut self, kinds: &[TokenKind]) {
        let mut n = 0;
        while matches!(self.nth(n).kind, TokenKind::Newline | TokenKind::Comment(_)) {
            n += 1;
        }
        if n > 0 && kinds.contains(&self.nth(n).kind) {
            for _ in 0..n {
                self.bump();
            }
        }
    }

    fn infix(&self) -> Option<Infix> {
        let token = self.tok();
        if let Some(op) = binary_symbol(token.kind) {
            return Some(Infix::Binary(op));
        }
        if token.kind != TokenKind::Word {
            return None;
        }
        let word = self.text(token);
        let op = if word.eq_ignore_ascii_case("AND") {
            BinaryOp::And
        } else if word.eq_ignore_ascii_case("OR") {
            BinaryOp::Or
        } else if word.eq_ignore_ascii_case("MOD") {
            BinaryOp::Mod
        } else if word.eq_ignore_ascii_case("IN") {
            return Some(Infix::In(false));
        } else if word.eq_ignore_ascii_case("NOT") && self.word_at(1, "IN") {
            return Some(Infix::In(true));
        } else {
            return None;
        };
        Some(Infix::Binary(op))
    }

    fn prefix(&mut self) -> Expr {
        let token = self.tok();
        let op = match token.kind {
            TokenKind::Minus => Some((UnaryOp::Neg, NEG_PRECEDENCE)),
            TokenKind::Bang => Some((UnaryOp::Not, NOT_PRECEDENCE)),
            TokenKind::Word if self.text(token).eq_ignore_ascii_case("NOT") => {
                Some((UnaryOp::Not, NOT_PRECEDENCE))
            }
            _ => None,
        };
        match op {
            Some((op, power)) => {
                self.bump();
                // Like a binary operator, a sign at the end of a line continues it.
                self.skip_continuation();
                let operand = self.expr_bp(power);
                let span = token.span.cover(operand.span);
                Expr {
                    kind: ExprKind::Unary {
                        op,
                        operand: Box::new(operand),
                    },
                    span,
                }
            }
            None => {
                let primary = self.primary();
                self.postfix(primary)
            }
        }
    }

    /// `a.b`, `a[i]`, repeated.
    pub(crate) fn postfix(&mut self, mut expr: Expr) -> Expr {
        loop {
            match self.kind() {
                TokenKind::Dot if self.nth(1).kind == TokenKind::Word => {
                    self.bump();
                    let field = self.ident();
                    let span = expr.span.cover(field.span);
                    expr = Expr {
                        kind: ExprKind::Field {
                            object: Box::new(expr),
                            field,
                        },
                        span,
                    };
                }
                TokenKind::LBracket => {
                    let open = self.bump();
                    if !self.enter(open.span) {
                        return expr;
                    }
                    self.skip_continuation();
                    let index = self.expr();
                    self.skip_continuation_before(&[TokenKind::RBracket]);
                    self.close(TokenKind::RBracket, "`]`", open);
                    self.leave();
                    let span = self.span_from(expr.span.start);
                    expr = Expr {
                        kind: ExprKind::Index {
                            object: Box::new(expr),
                            index: Box::new(index),
                        },
                        span,
                    };
                }
                _ => return expr,
            }
        }
    }

    /// Consumes the current word as an identifier.
    pub(crate) fn ident(&mut self) -> Ident {
        let token = self.bump();
        Ident {
            name: self.text(token).to_string(),
            span: token.span,
        }
    }

    /// Expects a word and returns it as an identifier, or reports `E003`.
    pub(crate) fn expect_ident(&mut self, what: &str) -> Option<Ident> {
        if self.kind() == TokenKind::Word {
            Some(self.ident())
        } else {
            self.expected(what);
            None
        }
    }

    /// Consumes the closing bracket of `open`, or reports it missing.
    fn close(&mut self, kind: TokenKind, text: &str, open: Token) {
        if !self.eat(kind) && !self.gave_up {
            let token = self.tok();
            if !self.lexical_error(token) {
                let message = format!(
                    "expected {text} to close this bracket, found {}",
                    self.describe(token)
                );
                self.report(
                    Diagnostic::new(Code::UnexpectedToken, token.span, message)
                        .with_label(open.span, "the bracket opened here"),
                );
            }
        }
    }

    fn primary(&mut self) -> Expr {
        let token = self.tok();
        let kind = match token.kind {
            TokenKind::Number => {
                self.bump();
                number(self.text(token))
            }
            TokenKind::Str { .. } => {
                self.bump();
                ExprKind::Str(self.string_literal(token))
            }
            TokenKind::LParen => {
                self.bump();
                self.skip_continuation();
                let inner = self.expr();
                self.skip_continuation_before(&[TokenKind::RParen]);
                self.close(TokenKind::RParen, "`)`", token);
                ExprKind::Paren(Box::new(inner))
            }
            TokenKind::LBracket => {
                self.bump();
                if !self.enter(token.span) {
                    return Expr {
                        kind: ExprKind::Error,
                        span: token.span,
                    };
                }
                let items = self.list_items(TokenKind::RBracket);
                self.close(TokenKind::RBracket, "`]`", token);
                self.leave();
                ExprKind::List(items)
            }
            TokenKind::LBrace => {
                self.bump();
                if !self.enter(token.span) {
                    return Expr {
                        kind: ExprKind::Error,
                        span: token.span,
                    };
                }
                let entries = self.object_entries();
                self.close(TokenKind::RBrace, "`}`", token);
                self.leave();
                ExprKind::Object(entries)
            }
            TokenKind::Word if is_reserved_word(self.text(token)) => {
                // `IF total > THEN`: the operand is missing; the word stays for
                // the statement that expects it.
                self.expected("an expression");
                return Expr {
                    kind: ExprKind::Error,
                    span: token.span,
                };
            }
            TokenKind::Word => {
                let word = self.text(token);
                if word.eq_ignore_ascii_case("TRUE") {
                    self.bump();
                    ExprKind::Bool(true)
                } else if word.eq_ignore_ascii_case("FALSE") {
                    self.bump();
                    ExprKind::Bool(false)
                } else if word.eq_ignore_ascii_case("NULL") {
                    self.bump();
                    ExprKind::Null
                } else if self.nth(1).kind == TokenKind::LParen {
                    let name = self.ident();
                    let open = self.bump();
                    if !self.enter(open.span) {
                        return Expr {
                            kind: ExprKind::Error,
                            span: token.span,
                        };
                    }
                    let args = self.list_items(TokenKind::RParen);
                    self.close(TokenKind::RParen, "`)`", open);
                    self.leave();
                    ExprKind::Call { name, args }
                } else {
                    ExprKind::Var(self.ident())
                }
            }
            _ => {
                self.expected("an expression");
                // Consume what cannot start anything, so callers always make progress;
                // a line end stays for the statement's parser, and a closing
                // bracket or comma for the list or call it closes (`f(1, )`).
                if !matches!(
                    token.kind,
                    TokenKind::Newline
                        | TokenKind::Eof
                        | TokenKind::Comment(_)
                        | TokenKind::Semicolon
                        | TokenKind::RawLine
                        | TokenKind::RParen
                        | TokenKind::RBracket
                        | TokenKind::RBrace
                        | TokenKind::Comma
                ) {
                    self.bump();
                }
                return Expr {
                    kind: ExprKind::Error,
                    span: token.span,
                };
            }
        };
        Expr {
            kind,
            span: self.span_from(token.span.start),
        }
    }

    /// Comma-separated expressions up to `close` (not consumed); lines may break anywhere.
    fn list_items(&mut self, close: TokenKind) -> Vec<Expr> {
        let mut items = Vec::new();
        loop {
            self.skip_continuation();
            if self.kind() == close || self.kind() == TokenKind::Eof {
                return items;
            }
            let before = self.pos;
            items.push(self.expr());
            self.skip_continuation_before(&[close, TokenKind::Comma]);
            if !self.eat(TokenKind::Comma) {
                return items;
            }
            if self.pos == before {
                return items;
            }
        }
    }

    fn object_entries(&mut self) -> Vec<ObjectEntry> {
        let mut entries = Vec::new();
        loop {
            self.skip_continuation();
            let token = self.tok();
            let key = match token.kind {
                TokenKind::RBrace | TokenKind::Eof => return entries,
                TokenKind::Word => {
                    self.bump();
                    ObjectKey::Bare(self.text(token).to_string())
                }
                TokenKind::Str { .. } => {
                    self.bump();
                    ObjectKey::Quoted(self.string_literal(token))
                }
                _ => {
                    self.expected("a key (a name or a string)");
                    return entries;
                }
            };
            self.skip_continuation_before(&[TokenKind::Colon]);
            if !self.eat(TokenKind::Colon) {
                self.expected("`:` after the key");
                return entries;
            }
            self.skip_continuation();
            let value = self.expr();
            entries.push(ObjectEntry { key, value });
            self.skip_continuation_before(&[TokenKind::RBrace, TokenKind::Comma]);
            if !self.eat(TokenKind::Comma) {
                return entries;
            }
        }
    }

    /// Comma-separated expressions on the rest of the line (a line ending
    /// with `,` goes on on the next one).
    pub(crate) fn args(&mut self) -> Vec<Expr> {
        let mut args = Vec::new();
        if self.at_stmt_end() {
            return args;
        }
        loop {
            args.push(self.expr());
            if !self.eat(TokenKind::Comma) {
                return args;
            }
            self.skip_continuation();
        }
    }

    /// An assignment target or `HEAR` variable: a name with `.field` / `[index]`.
    pub(crate) fn place(&mut self) -> Option<Expr> {
        if self.kind() != TokenKind::Word {
            return None;
        }
        let ident = self.ident();
        let span = ident.span;
        Some(self.postfix(Expr {
            kind: ExprKind::Var(ident),
            span,
        }))
    }

    // ---- Strings ----------------------------------------------------------------

    /// Decodes a string token: `""` and `\n \t \" \\` escapes, `${expr}` parts.
    pub(crate) fn string_literal(&mut self, token: Token) -> StrLit {
        let terminated = matches!(token.kind, TokenKind::Str { terminated: true });
        if !terminated {
            self.lexical_error(token);
        }
        let start = token.span.start as usize + 1;
        let end = if terminated {
            token.span.end as usize - 1
        } else {
            token.span.end as usize
        };
        let end = end.max(start);
        let raw = &self.src[start..end];
        StrLit {
            raw: raw.to_string(),
            parts: self.string_parts(start, end, true),
        }
    }

    /// The parts of `src[start..end]`: text, with escapes when `escapes`, and interpolations.
    pub(crate) fn string_parts(&mut self, start: usize, end: usize, escapes: bool) -> Vec<StrPart> {
        let bytes = self.src.as_bytes();
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut i = start;
        let mut plain_from = start;
        // Once one `${` finds no `}`, no later one is read as an interpolation
        // either: the rest is text (the string is broken and reported), and
        // each failed search would scan to the end again, quadratic in the line.
        let mut interpolations = true;
        while i < end {
            let byte = bytes[i];
            let next = if i + 1 < end { bytes[i + 1] } else { 0 };
            let replacement = match (byte, next) {
                (b'"', b'"') if escapes => Some('"'),
                (b'\\', b'n') if escapes => Some('\n'),
                (b'\\', b't') if escapes => Some('\t'),
                (b'\\', b'"') if escapes => Some('"'),
                (b'\\', b'\\') if escapes => Some('\\'),
                _ => None,
            };
            if let Some(c) = replacement {
                text.push_str(&self.src[plain_from..i]);
                text.push(c);
                i += 2;
                plain_from = i;
                continue;
            }
            if interpolations && byte == b'$' && next == b'{' {
                let Some(close) = crate::lexer::interpolation_end(bytes, i + 2, end) else {
                    interpolations = false;
                    i += 1;
                    continue;
                };
                text.push_str(&self.src[plain_from..i]);
                if !text.is_empty() {
                    parts.push(StrPart::Text(std::mem::take(&mut text)));
                }
                parts.push(StrPart::Interp(self.interpolation(i + 2, close)));
                i = close + 1;
                plain_from = i;
                continue;
            }
            i += 1;
        }
        text.push_str(&self.src[plain_from..end]);
        if !text.is_empty() {
            parts.push(StrPart::Text(text));
        }
        parts
    }

    /// Parses the expression inside `${ ... }` with a parser of its own.
    fn interpolation(&mut self, start: usize, end: usize) -> Expr {
        let span = Span::new(start as u32, end as u32);
        let mut inner = Parser::new(self.src, start, end, self.depth + 1);
        let expr = if inner.kind() == TokenKind::Eof {
            inner.report(Diagnostic::new(
                Code::UnexpectedToken,
                span,
                "empty `${}` in a string",
            ));
            Expr {
                kind: ExprKind::Error,
                span,
            }
        } else {
            let expr = inner.expr();
            if inner.kind() != TokenKind::Eof && !inner.gave_up {
                inner.expected("`}` after the interpolated expression");
            }
            expr
        };
        self.diagnostics.append(&mut inner.diagnostics);
        if inner.gave_up {
            self.gave_up = true;
            self.pos = self.tokens.len() - 1;
        }
        expr
    }
}

/// Words that only ever join or end expressions, so they are never a
/// variable's name. (`TO`, `STEP` and `IN` are, in real scripts.)
fn is_reserved_word(word: &str) -> bool {
    ["THEN", "ELSE", "AND", "OR", "MOD"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
}

/// The binary operator a punctuation token spells, if any (`AND`, `OR`,
/// `MOD` and `IN` are words, handled by [`Parser::infix`]).
pub(crate) fn binary_symbol(kind: TokenKind) -> Option<BinaryOp> {
    Some(match kind {
        TokenKind::Plus => BinaryOp::Add,
        TokenKind::Minus => BinaryOp::Sub,
        TokenKind::Star => BinaryOp::Mul,
        TokenKind::Slash => BinaryOp::Div,
        TokenKind::Caret => BinaryOp::Pow,
        TokenKind::Amp => BinaryOp::Concat,
        TokenKind::Eq | TokenKind::EqEq => BinaryOp::Eq,
        TokenKind::Ne => BinaryOp::Ne,
        TokenKind::Lt => BinaryOp::Lt,
        TokenKind::Gt => BinaryOp::Gt,
        TokenKind::Le => BinaryOp::Le,
        TokenKind::Ge => BinaryOp::Ge,
        TokenKind::Coalesce => BinaryOp::Coalesce,
        TokenKind::AndAnd => BinaryOp::And,
        TokenKind::OrOr => BinaryOp::Or,
        _ => return None,
    })
}

/// The value of a number literal: an `i64` when it is an integer that fits.
fn number(text: &str) -> ExprKind {
    if !text.contains(['.', 'e', 'E'])
        && let Ok(value) = text.parse::<i64>()
    {
        return ExprKind::Int(value);
    }
    // The lexer only produces digits with at most one `.` and an exponent, which always parse.
    ExprKind::Float(text.parse::<f64>().unwrap_or(f64::INFINITY))
}
