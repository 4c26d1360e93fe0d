//! `botflow serve --config botflow.toml`: a value comes from the flag, else
//! its environment variable, else the file, else the default; a file with an
//! unknown key or a bad value is refused with exit code 2, naming the key
//! and the file.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::botflow;

fn template() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/customer-support")
}

/// `botflow serve ARGS` in `dir` with `env`: `Ok` (the server, killed) once
/// it printed `listening on`, `Err(stderr)` when it exited first.
fn serve(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String, (i32, String)> {
    node("serve", "listening on ", dir, args, env)
}

/// `botflow COMMAND ARGS` in `dir` with `env`: `Ok` (the process, killed)
/// once it printed a line starting with `ready`, `Err(stderr)` when it
/// exited first.
fn node(
    subcommand: &str,
    ready: &str,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<String, (i32, String)> {
    let mut command = botflow();
    command
        .current_dir(dir)
        .env_remove("BOTFLOW_DATABASE_URL")
        .env_remove("BOTFLOW_CONFIG")
        .env_remove("BOTFLOW_DB")
        .env_remove("BOTFLOW_BOTS")
        .arg(subcommand)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child: Child = command.spawn().expect("botflow starts");
    let ready = ready.to_owned();
    let pipe = child.stderr.take().expect("a stderr pipe");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            seen.push_str(&line);
            seen.push('\n');
            if line.starts_with(&ready) {
                let _ = tx.send(Ok(seen.clone()));
            }
        }
        let _ = tx.send(Err(seen));
    });
    let outcome = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("botflow is ready or exits within a minute");
    match outcome {
        Ok(seen) => {
            // Our own child, by its handle.
            let _ = child.kill();
            let _ = child.wait();
            Ok(seen)
        }
        Err(seen) => {
            let status = child.wait().expect("botflow exits");
            Err((status.code().unwrap_or(-1), seen))
        }
    }
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    common::serve::copy_dir(&template(), &dir.path().join("bots"));
    std::fs::create_dir_all(dir.path().join("conf")).expect("a folder");
    std::fs::write(
        dir.path().join("conf/botflow.toml"),
        "listen = \"127.0.0.1:0\"\ndb = \"file.db\"\nbots = \"../bots\"\npoll-ms = 200\n\
         cors = [\"https://app.example.com\"]\n",
    )
    .expect("writes the config");
    dir
}

#[test]
fn flags_beat_the_environment_which_beats_the_file_which_beats_the_defaults() {
    let dir = setup();
    let d = dir.path();
    let config = d.join("conf/botflow.toml");
    let config = config.to_str().expect("UTF-8");

    // The file alone: its database (next to it) and its bots folder.
    serve(d, &["--config", config], &[]).expect("serves with the file's settings");
    assert!(
        d.join("conf/file.db").exists(),
        "the file's database is used"
    );

    // The environment beats the file.
    serve(
        d,
        &["--config", config],
        &[("BOTFLOW_DATABASE_URL", "env.db")],
    )
    .expect("serves");
    assert!(
        d.join("env.db").exists(),
        "BOTFLOW_DATABASE_URL beats the file"
    );

    // The flag beats both.
    serve(
        d,
        &["--config", config, "--db", "flag.db"],
        &[("BOTFLOW_DATABASE_URL", "env2.db")],
    )
    .expect("serves");
    assert!(d.join("flag.db").exists(), "--db beats the environment");
    assert!(
        !d.join("env2.db").exists(),
        "the environment was used over --db"
    );

    // A bots folder in the file that does not exist is overridden by --bots.
    std::fs::write(
        d.join("conf/missing-bots.toml"),
        "listen = \"127.0.0.1:0\"\nbots = \"nowhere\"\n",
    )
    .expect("writes");
    let missing = d.join("conf/missing-bots.toml");
    let missing = missing.to_str().expect("UTF-8");
    let (code, stderr) =
        serve(d, &["--config", missing, "--db", "x.db"], &[]).expect_err("no bots folder");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nowhere"), "{stderr}");
    serve(
        d,
        &["--config", missing, "--db", "x.db", "--bots", "bots"],
        &[],
    )
    .expect("--bots beats the file");

    // Without a file, the defaults: botflow.db in the working folder.
    serve(d, &["--listen", "127.0.0.1:0", "--bots", "bots"], &[]).expect("serves");
    assert!(d.join("botflow.db").exists(), "the default database");
}

#[test]
fn a_bad_config_file_is_refused_naming_the_key_and_the_file() {
    let dir = setup();
    let d = dir.path();
    let cases = [
        ("unknown.toml", "lisen = \"127.0.0.1:0\"\n", "lisen"),
        ("type.toml", "poll-ms = \"fast\"\n", "poll-ms"),
        ("range.toml", "concurrency = 0\n", "concurrency"),
        (
            "cors.toml",
            "cors = [\"app.example.com\"]\n",
            "app.example.com",
        ),
        ("syntax.toml", "listen = \n", "listen"),
    ];
    for (file, body, named) in cases {
        let path = d.join(file);
        std::fs::write(&path, body).expect("writes");
        let (code, stderr) = serve(
            d,
            &["--config", path.to_str().expect("UTF-8"), "--bots", "bots"],
            &[],
        )
        .expect_err("a bad file is refused");
        println!("{file}: {stderr}");
        assert_eq!(code, 2, "{file}: {stderr}");
        assert!(
            stderr.contains(file),
            "{file}: the file is not named: {stderr}"
        );
        assert!(
            stderr.contains(named),
            "{file}: {named} is not named: {stderr}"
        );
        assert!(
            !d.join("botflow.db").exists(),
            "{file}: a database was created"
        );
    }
    let (code, stderr) = serve(d, &["--config", "absent.toml"], &[]).expect_err("no file");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("absent.toml"), "{stderr}");
}

#[test]
fn the_worker_reads_the_same_file() {
    let dir = setup();
    let d = dir.path();
    let seen = node(
        "worker",
        "worker ",
        d,
        &["--config", "conf/botflow.toml"],
        &[],
    )
    .unwrap_or_else(|(code, stderr)| panic!("the worker starts (exit {code}):\n{stderr}"));
    println!("{seen}");
    // The file's database and bots folder, relative to the file's folder.
    assert!(d.join("conf/file.db").exists(), "{seen}");
    assert!(!d.join("botflow.db").exists(), "{seen}");
    // The flag still beats the file.
    node(
        "worker",
        "worker ",
        d,
        &["--config", "conf/botflow.toml", "--db", "flag.db"],
        &[],
    )
    .unwrap_or_else(|(code, stderr)| panic!("the worker starts (exit {code}):\n{stderr}"));
    assert!(d.join("flag.db").exists());
    // A misspelt key is refused as by serve, and nothing is created.
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "pol-ms = 10\n").expect("writes");
    let (code, stderr) = node(
        "worker",
        "worker ",
        d,
        &["--config", "bad.toml", "--bots", "bots"],
        &[],
    )
    .expect_err("a bad file is refused");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("bad.toml") && stderr.contains("pol-ms"),
        "{stderr}"
    );
    assert!(!d.join("botflow.db").exists(), "{stderr}");
}
