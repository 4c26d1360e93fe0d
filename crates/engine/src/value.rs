//! Values and the operators of LANGUAGE.md §2.
//!
//! A value is a JSON value ([`serde_json::Value`]), so a run's variables are
//! one JSON object that can be checkpointed anywhere. Numbers stay integers
//! while they can: every arithmetic result that is integral and within
//! ±2^53 is stored as an integer, so `3 * 2` is `6`, never `6.0`.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

/// The largest integer a float holds exactly (2^53).
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// An error of an operator or built-in, as the message a script's `ERROR` shows.
pub type OpResult<T> = Result<T, String>;

/// A number as the interpreter computes with it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    /// An exact integer.
    Int(i64),
    /// Anything else.
    Float(f64),
}

impl Num {
    /// The number as a float.
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// The JSON value, integral floats within ±2^53 becoming integers.
    pub fn to_value(self) -> OpResult<Value> {
        match self {
            Num::Int(i) => Ok(Value::from(i)),
            Num::Float(f) => float_value(f),
        }
    }
}

/// A float as a JSON value; integral values within ±2^53 become integers.
pub fn float_value(f: f64) -> OpResult<Value> {
    if !f.is_finite() {
        return Err("the result is not a finite number".to_owned());
    }
    if f.fract() == 0.0 && f.abs() <= EXACT_INT {
        return Ok(Value::from(f as i64));
    }
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| "the result is not a finite number".to_owned())
}

/// The number a JSON number holds.
pub fn num_of(n: &Number) -> Num {
    if let Some(i) = n.as_i64() {
        Num::Int(i)
    } else {
        // u64 beyond i64, or a float: both are computed with as floats.
        Num::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// The number a string spells (`"150"`, `" 2.5 "`), if it is one.
pub fn parse_number(text: &str) -> Option<Num> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(i) = text.parse::<i64>() {
        return Some(Num::Int(i));
    }
    // Only plain decimal spellings: "inf", "nan" and "1e5" are not numbers to a script's reader.
    let plain = text
        .strip_prefix(['-', '+'])
        .unwrap_or(text)
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.');
    if !plain {
        return None;
    }
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Num::Float)
}

/// A value as a number for arithmetic: numbers, numeric strings, booleans
/// (1/0) and null (0).
pub fn to_num(value: &Value) -> OpResult<Num> {
    match value {
        Value::Number(n) => Ok(num_of(n)),
        Value::Null => Ok(Num::Int(0)),
        Value::Bool(b) => Ok(Num::Int(i64::from(*b))),
        Value::String(s) => parse_number(s).ok_or_else(|| format!("\"{s}\" is not a number")),
        other => Err(format!("{} is not a number", type_name(other))),
    }
}

/// The value's type in words, for error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Whether a condition holds: `NULL`, `FALSE`, `0`, `""` and empty lists and
/// objects are false; everything else is true.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => num_of(n).as_f64() != 0.0,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// A value as text: what `TALK`, `&` and `STR` show. `NULL` is empty, numbers
/// print without a needless `.0`, lists and objects print as JSON.
pub fn to_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_text(n),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn number_text(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() <= EXACT_INT => {
            format!("{}", f as i64)
        }
        _ => n.to_string(),
    }
}

/// `a + b`: concatenates when either side is a string, joins two lists,
/// otherwise adds numbers.
pub fn add(a: &Value, b: &Value) -> OpResult<Value> {
    match (a, b) {
        (Value::String(_), _) | (_, Value::String(_)) => {
            Ok(Value::String(to_text(a) + &to_text(b)))
        }
        (Value::Array(x), Value::Array(y)) => {
            Ok(Value::Array(x.iter().chain(y).cloned().collect()))
        }
        _ => arith(a, b, "+"),
    }
}

/// `a & b`: always concatenates the two values' texts.
pub fn concat(a: &Value, b: &Value) -> Value {
    Value::String(to_text(a) + &to_text(b))
}

/// `+ - * / MOD ^` on numbers (numeric strings count as numbers).
pub fn arith(a: &Value, b: &Value, op: &str) -> OpResult<Value> {
    let check = |v: &Value| match v {
        Value::Array(_) | Value::Object(_) => {
            Err(format!("cannot use {} with `{op}`", type_name(v)))
        }
        _ => Ok(()),
    };
    check(a)?;
    check(b)?;
    let x = to_num(a)?;
    let y = to_num(b)?;
    if let (Num::Int(i), Num::Int(j)) = (x, y) {
        let exact = match op {
            "+" => i.checked_add(j),
            "-" => i.checked_sub(j),
            "*" => i.checked_mul(j),
            "/" if j != 0 && i % j == 0 => i.checked_div(j),
            "MOD" if j != 0 => i.checked_rem(j),
            "^" if (0..64).contains(&j) => u32::try_from(j).ok().and_then(|e| i.checked_pow(e)),
            _ => None,
        };
        if let Some(value) = exact {
            return Ok(Value::from(value));
        }
    }
    let (x, y) = (x.as_f64(), y.as_f64());
    let result = match op {
        "+" => x + y,
        "-" => x - y,
        "*" => x * y,
        "/" | "MOD" if y == 0.0 => return Err("division by zero".to_owned()),
        "/" => x / y,
        "MOD" => x % y,
        "^" => x.powf(y),
        _ => return Err(format!("unknown operator `{op}`")),
    };
    float_value(result)
}

/// Unary minus.
pub fn negate(value: &Value) -> OpResult<Value> {
    match to_num(value)? {
        Num::Int(i) => match i.checked_neg() {
            Some(n) => Ok(Value::from(n)),
            None => float_value(-(i as f64)),
        },
        Num::Float(f) => float_value(-f),
    }
}

/// The number a value stands for in a comparison with a number: numbers and
/// numeric strings.
fn comparable_num(value: &Value) -> Option<Num> {
    match value {
        Value::Number(n) => Some(num_of(n)),
        Value::String(s) => parse_number(s),
        _ => None,
    }
}

/// `a = b`: deep equality, where a number equals a numeric string that spells it
/// (`150 = "150"`) and `1 = 1.0`.
pub fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_of(x).as_f64() == num_of(y).as_f64(),
        (Value::Number(_), Value::String(_)) | (Value::String(_), Value::Number(_)) => {
            match (comparable_num(a), comparable_num(b)) {
                (Some(x), Some(y)) => x.as_f64() == y.as_f64(),
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equals(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| equals(v, w)))
        }
        _ => a == b,
    }
}

/// The order of two values for `< > <= >=`, `MIN`, `MAX` and `CASE IS`.
///
/// Numbers (and a number against a numeric string) compare as numbers, two
/// strings compare by text, booleans false before true. Values that have no
/// order between them (`NULL`, a word against a number, lists) give [`None`]:
/// the comparison is false, so `CASE 3 TO 10` simply does not match `"x"`.
pub fn compare(a: &Value, b: &Value) -> OpResult<Option<Ordering>> {
    Ok(match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Number(_), Value::Number(_) | Value::String(_))
        | (Value::String(_), Value::Number(_)) => match (comparable_num(a), comparable_num(b)) {
            (Some(x), Some(y)) => x.as_f64().partial_cmp(&y.as_f64()),
            _ => None,
        },
        _ => None,
    })
}

/// `x IN container`: an item of a list, a key of an object, or a part of a string.
pub fn contains(container: &Value, item: &Value) -> OpResult<bool> {
    match container {
        Value::Array(items) => Ok(items.iter().any(|v| equals(v, item))),
        Value::Object(map) => Ok(map.contains_key(&to_text(item))),
        Value::String(s) => Ok(s.contains(&to_text(item))),
        Value::Null => Ok(false),
        other => Err(format!("cannot look for a value in {}", type_name(other))),
    }
}

/// The field `name` of an object: the exact key first, then a key that
/// differs only in case, then `NULL`.
pub fn field<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    let Value::Object(map) = object else {
        return None;
    };
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// `a[i]`: a list item (negative counts from the end), an object field, or a
/// character of a string. Out of range reads as `NULL`.
pub fn index(object: &Value, index: &Value) -> OpResult<Value> {
    match object {
        Value::Array(items) => {
            Ok(list_position(items.len(), index)?.map_or(Value::Null, |i| items[i].clone()))
        }
        Value::Object(_) => Ok(field(object, &to_text(index))
            .cloned()
            .unwrap_or(Value::Null)),
        Value::String(s) => {
            let chars: Vec<char> = s.chars().collect();
            Ok(list_position(chars.len(), index)?
                .map_or(Value::Null, |i| Value::String(chars[i].to_string())))
        }
        Value::Null => Ok(Value::Null),
        other => Err(format!("cannot index {}", type_name(other))),
    }
}

/// The position `index` names in a list of `len` items, if it is inside it.
pub fn list_position(len: usize, index: &Value) -> OpResult<Option<usize>> {
    let i = match to_num(index)? {
        Num::Int(i) => i,
        Num::Float(f) if f.fract() == 0.0 => f as i64,
        Num::Float(f) => return Err(format!("list index {f} is not an integer")),
    };
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let i = if i < 0 { len + i } else { i };
    Ok(if (0..len).contains(&i) {
        usize::try_from(i).ok()
    } else {
        None
    })
}

/// Sets `key` in an object, creating the object when the value is `NULL`.
pub fn set_field(target: &mut Value, key: &str, value: Value) -> OpResult<()> {
    if target.is_null() {
        *target = Value::Object(Map::new());
    }
    match target {
        Value::Object(map) => {
            let existing = map
                .keys()
                .find(|k| k.eq_ignore_ascii_case(key) && *k != key)
                .cloned();
            map.insert(existing.unwrap_or_else(|| key.to_owned()), value);
            Ok(())
        }
        other => Err(format!("cannot set field `{key}` of {}", type_name(other))),
    }
}

/// Sets `target[index] = value`: a list item (one past the end appends), or an
/// object field.
pub fn set_index(target: &mut Value, index: &Value, value: Value) -> OpResult<()> {
    if target.is_null() {
        *target = if matches!(index, Value::Number(_)) {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        };
    }
    match target {
        Value::Array(items) => {
            let len = items.len();
            if let Some(i) = list_position(len, index)? {
                items[i] = value;
                Ok(())
            } else if to_num(index).map(|n| n.as_f64()) == Ok(len as f64) {
                items.push(value);
                Ok(())
            } else {
                Err(format!(
                    "list index {} is out of range (the list has {len} items)",
                    to_text(index)
                ))
            }
        }
        Value::Object(_) => set_field(target, &to_text(index), value),
        other => Err(format!("cannot index {}", type_name(other))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn plus_concatenates_when_either_side_is_text() {
        assert_eq!(add(&json!("a"), &json!(1)).unwrap(), json!("a1"));
        assert_eq!(add(&json!(2), &json!("b")).unwrap(), json!("2b"));
        assert_eq!(add(&json!(2), &json!(3)).unwrap(), json!(5));
        assert_eq!(add(&json!([1]), &json!([2])).unwrap(), json!([1, 2]));
        assert_eq!(add(&json!(0.5), &json!(0.25)).unwrap(), json!(0.75));
        assert_eq!(concat(&json!(1), &json!(2)), json!("12"));
        assert_eq!(concat(&Value::Null, &json!(1.5)), json!("1.5"));
    }

    #[test]
    fn integers_stay_exact_and_integral_floats_become_integers() {
        assert_eq!(
            arith(&json!(9_007_199_254_740_993i64), &json!(0), "+").unwrap(),
            json!(9_007_199_254_740_993i64)
        );
        assert_eq!(arith(&json!(7), &json!(2), "/").unwrap(), json!(3.5));
        assert_eq!(arith(&json!(6), &json!(2), "/").unwrap(), json!(3));
        assert_eq!(arith(&json!(1.5), &json!(2), "*").unwrap(), json!(3));
        assert_eq!(arith(&json!(7), &json!(3), "MOD").unwrap(), json!(1));
        assert_eq!(arith(&json!(2), &json!(10), "^").unwrap(), json!(1024));
        assert_eq!(arith(&json!("150"), &json!(1), "-").unwrap(), json!(149));
        assert_eq!(
            arith(&json!(1), &json!(0), "/").unwrap_err(),
            "division by zero"
        );
        assert!(
            arith(&json!("abc"), &json!(1), "*")
                .unwrap_err()
                .contains("not a number")
        );
        assert!(arith(&json!([1]), &json!(1), "-").is_err());
        assert_eq!(negate(&json!(3)).unwrap(), json!(-3));
        assert_eq!(to_text(&json!(2.0)), "2");
    }

    #[test]
    fn numbers_compare_with_numeric_strings() {
        assert_eq!(
            compare(&json!("150"), &json!(100)).unwrap(),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(&json!("9"), &json!("10")).unwrap(),
            Some(Ordering::Greater)
        );
        assert_eq!(compare(&Value::Null, &json!(1)).unwrap(), None);
        assert_eq!(compare(&json!("abc"), &json!(1)).unwrap(), None);
        assert_eq!(compare(&json!([1]), &json!([1])).unwrap(), None);
        assert!(equals(&json!("150"), &json!(150)));
        assert!(equals(&json!(1), &json!(1.0)));
        assert!(!equals(&json!("abc"), &json!(1)));
        assert!(!equals(&json!(""), &Value::Null));
        assert!(equals(&json!({"a": [1, "2"]}), &json!({"a": [1.0, "2"]})));
    }

    #[test]
    fn truth_text_and_membership() {
        for falsy in [
            json!(null),
            json!(false),
            json!(0),
            json!(""),
            json!([]),
            json!({}),
        ] {
            assert!(!truthy(&falsy), "{falsy}");
        }
        assert!(truthy(&json!("0.0")) && truthy(&json!([0])));
        assert!(contains(&json!([1, "b"]), &json!("1")).unwrap());
        assert!(contains(&json!({"k": 1}), &json!("k")).unwrap());
        assert!(contains(&json!("hello"), &json!("ell")).unwrap());
        assert!(!contains(&Value::Null, &json!(1)).unwrap());
        assert!(contains(&json!(3), &json!(1)).is_err());
    }

    #[test]
    fn access_reads_null_when_missing_and_writes_create() {
        let v = json!({"Name": "x", "items": [1, 2, 3]});
        assert_eq!(field(&v, "name"), Some(&json!("x")));
        assert_eq!(index(&v["items"], &json!(-1)).unwrap(), json!(3));
        assert_eq!(index(&v["items"], &json!(5)).unwrap(), Value::Null);
        assert_eq!(index(&json!("abc"), &json!(1)).unwrap(), json!("b"));
        let mut t = Value::Null;
        set_field(&mut t, "a", json!(1)).unwrap();
        set_field(&mut t, "A", json!(2)).unwrap();
        assert_eq!(t, json!({"a": 2}));
        let mut list = json!([1]);
        set_index(&mut list, &json!(1), json!(2)).unwrap();
        set_index(&mut list, &json!(0), json!(0)).unwrap();
        assert_eq!(list, json!([0, 2]));
        assert!(set_index(&mut list, &json!(5), json!(0)).is_err());
        assert_eq!(parse_number(" 2.5 "), Some(Num::Float(2.5)));
        assert_eq!(parse_number("1e5"), None);
    }
}
