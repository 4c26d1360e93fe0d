//! `HEAR` in a workflow (LANGUAGE.md §3): a durable wait for the next
//! message sent to the run (`botflow runs send ID TEXT`, [`crate::Runtime::send_message`]).
//!
//! Messages are consumed once, like events: the message id rides on the
//! durable point that records the answer. `AS TYPE` / `AS "a,b,c"` check the
//! message; the language page does not say what an invalid answer does, so
//! botflow consumes it (in the point that keeps waiting), records a
//! `hear_invalid` journal entry, tells the conversation what it expects (a
//! `TALK` line) and keeps waiting for the next message.
//!
//! Types: `STRING`/`TEXT`/`NAME` take anything non-empty; `INTEGER`;
//! `NUMBER`/`MONEY`/`DOUBLE` (a number, answered as one); `BOOLEAN` (yes/no,
//! true/false, sim/não, 1/0); `DATE` (ISO `YYYY-MM-DD`, answered as written);
//! `EMAIL`; `MOBILE`/`PHONE` (7 to 15 digits, with `+ ( ) - .` and spaces).
//! Any other type name takes the message as text.

use engine::value::{Num, parse_number};
use engine::{ErrorValue, Request, RequestKind};
use serde_json::{Value, json};
use store::{DurablePoint, Store, Wait};

use super::approvals::Next;
use super::{Driver, journal};
use crate::Result;
use crate::progress::Progress;

impl Driver {
    /// Looks for the next message a `HEAR` request takes, and decides what this pass does.
    pub(super) async fn hear(
        &mut self,
        request: &Request,
        point: &mut DurablePoint,
    ) -> Result<Next> {
        let RequestKind::Hear { as_type, choices } = &request.kind else {
            return Ok(Next::Ready(Err(ErrorValue::new("runtime", "not a HEAR"))));
        };
        loop {
            let found = self
                .inner
                .store
                .next_message(&self.run, self.taken.iter().cloned().collect())
                .await?;
            let Some(message) = found else {
                self.waits.push(Wait::Message);
                return Ok(Next::Waiting(None));
            };
            self.taken.insert(message.id.clone());
            match check(&message.text, as_type.as_deref(), choices.as_ref()) {
                Ok(value) => {
                    self.pending.consumed.push(message.id.clone());
                    // With the consumption, in the point that records the answer.
                    self.pending.journal.push(journal(
                        "heard",
                        json!({"path": request.path, "message": message.id}),
                    ));
                    return Ok(Next::Ready(Ok(value)));
                }
                Err(expected) => {
                    // Consumed by the point that keeps waiting, with what it said.
                    point.consumed.push(message.id.clone());
                    point.journal.push(journal(
                        "hear_invalid",
                        json!({"path": request.path, "message": message.id,
                               "text": message.text, "expected": expected}),
                    ));
                    let text = format!("Please answer with {expected}.");
                    point.journal.push(journal(
                        "talk",
                        json!({"bot": self.bot, "to": null, "text": text}),
                    ));
                    self.pending.progress.push(Progress::Talk {
                        run: self.run.clone(),
                        bot: self.bot.clone(),
                        text,
                    });
                }
            }
        }
    }
}

/// The value `HEAR` answers for `text`, or what was expected instead.
pub(crate) fn check(
    text: &str,
    as_type: Option<&str>,
    choices: Option<&Value>,
) -> std::result::Result<Value, String> {
    let trimmed = text.trim();
    if let Some(choices) = choices {
        let options: Vec<String> = match choices {
            Value::Array(items) => items.iter().map(engine::value::to_text).collect(),
            other => vec![engine::value::to_text(other)],
        };
        return options
            .iter()
            .find(|o| o.trim().eq_ignore_ascii_case(trimmed))
            .map(|o| Value::from(o.trim()))
            .ok_or_else(|| format!("one of: {}", options.join(", ")));
    }
    let Some(kind) = as_type else {
        return Ok(Value::from(text));
    };
    match kind.to_ascii_uppercase().as_str() {
        "STRING" | "TEXT" | "NAME" if !trimmed.is_empty() => Ok(Value::from(text)),
        "STRING" | "TEXT" | "NAME" => Err("some text".to_owned()),
        "INTEGER" | "INT" | "LONG" => match parse_number(trimmed) {
            Some(Num::Int(i)) => Ok(Value::from(i)),
            _ => Err("a whole number".to_owned()),
        },
        "NUMBER" | "MONEY" | "DOUBLE" | "DECIMAL" | "CURRENCY" => parse_number(trimmed)
            .and_then(|n| n.to_value().ok())
            .ok_or_else(|| "a number".to_owned()),
        "BOOLEAN" | "BOOL" => match trimmed.to_lowercase().as_str() {
            "yes" | "y" | "true" | "sim" | "s" | "1" => Ok(Value::Bool(true)),
            "no" | "n" | "false" | "não" | "nao" | "0" => Ok(Value::Bool(false)),
            _ => Err("yes or no".to_owned()),
        },
        "DATE" => engine::time::parse_iso(trimmed)
            .map(|_| Value::from(trimmed))
            .ok_or_else(|| "a date (YYYY-MM-DD)".to_owned()),
        "EMAIL" => {
            let ok = trimmed.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }) && !trimmed.contains(char::is_whitespace);
            if ok {
                Ok(Value::from(trimmed))
            } else {
                Err("an e-mail address".to_owned())
            }
        }
        "MOBILE" | "PHONE" => {
            let digits = trimmed.chars().filter(char::is_ascii_digit).count();
            let ok = (7..=15).contains(&digits)
                && trimmed
                    .chars()
                    .all(|c| c.is_ascii_digit() || "+()-. ".contains(c));
            if ok {
                Ok(Value::from(trimmed))
            } else {
                Err("a phone number".to_owned())
            }
        }
        _ => Ok(Value::from(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::check;
    use serde_json::json;

    #[test]
    fn types_accept_and_refuse_as_documented() {
        let cases = [
            ("42", Some("INTEGER"), Ok(json!(42))),
            ("4.2", Some("INTEGER"), Err(())),
            (" 4.5 ", Some("NUMBER"), Ok(json!(4.5))),
            ("abc", Some("NUMBER"), Err(())),
            ("Sim", Some("BOOLEAN"), Ok(json!(true))),
            ("maybe", Some("BOOLEAN"), Err(())),
            ("2026-01-31", Some("DATE"), Ok(json!("2026-01-31"))),
            ("31/01", Some("DATE"), Err(())),
            ("a@b.com", Some("EMAIL"), Ok(json!("a@b.com"))),
            ("a@b", Some("EMAIL"), Err(())),
            (
                "+55 (11) 99999-0000",
                Some("MOBILE"),
                Ok(json!("+55 (11) 99999-0000")),
            ),
            ("12", Some("MOBILE"), Err(())),
            ("  ", Some("STRING"), Err(())),
            ("anything", Some("WHATEVER"), Ok(json!("anything"))),
            ("anything", None, Ok(json!("anything"))),
        ];
        for (text, kind, want) in cases {
            let got = check(text, kind, None).map_err(|_| ());
            assert_eq!(got, want, "{text:?} AS {kind:?}");
        }
        let choices = json!(["Red", "Blue"]);
        assert_eq!(check(" blue ", None, Some(&choices)), Ok(json!("Blue")));
        assert_eq!(
            check("green", None, Some(&choices)),
            Err("one of: Red, Blue".to_owned())
        );
    }
}
