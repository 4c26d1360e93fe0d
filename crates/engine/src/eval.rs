//! Evaluation of lowered expressions. Pure: it reads variables and the
//! [`Inputs`], and its only write is the count of `UUID()`s issued.

use std::collections::BTreeMap;

use basic::ast::BinaryOp;
use serde_json::{Map, Value};

use crate::builtins::{self, Inputs};
use crate::ir::Ex;
use crate::value::{self, OpResult, arith, compare, equals, to_text, truthy};

/// The variables an expression sees.
pub struct Scope<'a> {
    pub globals: &'a Map<String, Value>,
    /// A procedure's parameters and locals; `None` outside procedures.
    pub locals: Option<&'a Map<String, Value>>,
    pub temps: &'a BTreeMap<u32, Value>,
}

impl Scope<'_> {
    /// A variable's value: a local first, then a run variable, else `NULL`.
    pub fn var(&self, key: &str) -> Value {
        self.locals
            .and_then(|locals| locals.get(key))
            .or_else(|| self.globals.get(key))
            .cloned()
            .unwrap_or(Value::Null)
    }
}

/// Evaluates `ex`.
pub fn eval(ex: &Ex, scope: &Scope<'_>, inputs: &mut Inputs<'_>) -> OpResult<Value> {
    Ok(match ex {
        Ex::Const(v) => v.clone(),
        Ex::Var(name) => scope.var(name),
        Ex::Temp(slot) => scope.temps.get(slot).cloned().unwrap_or(Value::Null),
        Ex::Field(object, name) => {
            let object = eval(object, scope, inputs)?;
            value::field(&object, name).cloned().unwrap_or(Value::Null)
        }
        Ex::Index(object, index) => {
            let object = eval(object, scope, inputs)?;
            let index = eval(index, scope, inputs)?;
            value::index(&object, &index)?
        }
        Ex::List(items) => Value::Array(
            items
                .iter()
                .map(|i| eval(i, scope, inputs))
                .collect::<OpResult<_>>()?,
        ),
        Ex::Object(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                map.insert(key.clone(), eval(value, scope, inputs)?);
            }
            Value::Object(map)
        }
        Ex::Text(parts) => {
            let mut text = String::new();
            for part in parts {
                text.push_str(&to_text(&eval(part, scope, inputs)?));
            }
            Value::String(text)
        }
        Ex::Builtin(name, args) => {
            let args: Vec<Value> = args
                .iter()
                .map(|a| eval(a, scope, inputs))
                .collect::<OpResult<_>>()?;
            builtins::call(name, &args, inputs)
                .unwrap_or_else(|| Err(format!("`{name}` is not a built-in function")))?
        }
        Ex::Unknown(name) => return Err(format!("`{name}` is not a function botflow knows")),
        Ex::Neg(operand) => value::negate(&eval(operand, scope, inputs)?)?,
        Ex::Not(operand) => Value::Bool(!truthy(&eval(operand, scope, inputs)?)),
        Ex::Binary(op, left, right) => binary(*op, left, right, scope, inputs)?,
        Ex::In {
            value,
            list,
            negated,
        } => {
            let item = eval(value, scope, inputs)?;
            let list = eval(list, scope, inputs)?;
            Value::Bool(value::contains(&list, &item)? != *negated)
        }
        Ex::Invalid => return Err("the expression could not be parsed".to_owned()),
    })
}

fn binary(
    op: BinaryOp,
    left: &Ex,
    right: &Ex,
    scope: &Scope<'_>,
    inputs: &mut Inputs<'_>,
) -> OpResult<Value> {
    // The short-circuiting operators evaluate their right side only when needed.
    match op {
        BinaryOp::And => {
            return Ok(Value::Bool(
                truthy(&eval(left, scope, inputs)?) && truthy(&eval(right, scope, inputs)?),
            ));
        }
        BinaryOp::Or => {
            return Ok(Value::Bool(
                truthy(&eval(left, scope, inputs)?) || truthy(&eval(right, scope, inputs)?),
            ));
        }
        BinaryOp::Coalesce => {
            let l = eval(left, scope, inputs)?;
            return if l.is_null() {
                eval(right, scope, inputs)
            } else {
                Ok(l)
            };
        }
        _ => {}
    }
    let a = eval(left, scope, inputs)?;
    let b = eval(right, scope, inputs)?;
    apply(op, &a, &b)
}

/// A binary operator on two values (not the short-circuiting ones).
pub fn apply(op: BinaryOp, a: &Value, b: &Value) -> OpResult<Value> {
    let ordered = |test: fn(std::cmp::Ordering) -> bool| -> OpResult<Value> {
        Ok(Value::Bool(compare(a, b)?.is_some_and(test)))
    };
    match op {
        BinaryOp::Add => value::add(a, b),
        BinaryOp::Sub => arith(a, b, "-"),
        BinaryOp::Mul => arith(a, b, "*"),
        BinaryOp::Div => arith(a, b, "/"),
        BinaryOp::Mod => arith(a, b, "MOD"),
        BinaryOp::Pow => arith(a, b, "^"),
        BinaryOp::Concat => Ok(value::concat(a, b)),
        BinaryOp::Eq => Ok(Value::Bool(equals(a, b))),
        BinaryOp::Ne => Ok(Value::Bool(!equals(a, b))),
        BinaryOp::Lt => ordered(|o| o.is_lt()),
        BinaryOp::Gt => ordered(|o| o.is_gt()),
        BinaryOp::Le => ordered(|o| o.is_le()),
        BinaryOp::Ge => ordered(|o| o.is_ge()),
        BinaryOp::And => Ok(Value::Bool(truthy(a) && truthy(b))),
        BinaryOp::Or => Ok(Value::Bool(truthy(a) || truthy(b))),
        BinaryOp::Coalesce => Ok(if a.is_null() { b.clone() } else { a.clone() }),
    }
}

#[cfg(test)]
mod tests {
    use basic::Span;
    use basic::ast::{Expr, ExprKind, Ident};
    use serde_json::json;

    use super::*;
    use crate::builtins::UuidSource;
    use crate::compile::lower_expr;

    fn node(kind: ExprKind) -> Expr {
        Expr {
            kind,
            span: Span::default(),
        }
    }

    fn var(name: &str) -> Expr {
        node(ExprKind::Var(Ident {
            name: name.to_owned(),
            span: Span::default(),
        }))
    }

    fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
        node(ExprKind::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
        })
    }

    fn run(expr: &Expr, globals: Value) -> OpResult<Value> {
        let globals = globals.as_object().cloned().unwrap_or_default();
        let temps = BTreeMap::new();
        let scope = Scope {
            globals: &globals,
            locals: None,
            temps: &temps,
        };
        let mut uuids = UuidSource::default();
        eval(
            &lower_expr(expr),
            &scope,
            &mut Inputs {
                now_ms: 0,
                uuids: &mut uuids,
            },
        )
    }

    #[test]
    fn and_or_and_coalesce_short_circuit() {
        let boom = binary(
            BinaryOp::Div,
            node(ExprKind::Int(1)),
            node(ExprKind::Int(0)),
        );
        assert_eq!(run(&boom, json!({})).unwrap_err(), "division by zero");
        let and = binary(BinaryOp::And, node(ExprKind::Bool(false)), boom.clone());
        assert_eq!(run(&and, json!({})), Ok(json!(false)));
        let or = binary(BinaryOp::Or, node(ExprKind::Bool(true)), boom.clone());
        assert_eq!(run(&or, json!({})), Ok(json!(true)));
        let coalesce = binary(BinaryOp::Coalesce, var("x"), boom);
        assert_eq!(run(&coalesce, json!({"x": 0})), Ok(json!(0)));
    }

    #[test]
    fn names_ignore_case_and_missing_reads_null() {
        let field = node(ExprKind::Field {
            object: Box::new(var("Order")),
            field: Ident {
                name: "Amount".to_owned(),
                span: Span::default(),
            },
        });
        assert_eq!(run(&field, json!({"order": {"amount": 5}})), Ok(json!(5)));
        assert_eq!(run(&field, json!({})), Ok(Value::Null));
        let test = node(ExprKind::In {
            value: Box::new(node(ExprKind::Int(2))),
            list: Box::new(var("items")),
            negated: true,
        });
        assert_eq!(run(&test, json!({"items": [1, 2]})), Ok(json!(false)));
        let call = node(ExprKind::Call {
            name: Ident {
                name: "nope".to_owned(),
                span: Span::default(),
            },
            args: vec![],
        });
        assert!(run(&call, json!({})).unwrap_err().contains("`nope`"));
    }
}
