//! What a waiting run waits for, as `botflow run` (exit code 3) and
//! `botflow runs show` print it, and the approval prompt of `botflow run`
//! on a terminal.

use std::io::{self, BufRead, Write};

use runtime::{RunView, WaitFor, WaitView};

/// One wait as lines: the description, then the commands that continue the
/// run (indented by the caller). `extra` is appended to each `botflow`
/// command that needs the deployment and database (`--bots ... --db ...`).
pub(crate) fn lines(run: &str, wait: &WaitView, extra: &str) -> (String, Vec<String>) {
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" {extra}")
    };
    let follow = match &wait.what {
        WaitFor::Approval { commands, .. } => commands
            .iter()
            .flat_map(|approve| {
                let deny = approve.replacen("botflow approve", "botflow deny", 1);
                [format!("{approve}{extra}"), format!("{deny}{extra}")]
            })
            .collect(),
        WaitFor::Event { name, key } => {
            let key = key
                .as_ref()
                .map(|k| format!(" --key {k}"))
                .unwrap_or_default();
            vec![format!(
                "`botflow events publish {name}{key}{extra}` continues it"
            )]
        }
        WaitFor::Handler { name } => {
            vec![format!("`botflow events publish {name}{extra}` runs it")]
        }
        WaitFor::Message { .. } => {
            vec![format!(
                "`botflow runs send {run} TEXT{extra}` continues it"
            )]
        }
        WaitFor::Timer | WaitFor::Retry { .. } => {
            vec!["`botflow worker` (or `botflow resume` after that time) continues it".to_owned()]
        }
    };
    (wait.describe(), follow)
}

/// Prints, on stderr, what the waiting run waits for (after `botflow run`
/// exits with code 3).
pub(crate) fn print_for_run(view: &RunView, extra: &str) {
    if view.waits.is_empty() {
        errln!("run {} waits, for nothing it can name", view.id);
    }
    for wait in &view.waits {
        let (head, follow) = lines(&view.id, wait, extra);
        errln!("run {} waits for {head}", view.id);
        for line in follow {
            errln!("  {line}");
        }
    }
}

/// Prints, on stdout, the "waiting for" section of `botflow runs show`.
pub(crate) fn print_for_show(view: &RunView) -> io::Result<()> {
    outln!("\nwaiting for")?;
    if view.waits.is_empty() {
        outln!("  nothing it can name")?;
    }
    for wait in &view.waits {
        let (head, follow) = lines(&view.id, wait, "");
        outln!("  {head}")?;
        for line in follow {
            outln!("    {line}")?;
        }
    }
    Ok(())
}

/// What the operator answered at the prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Choice {
    Approve,
    Deny,
    Skip,
}

/// How many unusable answers the prompt takes before it skips.
const MAX_TRIES: usize = 3;

/// Asks `approve or deny request <id> as <who>? [a/d/skip]` until the answer
/// is usable. End of input, or [`MAX_TRIES`] unusable answers, skip.
pub(crate) fn ask(
    input: &mut impl BufRead,
    output: &mut impl Write,
    request: &str,
    who: &str,
) -> io::Result<Choice> {
    for _ in 0..MAX_TRIES {
        write!(
            output,
            "approve or deny request {request} as {who}? [a/d/skip] "
        )?;
        output.flush()?;
        let mut answer = String::new();
        if input.read_line(&mut answer)? == 0 {
            writeln!(output)?;
            return Ok(Choice::Skip);
        }
        match answer.trim().to_ascii_lowercase().as_str() {
            "a" | "approve" => return Ok(Choice::Approve),
            "d" | "deny" => return Ok(Choice::Deny),
            "s" | "skip" => return Ok(Choice::Skip),
            _ => writeln!(output, "answer a (approve), d (deny) or skip")?,
        }
    }
    Ok(Choice::Skip)
}

/// The first approval the prompt can ask about, with who decides: the first
/// addressed approver who is not the run's starter and was not asked yet.
pub(crate) fn next_question(
    view: &RunView,
    started_by: &str,
    asked: &[(String, String)],
) -> Option<(String, String)> {
    view.waits.iter().find_map(|wait| match &wait.what {
        WaitFor::Approval { id, approvers, .. } => approvers
            .iter()
            .find(|who| {
                who.as_str() != started_by && !asked.iter().any(|(i, w)| i == id && w == *who)
            })
            .map(|who| (id.clone(), who.clone())),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn ask_with(typed: &str) -> (Choice, String) {
        let mut output = Vec::new();
        let choice = ask(&mut Cursor::new(typed), &mut output, "r:1", "boss@x.com")
            .expect("writes to a Vec");
        (choice, String::from_utf8_lossy(&output).into_owned())
    }

    #[test]
    fn the_prompt_reads_the_operators_answer() {
        let cases = [
            ("a\n", Choice::Approve, 1),
            ("approve\n", Choice::Approve, 1),
            ("D\n", Choice::Deny, 1),
            ("skip\n", Choice::Skip, 1),
            ("", Choice::Skip, 1),
            ("maybe\nd\n", Choice::Deny, 2),
            ("x\ny\nz\na\n", Choice::Skip, 3),
        ];
        for (typed, expected, prompts) in cases {
            let (choice, shown) = ask_with(typed);
            assert_eq!(choice, expected, "{typed:?}");
            assert_eq!(
                shown
                    .matches("approve or deny request r:1 as boss@x.com? [a/d/skip]")
                    .count(),
                prompts,
                "{typed:?}: {shown}"
            );
        }
    }
}
