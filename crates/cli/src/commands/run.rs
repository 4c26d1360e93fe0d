//! `botflow run PATH`: start a workflow run and drive it to its end, with
//! live progress on a terminal.
//!
//! PATH is a `.bas` file, a `.gbai` package or a folder of packages; the
//! packages around the workflow are the bots it asks. Before the new run,
//! runs left `running` by a process that died are resumed alongside it.
//!
//! Exit code 0 completed, 1 failed/rejected/cancelled (or the run could not
//! start), 3 still waiting, 2 unusable arguments (nothing written). A run
//! left waiting prints what it waits for and until when (`waits.rs`): for an
//! approval who must decide and the exact `botflow approve` / `botflow deny`
//! commands. On a terminal, a pending approval is asked about first
//! (`--no-prompt` turns that off).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bots::{Deployment, Script};
use runtime::{Runtime, Workflow};
use serde_json::Value;

use crate::UsageError;
use crate::progress::Display;
use crate::report::{Color, Format, Reporter};
use crate::runner::{self, DbArgs};

pub(crate) mod waits;

/// Run a workflow and wait for it to finish.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A `.bas` file, a `.gbai` package, or a folder of packages.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,

    /// Which workflow, when the packages declare several.
    #[arg(long, value_name = "NAME")]
    pub workflow: Option<String>,

    /// The run's input: a JSON object whose keys become its first variables.
    /// `--input @FILE` reads the JSON from a file and `--input -` from stdin
    /// (for inputs too large for a command line). At most 2 MiB of compact JSON.
    #[arg(long, value_name = "JSON|@FILE|-")]
    pub input: Option<String>,

    /// The run id; starting the same id again returns that run. Up to 128
    /// letters, digits and `- _ . :` (default: a fresh UUID v7).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,

    /// Who starts the run (default: $BOTFLOW_USER, else the OS user); they
    /// may not approve the run's own approval requests.
    #[arg(long = "as", value_name = "WHO")]
    pub who: Option<String>,

    #[command(flatten)]
    pub db: DbArgs,

    /// Print only the finished run as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,

    /// Sleep through timers (`DELAY`, `WAIT`, retry back-off) due within
    /// this many seconds; a later timer leaves the run waiting (exit code 3)
    /// for `botflow worker` or `botflow resume`.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub wait_timers: u64,

    /// Never ask on the terminal to approve or deny a pending approval
    /// (without a terminal on stdin and stdout nothing is asked anyway).
    #[arg(long)]
    pub no_prompt: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let input = parse_input(args.input.as_deref())?;
    if let Some(id) = &args.id
        && let Err(runtime::Error::InvalidRunId { reason, .. }) = runtime::check_run_id(id)
    {
        return Err(UsageError(format!("--id {id:?} cannot be used: {reason}")).into());
    }
    let (deployment, script) = locate(&args.path)?;
    runner::block_on(async move {
        let store = runner::open_store(&args.db).await?;
        let rt = runner::runtime(store, deployment)?;
        let workflow = match script {
            Some((bot, script)) => Workflow::from_script(&bot, script),
            None => rt.workflow(args.workflow.as_deref())?,
        };
        let started_by = crate::commands::approvals::identity(args.who);
        let db_from_env = ["BOTFLOW_DB", "BOTFLOW_DATABASE_URL"]
            .iter()
            .any(|name| std::env::var(name).is_ok_and(|value| value == args.db.db));
        let extra = continue_args(
            &rt.deployment().root.display().to_string(),
            &args.db.db,
            db_from_env,
        );
        let start = Start {
            input,
            id: args.id,
            started_by,
            decide_extra: extra,
        };
        let wait_timers = std::time::Duration::from_secs(args.wait_timers);
        let prompt =
            !args.no_prompt && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        let code = start_and_drive(&rt, &workflow, start, args.json, wait_timers, prompt).await;
        rt.store().close().await;
        code
    })
}

/// The `--bots … --db …` appended to the printed commands that continue a
/// waiting run, each value quoted for a POSIX shell. The database is left
/// out when it is the default or came from the environment (the shell that
/// runs the command passes it again), and a password in its URL is printed
/// as `***`: a terminal or a CI log is no place for it.
fn continue_args(bots: &str, db: &str, db_from_env: bool) -> String {
    let quote = |value: &str| {
        // Only a NUL byte cannot be quoted, and no path or URL holds one.
        shlex::try_quote(value).map_or_else(|_| value.to_owned(), |quoted| quoted.into_owned())
    };
    let mut args = format!("--bots {}", quote(bots));
    if db != "botflow.db" && !db_from_env {
        args.push_str(&format!(" --db {}", quote(&store::redact_url(db))));
    }
    args
}

/// What starts the run.
struct Start {
    input: Value,
    id: Option<String>,
    started_by: String,
    /// Appended to the printed approve/deny commands (`--bots ... --db ...`).
    decide_extra: String,
}

async fn start_and_drive(
    rt: &Runtime,
    workflow: &Workflow,
    start: Start,
    json: bool,
    wait_timers: std::time::Duration,
    prompt: bool,
) -> anyhow::Result<ExitCode> {
    // Runs a dead process left behind continue alongside the new one.
    let leftovers = rt.claim_due().await?;
    let mut background = tokio::task::JoinSet::new();
    for record in leftovers {
        let rt = rt.clone();
        background.spawn(async move { rt.drive_claimed(record).await });
    }

    let started = rt
        .start_by(
            workflow,
            start.input,
            start.id,
            Some(start.started_by.clone()),
        )
        .await;
    let (record, created) = match started {
        Ok(started) => started,
        Err(runtime::Error::Check {
            file,
            source_text,
            diagnostics,
        }) => {
            let mut reporter = Reporter::new(Format::Human, Color::Auto);
            reporter.diagnostics(&file, &source_text, &diagnostics);
            let summary = reporter.summary(1);
            reporter.note(&format!("{summary}; the run was not started"));
            reporter.finish()?;
            return Ok(ExitCode::FAILURE);
        }
        // Refused before anything was written: the arguments cannot be used.
        Err(error @ (runtime::Error::TooLarge { .. } | runtime::Error::InvalidRunId { .. })) => {
            return Err(UsageError(error.to_string()).into());
        }
        Err(error) => return Err(error.into()),
    };
    let display = (!json).then(|| {
        Display::start(
            rt.subscribe(),
            &record.id,
            &workflow.name,
            created,
            std::io::stderr().is_terminal(),
        )
    });
    let mut driven = if record.status.is_terminal() {
        Ok(record.status)
    } else {
        rt.run_with_timers(&record.id, wait_timers).await
    };
    if prompt {
        let bars = display.as_ref().map(Display::bars);
        driven = ask_and_drive(rt, &record.id, &start.started_by, wait_timers, bars, driven).await;
    }
    while background.join_next().await.is_some() {}
    let view = match driven {
        Ok(_) => rt.view(&record.id).await?,
        // Driving stopped with an error; a run that ended all the same (its
        // failure recorded) is still shown, with the error on stderr.
        Err(error) => match rt.view(&record.id).await {
            Ok(view) if view.status.is_terminal() => {
                errln!("botflow: {error}");
                view
            }
            _ => return Err(error.into()),
        },
    };
    let status = view.status;
    match display {
        Some(display) => display.finish(&view).await?,
        None => {
            outln!("{}", serde_json::to_string_pretty(&view)?)?;
            // stdout is for the JSON; say why a run did not complete on stderr.
            if let Some(error) = &view.error {
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("(no message)");
                errln!("run {} {status}: {message}", view.id);
            }
        }
    }
    if status == store::RunStatus::Waiting {
        waits::print_for_run(&view, &start.decide_extra);
    }
    Ok(runner::exit_code(status))
}

/// While the run waits on an approval someone other than its starter may
/// decide, asks the operator (on the terminal), records the decision with
/// [`Runtime::decide`] and keeps driving. Each approver is asked once per
/// request; `skip` (or end of input) stops asking.
async fn ask_and_drive(
    rt: &Runtime,
    id: &str,
    started_by: &str,
    wait_timers: std::time::Duration,
    bars: Option<indicatif::MultiProgress>,
    mut driven: runtime::Result<store::RunStatus>,
) -> runtime::Result<store::RunStatus> {
    let mut asked: Vec<(String, String)> = Vec::new();
    while matches!(driven, Ok(store::RunStatus::Waiting)) {
        let view = rt.view(id).await?;
        let Some((request, who)) = waits::next_question(&view, started_by, &asked) else {
            break;
        };
        asked.push((request.clone(), who.clone()));
        let (request_for_prompt, who_for_prompt) = (request.clone(), who.clone());
        let bars = bars.clone();
        // The terminal is read on a blocking thread: the runtime's tasks
        // (the group committer) keep running meanwhile. The progress bars
        // are hidden while asking, so no spinner draws over the question.
        let choice = tokio::task::spawn_blocking(move || {
            let ask = || {
                waits::ask(
                    &mut std::io::stdin().lock(),
                    &mut std::io::stderr().lock(),
                    &request_for_prompt,
                    &who_for_prompt,
                )
            };
            match bars {
                Some(bars) => bars.suspend(ask),
                None => ask(),
            }
        })
        .await;
        let approve = match choice {
            Ok(Ok(waits::Choice::Approve)) => true,
            Ok(Ok(waits::Choice::Deny)) => false,
            Ok(Ok(waits::Choice::Skip)) | Ok(Err(_)) | Err(_) => break,
        };
        if let Err(error) = rt.decide(&request, approve, &who, None, "cli").await {
            errln!("botflow: {error}");
            break;
        }
        driven = rt.run_with_timers(id, wait_timers).await;
    }
    driven
}

/// The most `--input @FILE` or `--input -` reads: room for pretty-printed
/// JSON whose compact form fits the limit, without reading a huge file whole.
const MAX_INPUT_TEXT: u64 = 8 * store::MAX_VALUE_BYTES as u64;

/// The `--input` object (given inline, as `@FILE` or `-` for stdin);
/// anything else is an unusable argument.
fn parse_input(arg: Option<&str>) -> anyhow::Result<Value> {
    let Some(arg) = arg else {
        return Ok(Value::Object(Default::default()));
    };
    let (source, text) = match arg {
        "-" => (
            "--input - (stdin)".to_owned(),
            read_input(std::io::stdin().lock(), "stdin")?,
        ),
        _ => match arg.strip_prefix('@') {
            Some(path) => (format!("--input {arg}"), read_input_file(Path::new(path))?),
            None => ("--input".to_owned(), arg.to_owned()),
        },
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| UsageError(format!("{source} is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(UsageError(format!(
            "{source} must be a JSON object, like '{{\"order_amount\": 50}}'"
        ))
        .into());
    }
    let bytes = serde_json::to_string(&value).map_or(0, |t| t.len());
    if bytes > store::MAX_VALUE_BYTES {
        return Err(UsageError(format!(
            "{source} is {bytes} bytes as compact JSON, above the limit of {} bytes \
             for the run's input",
            store::MAX_VALUE_BYTES
        ))
        .into());
    }
    Ok(value)
}

fn read_input_file(path: &Path) -> anyhow::Result<String> {
    let unreadable = |e: &std::io::Error| {
        UsageError(format!(
            "--input @{}: cannot read {}: {}",
            path.display(),
            path.display(),
            crate::inputs::io_reason(e)
        ))
    };
    if path.as_os_str().is_empty() {
        return Err(UsageError("--input @FILE needs a file name after the @".to_owned()).into());
    }
    if path.is_dir() {
        return Err(UsageError(format!(
            "--input @{}: {} is a folder, not a file of JSON",
            path.display(),
            path.display()
        ))
        .into());
    }
    let file = std::fs::File::open(path).map_err(|e| unreadable(&e))?;
    read_input(file, &path.display().to_string())
}

/// Reads JSON text for `--input`, refusing more than [`MAX_INPUT_TEXT`].
fn read_input(reader: impl std::io::Read, from: &str) -> anyhow::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    reader
        .take(MAX_INPUT_TEXT + 1)
        .read_to_string(&mut text)
        .map_err(|e| {
            let reason = if e.kind() == std::io::ErrorKind::InvalidData {
                "it is not valid UTF-8".to_owned()
            } else {
                crate::inputs::io_reason(&e)
            };
            UsageError(format!("--input: cannot read {from}: {reason}"))
        })?;
    if text.len() as u64 > MAX_INPUT_TEXT {
        return Err(UsageError(format!(
            "--input: {from} holds more than {MAX_INPUT_TEXT} bytes; the run's input may be \
             at most {} bytes of compact JSON",
            store::MAX_VALUE_BYTES
        ))
        .into());
    }
    Ok(text)
}

/// The deployment and, for a script path, the script and the bot it acts as.
fn locate(path: &Path) -> anyhow::Result<(Deployment, Option<(String, Script)>)> {
    let metadata = std::fs::metadata(path).map_err(|e| {
        UsageError(format!(
            "cannot read {}: {}",
            path.display(),
            crate::inputs::io_reason(&e)
        ))
    })?;
    if metadata.is_file() {
        if !bots::layout::is_script_file(path) {
            return Err(UsageError(format!(
                "{} is not a .bas script, a .gbai package or a folder of packages",
                path.display()
            ))
            .into());
        }
        // A script inside `<x>.gbai/<x>.gbdialog/` acts as bot x, with the
        // packages beside x.gbai as its bots.
        let package_dir = path
            .parent()
            .and_then(Path::parent)
            .filter(|p| bots::layout::package_name(p).is_some());
        if let Some(package_dir) = package_dir {
            let deployment = package_deployment(package_dir)?;
            let bot = bots::layout::package_name(package_dir)
                .unwrap_or_default()
                .to_owned();
            let source = read_script(path)?;
            return Ok((deployment, Some((bot, Script::new(path, source)))));
        }
        let bot = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("script")
            .to_owned();
        let source = read_script(path)?;
        let root = path.parent().unwrap_or(Path::new("."));
        return Ok((
            runtime::empty_deployment(root),
            Some((bot, Script::new(path, source))),
        ));
    }
    if bots::layout::package_name(path).is_some() {
        let deployment = package_deployment(path)?;
        let package = bots::load_package(path)?;
        let mut workflows = package.workflows();
        let Some(first) = workflows.first().cloned() else {
            return Err(anyhow::anyhow!(
                "package {} declares no ORCHESTRATE WORKFLOW",
                path.display()
            ));
        };
        if workflows.len() > 1 {
            workflows.clear();
            // Several: let the runtime pick by --workflow within the deployment.
            return Ok((deployment, None));
        }
        let script = package
            .script(&first.script)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("the script {} went missing", first.script))?;
        return Ok((deployment, Some((package.name.clone(), script))));
    }
    Ok((bots::load_deployment(path)?, None))
}

/// The packages beside `package_dir`, or the package alone when its folder
/// holds no other loadable packages.
fn package_deployment(package_dir: &Path) -> anyhow::Result<Deployment> {
    match package_dir.parent().map(bots::load_deployment) {
        Some(Ok(deployment)) => Ok(deployment),
        _ => Ok(bots::load_deployment(package_dir)?),
    }
}

fn read_script(path: &Path) -> anyhow::Result<String> {
    match crate::source::read(path) {
        Ok(crate::source::Source::Text(text)) => Ok(text),
        Ok(crate::source::Source::NotUtf8 { .. }) => Err(anyhow::anyhow!(
            "{} is not valid UTF-8; run `botflow check` on it",
            path.display()
        )),
        Err(message) => Err(anyhow::anyhow!("{}: {message}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::continue_args;

    #[test]
    fn the_default_database_and_one_from_the_environment_are_not_repeated() {
        assert_eq!(continue_args("bots", "botflow.db", false), "--bots bots");
        assert_eq!(
            continue_args("bots", "postgres://u:secret@db/test", true),
            "--bots bots"
        );
    }

    #[test]
    fn a_shell_reads_back_each_path_and_url_whole_without_a_password() {
        let args = continue_args(
            "my bots/$HOME",
            "postgres://u:secret@db/test?sslmode=disable&x=1",
            false,
        );
        assert_eq!(
            shlex::split(&args).expect("shell words"),
            [
                "--bots",
                "my bots/$HOME",
                "--db",
                "postgres://u:***@db/test?sslmode=disable&x=1"
            ]
        );
        let args = continue_args("bots", "run's.db", false);
        assert_eq!(
            shlex::split(&args).expect("shell words"),
            ["--bots", "bots", "--db", "run's.db"]
        );
    }
}
