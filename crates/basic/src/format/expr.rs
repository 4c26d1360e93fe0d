//! Expressions in the canonical style.
//!
//! Parentheses are written where the tree has [`ExprKind::Paren`] and wherever
//! precedence needs them, so a hand-built tree without `Paren` nodes still
//! prints as text that parses back to the same operator structure.

use crate::ast::{
    BinaryOp, Expr, ExprKind, IN_PRECEDENCE, NEG_PRECEDENCE, NOT_PRECEDENCE, ObjectKey, StrLit,
    UnaryOp,
};

/// Binding power of a primary or postfix expression: nothing needs parentheses around it.
const ATOM: u8 = u8::MAX;

/// Writes an expression.
pub(super) fn write_expr(out: &mut String, expr: &Expr) {
    match &expr.kind {
        ExprKind::Null => out.push_str("NULL"),
        ExprKind::Bool(true) => out.push_str("TRUE"),
        ExprKind::Bool(false) => out.push_str("FALSE"),
        ExprKind::Int(value) => out.push_str(&value.to_string()),
        ExprKind::Float(value) => write_float(out, *value),
        ExprKind::Str(lit) => write_str(out, lit),
        ExprKind::List(items) => {
            out.push('[');
            write_list(out, items);
            out.push(']');
        }
        ExprKind::Object(entries) => {
            out.push('{');
            for (i, entry) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                match &entry.key {
                    ObjectKey::Bare(name) => out.push_str(name),
                    ObjectKey::Quoted(lit) => write_str(out, lit),
                }
                out.push_str(": ");
                write_expr(out, &entry.value);
            }
            out.push('}');
        }
        ExprKind::Var(ident) => out.push_str(&ident.name),
        ExprKind::Field { object, field } => {
            write_postfix_object(out, object);
            out.push('.');
            out.push_str(&field.name);
        }
        ExprKind::Index { object, index } => {
            write_postfix_object(out, object);
            out.push('[');
            write_expr(out, index);
            out.push(']');
        }
        ExprKind::Call { name, args } => {
            out.push_str(&name.name);
            out.push('(');
            write_list(out, args);
            out.push(')');
        }
        ExprKind::Unary { op, operand } => {
            let (spelling, power) = match op {
                UnaryOp::Neg => ("-", NEG_PRECEDENCE),
                UnaryOp::Not => ("NOT ", NOT_PRECEDENCE),
            };
            out.push_str(spelling);
            // `- -x` rather than `--x`, which reads like a decrement.
            if *op == UnaryOp::Neg
                && binding_power(operand) == NEG_PRECEDENCE
                && !needs_paren(operand, power)
            {
                out.push(' ');
            }
            write_operand(out, operand, needs_paren(operand, power));
        }
        ExprKind::Binary { op, left, right } => {
            let power = op.precedence();
            // Left-associative operators group `a - b - c` as `(a - b) - c`; `^` groups to the right.
            let (left_min, right_min) = if *op == BinaryOp::Pow {
                (power + 1, power)
            } else {
                (power, power + 1)
            };
            write_operand(out, left, needs_paren(left, left_min));
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            write_operand(out, right, needs_paren(right, right_min));
        }
        ExprKind::In {
            value,
            list,
            negated,
        } => {
            write_operand(out, value, needs_paren(value, IN_PRECEDENCE));
            out.push_str(if *negated { " NOT IN " } else { " IN " });
            write_operand(out, list, needs_paren(list, IN_PRECEDENCE + 1));
        }
        ExprKind::Paren(inner) => write_operand(out, inner, true),
        // Only trees with parse errors hold these, and those are not formatted.
        ExprKind::Error => out.push_str("(?)"),
    }
}

/// Writes expressions separated by `, `.
pub(super) fn write_list(out: &mut String, items: &[Expr]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_expr(out, item);
    }
}

/// A string literal: its raw text between quotes, untouched.
fn write_str(out: &mut String, lit: &StrLit) {
    out.push('"');
    out.push_str(&lit.raw);
    out.push('"');
}

fn write_operand(out: &mut String, expr: &Expr, paren: bool) {
    if paren {
        out.push('(');
        write_expr(out, expr);
        out.push(')');
    } else {
        write_expr(out, expr);
    }
}

/// The object of `a.b` or `a[i]` must be a primary expression; a number would
/// also lex badly (`1.b`), so numbers are wrapped too.
fn write_postfix_object(out: &mut String, object: &Expr) {
    let plain = binding_power(object) == ATOM
        && !matches!(object.kind, ExprKind::Int(_) | ExprKind::Float(_));
    write_operand(out, object, !plain);
}

fn needs_paren(expr: &Expr, min_power: u8) -> bool {
    binding_power(expr) < min_power
}

/// How tightly the text of `expr` holds together when it stands as an operand.
fn binding_power(expr: &Expr) -> u8 {
    match &expr.kind {
        ExprKind::Binary { op, .. } => op.precedence(),
        ExprKind::In { .. } => IN_PRECEDENCE,
        ExprKind::Unary {
            op: UnaryOp::Neg, ..
        } => NEG_PRECEDENCE,
        ExprKind::Unary {
            op: UnaryOp::Not, ..
        } => NOT_PRECEDENCE,
        // A negative literal prints with a leading `-`, which parses as negation.
        ExprKind::Int(value) if *value < 0 => NEG_PRECEDENCE,
        ExprKind::Float(value) if value.is_sign_negative() => NEG_PRECEDENCE,
        _ => ATOM,
    }
}

/// Writes a decimal that parses back to the same `f64` and always shows a `.`.
///
/// `Display` for `f64` gives the shortest digits that round-trip and never
/// uses an exponent, so the lexer only needs plain decimals.
fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        // No literal has this value; the parser never produces it.
        out.push_str("(0.0 / 0.0)");
        return;
    }
    if value.is_infinite() {
        // A literal too large for `f64` reads as infinity, so write one.
        if value < 0.0 {
            out.push('-');
        }
        out.push('1');
        out.push_str(&"0".repeat(309));
        out.push_str(".0");
        return;
    }
    let text = value.to_string();
    out.push_str(&text);
    if !text.contains('.') {
        out.push_str(".0");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Ident;
    use crate::span::Span;

    fn e(kind: ExprKind) -> Expr {
        Expr {
            kind,
            span: Span::default(),
        }
    }
    fn var(name: &str) -> Expr {
        e(ExprKind::Var(Ident {
            name: name.into(),
            span: Span::default(),
        }))
    }
    fn bin(op: BinaryOp, left: Expr, right: Expr) -> Expr {
        e(ExprKind::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
        })
    }
    fn neg(operand: Expr) -> Expr {
        e(ExprKind::Unary {
            op: UnaryOp::Neg,
            operand: Box::new(operand),
        })
    }
    fn not(operand: Expr) -> Expr {
        e(ExprKind::Unary {
            op: UnaryOp::Not,
            operand: Box::new(operand),
        })
    }
    fn text(expr: &Expr) -> String {
        let mut out = String::new();
        write_expr(&mut out, expr);
        out
    }

    #[test]
    fn precedence_adds_the_parentheses_a_tree_without_paren_needs() {
        use BinaryOp::*;
        let (a, b, c) = (var("a"), var("b"), var("c"));
        assert_eq!(
            text(&bin(Sub, bin(Sub, a.clone(), b.clone()), c.clone())),
            "a - b - c"
        );
        assert_eq!(
            text(&bin(Sub, a.clone(), bin(Sub, b.clone(), c.clone()))),
            "a - (b - c)"
        );
        assert_eq!(
            text(&bin(Pow, a.clone(), bin(Pow, b.clone(), c.clone()))),
            "a ^ b ^ c"
        );
        assert_eq!(
            text(&bin(Pow, bin(Pow, a.clone(), b.clone()), c.clone())),
            "(a ^ b) ^ c"
        );
        assert_eq!(
            text(&bin(Mul, bin(Add, a.clone(), b.clone()), c.clone())),
            "(a + b) * c"
        );
        assert_eq!(
            text(&bin(Add, a.clone(), bin(Mul, b.clone(), c.clone()))),
            "a + b * c"
        );
        assert_eq!(text(&neg(bin(Mul, a.clone(), b.clone()))), "-(a * b)");
        assert_eq!(text(&neg(bin(Pow, a.clone(), b.clone()))), "-a ^ b");
        assert_eq!(text(&bin(Pow, neg(a.clone()), b.clone())), "(-a) ^ b");
        assert_eq!(text(&neg(neg(a.clone()))), "- -a");
        assert_eq!(text(&not(bin(And, a.clone(), b.clone()))), "NOT (a AND b)");
        assert_eq!(text(&not(bin(Eq, a.clone(), b.clone()))), "NOT a = b");
        assert_eq!(text(&bin(Eq, not(a.clone()), b.clone())), "(NOT a) = b");
        assert_eq!(
            text(&bin(Or, a.clone(), bin(And, b.clone(), c.clone()))),
            "a OR b AND c"
        );
        assert_eq!(text(&bin(Mul, e(ExprKind::Int(-2)), b.clone())), "-2 * b");
        assert_eq!(text(&bin(Pow, e(ExprKind::Int(-2)), b)), "(-2) ^ b");
    }

    #[test]
    fn floats_round_trip_and_always_show_a_point() {
        for (value, expected) in [
            (0.8, "0.8"),
            (2.0, "2.0"),
            (1e21, "1000000000000000000000.0"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(text(&e(ExprKind::Float(value))), expected);
            assert_eq!(expected.parse::<f64>().unwrap(), value);
        }
        assert_eq!(
            text(&e(ExprKind::Float(1e-7))).parse::<f64>().unwrap(),
            1e-7
        );
        assert_eq!(
            text(&e(ExprKind::Float(f64::INFINITY)))
                .parse::<f64>()
                .unwrap(),
            f64::INFINITY
        );
    }
}
