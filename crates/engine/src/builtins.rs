//! The built-in functions of LANGUAGE.md §2.
//!
//! Which names exist, and how many arguments each takes, is
//! [`basic::builtins::BUILTINS`]; this module gives each its meaning. `NOW`,
//! `TODAY` and `UUID` read the [`Inputs`] instead of a clock or a random source,
//! which is what keeps the engine deterministic.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::{self, Instant, Unit};
use crate::value::{
    self, Num, OpResult, compare, equals, float_value, parse_number, to_num, to_text, type_name,
};

/// Where the values of `UUID()` come from: a per-run seed and a counter, both
/// kept in the run's state, so a resumed run continues the same sequence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UuidSource {
    /// Derived from the run id.
    pub seed: u64,
    /// How many ids the run has drawn.
    pub issued: u64,
}

impl UuidSource {
    /// A source seeded from a text (the run id): distinct runs get distinct ids.
    pub fn from_seed_text(text: &str) -> UuidSource {
        // FNV-1a: stable across platforms and releases, unlike std's hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        UuidSource {
            seed: hash,
            issued: 0,
        }
    }

    /// The next id, shaped as a UUID version 7: the time in its first 48 bits,
    /// then bits drawn from the seed and the count of ids issued so far.
    pub fn next(&mut self, now_ms: i64) -> String {
        self.issued += 1;
        let a = splitmix(self.seed ^ splitmix(self.issued));
        let b = splitmix(a);
        let ms = (now_ms.max(0) as u64) & 0xffff_ffff_ffff;
        let rand_a = a & 0x0fff;
        let rand_b = b & 0x3fff_ffff_ffff_ffff;
        format!(
            "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
            ms >> 16,
            ms & 0xffff,
            rand_a,
            0x8000 | (rand_b >> 48),
            rand_b & 0xffff_ffff_ffff
        )
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What the time and id functions read.
pub struct Inputs<'a> {
    /// The current time, epoch milliseconds, as the runtime passed it to `advance`.
    pub now_ms: i64,
    pub uuids: &'a mut UuidSource,
}

/// Calls the built-in `name` (any case). `None` when no built-in has that name.
pub fn call(name: &str, args: &[Value], inputs: &mut Inputs<'_>) -> Option<OpResult<Value>> {
    let builtin = basic::builtins::builtin(name)?;
    if !builtin.accepts(args.len()) {
        return Some(Err(format!(
            "{} takes {}, not {}",
            builtin.name,
            builtin.arity(),
            args.len()
        )));
    }
    Some(dispatch(builtin.name, args, inputs).map_err(|e| format!("{}: {e}", builtin.name)))
}

fn text_arg(args: &[Value], i: usize) -> String {
    args.get(i).map(to_text).unwrap_or_default()
}

fn int_arg(args: &[Value], i: usize) -> OpResult<i64> {
    let value = args.get(i).unwrap_or(&Value::Null);
    match to_num(value)? {
        Num::Int(n) => Ok(n),
        Num::Float(f) if f.is_finite() => Ok(f.trunc() as i64),
        Num::Float(_) => Err(format!("{} is not a whole number", to_text(value))),
    }
}

fn count(n: i64) -> usize {
    usize::try_from(n.max(0)).unwrap_or(usize::MAX)
}

fn dispatch(name: &str, args: &[Value], inputs: &mut Inputs<'_>) -> OpResult<Value> {
    let arg = |i: usize| args.get(i).unwrap_or(&Value::Null);
    Ok(match name {
        "LEN" => Value::from(match arg(0) {
            Value::Null => 0,
            Value::Array(items) => items.len(),
            Value::Object(map) => map.len(),
            other => to_text(other).chars().count(),
        }),
        "UPPER" => Value::from(text_arg(args, 0).to_uppercase()),
        "LOWER" => Value::from(text_arg(args, 0).to_lowercase()),
        "TRIM" => Value::from(text_arg(args, 0).trim()),
        "LEFT" => Value::from(
            text_arg(args, 0)
                .chars()
                .take(count(int_arg(args, 1)?))
                .collect::<String>(),
        ),
        "RIGHT" => {
            let chars: Vec<char> = text_arg(args, 0).chars().collect();
            let n = count(int_arg(args, 1)?).min(chars.len());
            Value::from(chars[chars.len() - n..].iter().collect::<String>())
        }
        "MID" => {
            let start = count(int_arg(args, 1)? - 1);
            let text = text_arg(args, 0);
            let chars = text.chars().skip(start);
            Value::from(match args.get(2) {
                Some(_) => chars.take(count(int_arg(args, 2)?)).collect::<String>(),
                None => chars.collect(),
            })
        }
        "REPLACE" => {
            let find = text_arg(args, 1);
            let text = text_arg(args, 0);
            Value::from(if find.is_empty() {
                text
            } else {
                text.replace(&find, &text_arg(args, 2))
            })
        }
        "SPLIT" => {
            let text = text_arg(args, 0);
            let sep = text_arg(args, 1);
            let parts: Vec<Value> = if text.is_empty() {
                Vec::new()
            } else if sep.is_empty() {
                text.chars().map(|c| Value::from(c.to_string())).collect()
            } else {
                text.split(&sep).map(Value::from).collect()
            };
            Value::Array(parts)
        }
        "JOIN" => {
            let sep = if args.len() > 1 {
                text_arg(args, 1)
            } else {
                ",".to_owned()
            };
            match arg(0) {
                Value::Array(items) => {
                    Value::from(items.iter().map(to_text).collect::<Vec<_>>().join(&sep))
                }
                Value::Null => Value::from(""),
                other => return Err(format!("needs a list, not {}", type_name(other))),
            }
        }
        "CONTAINS" => Value::Bool(match arg(0) {
            Value::Array(items) => items.iter().any(|item| equals(item, arg(1))),
            Value::Object(map) => map.contains_key(&text_arg(args, 1)),
            Value::Null => false,
            other => to_text(other).contains(&text_arg(args, 1)),
        }),
        "STARTSWITH" => Value::Bool(text_arg(args, 0).starts_with(&text_arg(args, 1))),
        "FORMAT" => format(arg(0), args.get(1).map(to_text))?,
        "VAL" => val(arg(0)),
        "STR" => Value::from(to_text(arg(0))),
        "INT" => match to_num(arg(0))? {
            Num::Int(i) => Value::from(i),
            Num::Float(f) => float_value(f.floor())?,
        },
        "ROUND" => {
            let digits = if args.len() > 1 { int_arg(args, 1)? } else { 0 };
            match to_num(arg(0))? {
                Num::Int(i) if digits >= 0 => Value::from(i),
                n => {
                    let scale = 10f64.powi(i32::try_from(digits.clamp(-15, 15)).unwrap_or(0));
                    float_value((n.as_f64() * scale).round() / scale)?
                }
            }
        }
        "ABS" => match to_num(arg(0))? {
            Num::Int(i) => i
                .checked_abs()
                .map_or_else(|| float_value((i as f64).abs()), |a| Ok(Value::from(a)))?,
            Num::Float(f) => float_value(f.abs())?,
        },
        "MIN" | "MAX" => extreme(args, name == "MAX")?,
        "NOW" => Value::from(time::format_iso(Instant {
            ms: inputs.now_ms,
            date_only: false,
        })),
        "TODAY" => Value::from(time::format_iso(Instant {
            ms: inputs.now_ms,
            date_only: true,
        })),
        "DATEADD" => {
            let date = instant(arg(0))?;
            let unit = unit(arg(2))?;
            let moved =
                time::add(date, int_arg(args, 1)?, unit).ok_or("the date is out of range")?;
            Value::from(time::format_iso(moved))
        }
        "DATEDIFF" => {
            let unit = if args.len() > 2 {
                unit(arg(2))?
            } else {
                Unit::Day
            };
            Value::from(time::diff(instant(arg(0))?, instant(arg(1))?, unit))
        }
        "JSON" => Value::from(arg(0).to_string()),
        "PARSE_JSON" => match arg(0) {
            Value::String(text) => {
                serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?
            }
            other => other.clone(),
        },
        "KEYS" => match arg(0) {
            Value::Object(map) => Value::Array(map.keys().cloned().map(Value::from).collect()),
            Value::Null => Value::Array(Vec::new()),
            other => return Err(format!("needs an object, not {}", type_name(other))),
        },
        "FIRST" | "LAST" => match arg(0) {
            Value::Array(items) => {
                let item = if name == "FIRST" {
                    items.first()
                } else {
                    items.last()
                };
                item.cloned().unwrap_or(Value::Null)
            }
            Value::String(s) => {
                let c = if name == "FIRST" {
                    s.chars().next()
                } else {
                    s.chars().last()
                };
                c.map_or(Value::Null, |c| Value::from(c.to_string()))
            }
            _ => Value::Null,
        },
        "UUID" => Value::from(inputs.uuids.next(inputs.now_ms)),
        other => return Err(format!("`{other}` has no implementation in the engine")),
    })
}

/// `VAL`: the number at the start of the text, or 0.
fn val(value: &Value) -> Value {
    if let Value::Number(_) = value {
        return value.clone();
    }
    let text = to_text(value);
    let text = text.trim();
    let mut end = 0;
    let mut seen_dot = false;
    for (i, c) in text.char_indices() {
        let ok =
            c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+')) || (c == '.' && !seen_dot);
        if !ok {
            break;
        }
        seen_dot |= c == '.';
        end = i + c.len_utf8();
    }
    parse_number(&text[..end])
        .and_then(|n| n.to_value().ok())
        .unwrap_or(Value::from(0))
}

fn extreme(args: &[Value], max: bool) -> OpResult<Value> {
    let items: &[Value] = match args {
        [Value::Array(items)] => items,
        _ => args,
    };
    let mut best: Option<&Value> = None;
    for item in items.iter().filter(|v| !v.is_null()) {
        best = match best {
            None => Some(item),
            Some(current) => {
                let order = compare(item, current)?;
                let better = order.is_some_and(|o| if max { o.is_gt() } else { o.is_lt() });
                Some(if better { item } else { current })
            }
        };
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

fn instant(value: &Value) -> OpResult<Instant> {
    match value {
        // A number is a time in epoch milliseconds.
        Value::Number(n) => match value::num_of(n) {
            Num::Int(ms) => Ok(Instant {
                ms,
                date_only: false,
            }),
            Num::Float(f) => Ok(Instant {
                ms: f as i64,
                date_only: false,
            }),
        },
        Value::String(text) => {
            time::parse_iso(text).ok_or_else(|| format!("\"{text}\" is not a date"))
        }
        other => Err(format!("{} is not a date", type_name(other))),
    }
}

fn unit(value: &Value) -> OpResult<Unit> {
    let text = to_text(value);
    Unit::parse(&text).ok_or_else(|| {
        format!("\"{text}\" is not a time unit (day, hour, minute, second, week, month, year)")
    })
}

/// `FORMAT(value, pattern)`: numbers with `0`, `#`, `,` and `.` patterns, dates
/// with `yyyy MM dd HH mm ss`; without a pattern, the value's text.
fn format(value: &Value, pattern: Option<String>) -> OpResult<Value> {
    let Some(pattern) = pattern else {
        return Ok(Value::from(to_text(value)));
    };
    let number = match value {
        Value::Number(n) => Some(value::num_of(n).as_f64()),
        Value::String(s) => parse_number(s).map(Num::as_f64),
        _ => None,
    };
    if let Some(n) = number
        && !pattern.is_empty()
        && pattern.chars().all(|c| matches!(c, '0' | '#' | ',' | '.'))
    {
        return Ok(Value::from(format_number(n, &pattern)));
    }
    if let Value::String(text) = value
        && let Some(at) = time::parse_iso(text)
    {
        return Ok(Value::from(time::format_pattern(at, &pattern)));
    }
    Ok(Value::from(to_text(value)))
}

fn format_number(n: f64, pattern: &str) -> String {
    let (int_pattern, frac_pattern) = pattern.split_once('.').unwrap_or((pattern, ""));
    let decimals = frac_pattern
        .chars()
        .filter(|c| matches!(c, '0' | '#'))
        .count();
    let min_decimals = frac_pattern.chars().filter(|c| *c == '0').count();
    let grouped = int_pattern.contains(',');
    let min_int = int_pattern.chars().filter(|c| *c == '0').count();
    // Half away from zero, as people round (Rust's formatting rounds half to even).
    let scale = 10f64.powi(i32::try_from(decimals).unwrap_or(15).min(15));
    let text = format!("{:.*}", decimals, (n.abs() * scale).round() / scale);
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    let mut frac = frac_part.to_owned();
    while frac.len() > min_decimals && frac.ends_with('0') {
        frac.pop();
    }
    let mut int_digits = int_part.trim_start_matches('0').to_owned();
    while int_digits.len() < min_int {
        int_digits.insert(0, '0');
    }
    if grouped {
        let mut out = String::new();
        for (i, c) in int_digits.chars().enumerate() {
            if i > 0 && (int_digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        int_digits = out;
    }
    let sign = if n < 0.0
        && (int_digits.chars().any(|c| c.is_ascii_digit() && c != '0')
            || frac.chars().any(|c| c != '0'))
    {
        "-"
    } else {
        ""
    };
    if int_digits.is_empty() && frac.is_empty() {
        int_digits.push('0');
    }
    if frac.is_empty() {
        format!("{sign}{int_digits}")
    } else {
        format!("{sign}{int_digits}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(name: &str, args: &[Value]) -> OpResult<Value> {
        let mut uuids = UuidSource::from_seed_text("run-1");
        let mut inputs = Inputs {
            now_ms: 1_714_558_830_000,
            uuids: &mut uuids,
        };
        call(name, args, &mut inputs).unwrap_or_else(|| Err(format!("no built-in {name}")))
    }

    #[test]
    fn text_functions() {
        assert_eq!(run("len", &[json!("héllo")]).unwrap(), json!(5));
        assert_eq!(run("LEN", &[json!([1, 2])]).unwrap(), json!(2));
        assert_eq!(run("UPPER", &[json!("abc")]).unwrap(), json!("ABC"));
        assert_eq!(run("TRIM", &[json!("  a b ")]).unwrap(), json!("a b"));
        assert_eq!(
            run("LEFT", &[json!("abcdef"), json!(2)]).unwrap(),
            json!("ab")
        );
        assert_eq!(
            run("RIGHT", &[json!("abcdef"), json!(10)]).unwrap(),
            json!("abcdef")
        );
        assert_eq!(
            run("MID", &[json!("abcdef"), json!(2), json!(3)]).unwrap(),
            json!("bcd")
        );
        assert_eq!(
            run("MID", &[json!("abcdef"), json!(4)]).unwrap(),
            json!("def")
        );
        assert_eq!(
            run("REPLACE", &[json!("a-b-c"), json!("-"), json!("+")]).unwrap(),
            json!("a+b+c")
        );
        assert_eq!(
            run("SPLIT", &[json!("a,b"), json!(",")]).unwrap(),
            json!(["a", "b"])
        );
        assert_eq!(run("JOIN", &[json!([1, "b"])]).unwrap(), json!("1,b"));
        assert_eq!(
            run("JOIN", &[json!(["a", "b"]), json!(" | ")]).unwrap(),
            json!("a | b")
        );
        assert_eq!(
            run("CONTAINS", &[json!("broken box"), json!("broken")]).unwrap(),
            json!(true)
        );
        assert_eq!(
            run("CONTAINS", &[json!([1, 2]), json!("2")]).unwrap(),
            json!(true)
        );
        assert_eq!(
            run("STARTSWITH", &[json!("ORD-1"), json!("ORD")]).unwrap(),
            json!(true)
        );
        assert!(
            run("LEFT", &[json!("a")])
                .unwrap_err()
                .contains("takes 2 arguments")
        );
    }

    #[test]
    fn number_functions() {
        assert_eq!(run("VAL", &[json!("42abc")]).unwrap(), json!(42));
        assert_eq!(run("VAL", &[json!("-1.5")]).unwrap(), json!(-1.5));
        assert_eq!(run("VAL", &[json!("x")]).unwrap(), json!(0));
        assert_eq!(run("STR", &[json!(149.9)]).unwrap(), json!("149.9"));
        assert_eq!(run("INT", &[json!(-2.5)]).unwrap(), json!(-3));
        assert_eq!(
            run("ROUND", &[json!(2.345), json!(2)]).unwrap(),
            json!(2.35)
        );
        assert_eq!(run("ROUND", &[json!(2.5)]).unwrap(), json!(3));
        assert_eq!(run("ABS", &[json!(-4)]).unwrap(), json!(4));
        assert_eq!(
            run("MIN", &[json!(3), json!("2"), json!(5)]).unwrap(),
            json!("2")
        );
        assert_eq!(run("MAX", &[json!([3, 9, 5])]).unwrap(), json!(9));
        assert_eq!(
            run("FORMAT", &[json!(1234.5), json!("#,##0.00")]).unwrap(),
            json!("1,234.50")
        );
        assert_eq!(
            run("FORMAT", &[json!(0.5), json!("0")]).unwrap(),
            json!("1")
        );
        assert_eq!(
            run("FORMAT", &[json!(-3), json!("0.0")]).unwrap(),
            json!("-3.0")
        );
        assert_eq!(
            run(
                "FORMAT",
                &[json!("2024-05-01T09:05:00Z"), json!("dd/MM/yyyy")]
            )
            .unwrap(),
            json!("01/05/2024")
        );
    }

    #[test]
    fn time_and_data_functions() {
        assert_eq!(run("NOW", &[]).unwrap(), json!("2024-05-01T10:20:30Z"));
        assert_eq!(run("TODAY", &[]).unwrap(), json!("2024-05-01"));
        assert_eq!(
            run("DATEADD", &[json!("2024-05-01"), json!(30), json!("day")]).unwrap(),
            json!("2024-05-31")
        );
        assert_eq!(
            run("DATEDIFF", &[json!("2024-05-01"), json!("2024-06-01")]).unwrap(),
            json!(31)
        );
        assert_eq!(
            run(
                "DATEDIFF",
                &[
                    json!("2024-05-01T00:00:00Z"),
                    json!("2024-05-01T05:30:00Z"),
                    json!("hours")
                ]
            )
            .unwrap(),
            json!(5)
        );
        assert!(run("DATEADD", &[json!("soon"), json!(1), json!("day")]).is_err());
        assert_eq!(
            run("JSON", &[json!({"a": [1]})]).unwrap(),
            json!("{\"a\":[1]}")
        );
        assert_eq!(
            run("PARSE_JSON", &[json!("{\"a\": 1}")]).unwrap(),
            json!({"a": 1})
        );
        assert!(run("PARSE_JSON", &[json!("{")]).is_err());
        assert_eq!(
            run("KEYS", &[json!({"b": 1, "a": 2})]).unwrap(),
            json!(["b", "a"])
        );
        assert_eq!(run("FIRST", &[json!([])]).unwrap(), Value::Null);
        assert_eq!(run("LAST", &[json!([1, 2])]).unwrap(), json!(2));
    }

    #[test]
    fn uuids_are_deterministic_per_seed_and_distinct() {
        let mut a = UuidSource::from_seed_text("run-1");
        let mut b = UuidSource::from_seed_text("run-1");
        let first = a.next(1_714_558_830_000);
        assert_eq!(first, b.next(1_714_558_830_000));
        assert_ne!(first, a.next(1_714_558_830_000));
        assert_ne!(
            first,
            UuidSource::from_seed_text("run-2").next(1_714_558_830_000)
        );
        assert_eq!(first.len(), 36);
        assert_eq!(&first[14..15], "7");
        assert!(first.starts_with("018f33ab"));
    }
}
