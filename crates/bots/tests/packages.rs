//! Loading packages and deployments from real folders.
//!
//! The tests marked "needs the parser" read `RETURN` and `ORCHESTRATE
//! WORKFLOW` from parsed scripts; they hold once `basic::parse` is complete.

use std::fs;
use std::path::{Path, PathBuf};

use bots::{Error, Resolution, load_deployment, load_package};

/// Writes `files` (relative path, contents) under a fresh temporary folder.
fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }
    dir
}

fn shop(dir: &Path) -> PathBuf {
    dir.join("shop.gbai")
}

#[test]
fn a_package_loads_its_scripts_config_and_prompt() {
    let dir = tree(&[
        (
            "shop.gbai/shop.gbdialog/validate-order.bas",
            b"PARAM order_id AS STRING\nRETURN {\"ok\": true}\n",
        ),
        ("shop.gbai/shop.gbdialog/start.bas", b"TALK \"hi\"\n"),
        ("shop.gbai/shop.gbdialog/notes.txt", b"not a script"),
        (
            "shop.gbai/shop.gbot/config.csv",
            b"name,value\nllm-model,small\nparam-company,Acme\n",
        ),
        ("shop.gbai/shop.gbot/PROMPT.md", b"You check orders."),
        (
            "shop.gbai/PROMPT.md",
            b"ignored: the .gbot prompt comes first",
        ),
        ("shop.gbai/shop.gbkb/faq.md", b"knowledge is ignored"),
    ]);
    let package = load_package(&shop(dir.path())).unwrap();
    assert_eq!(package.name, "shop");
    assert_eq!(package.root, shop(dir.path()));
    assert_eq!(
        package.scripts.keys().collect::<Vec<_>>(),
        ["start.bas", "validate-order.bas"]
    );
    let script = &package.scripts["validate-order.bas"];
    assert_eq!(
        script.path,
        shop(dir.path()).join("shop.gbdialog/validate-order.bas")
    );
    assert!(script.source.starts_with("PARAM order_id"));
    assert_eq!(script.hash, bots::source_hash(&script.source));
    assert_eq!(package.config.get("LLM-MODEL"), Some("small"));
    assert_eq!(package.config.params(), [("company", "Acme")]);
    assert_eq!(package.prompt.as_deref(), Some("You check orders."));
}

#[test]
fn the_prompt_falls_back_to_the_package_folder_then_to_config() {
    let dir = tree(&[
        ("a.gbai/a.gbdialog/x.bas", b""),
        ("a.gbai/PROMPT.md", b"from the package folder"),
        ("b.gbai/b.gbdialog/x.bas", b""),
        (
            "b.gbai/b.gbot/config.csv",
            b"system-prompt,\"You are \"\"B\"\".\"\n",
        ),
        ("c.gbai/c.gbdialog/x.bas", b""),
    ]);
    let prompt = |name: &str| {
        load_package(&dir.path().join(format!("{name}.gbai")))
            .unwrap()
            .prompt
    };
    assert_eq!(prompt("a").as_deref(), Some("from the package folder"));
    assert_eq!(prompt("b").as_deref(), Some("You are \"B\"."));
    assert_eq!(prompt("c"), None);
}

#[test]
fn a_package_without_config_has_an_empty_config() {
    let dir = tree(&[("shop.gbai/shop.gbdialog/x.bas", b"")]);
    let package = load_package(&shop(dir.path())).unwrap();
    assert!(package.config.is_empty());
}

#[test]
fn a_package_without_its_gbdialog_folder_is_refused() {
    let dir = tree(&[("shop.gbai/shop.gbot/config.csv", b"")]);
    let error = load_package(&shop(dir.path())).unwrap_err();
    assert!(
        matches!(&error, Error::MissingDialog { found: None, .. }),
        "{error:?}"
    );
    assert_eq!(error.path(), shop(dir.path()));
    assert!(error.to_string().contains("shop.gbdialog"), "{error}");
}

#[test]
fn a_misnamed_gbdialog_folder_is_named_in_the_error() {
    let dir = tree(&[("shop.gbai/old-shop.gbdialog/x.bas", b"")]);
    let error = load_package(&shop(dir.path())).unwrap_err();
    assert!(error.to_string().contains("old-shop.gbdialog"), "{error}");
}

#[test]
fn a_script_that_is_not_utf8_names_the_file_and_the_byte_offset() {
    let dir = tree(&[(
        "shop.gbai/shop.gbdialog/bad.bas",
        b"TALK \"ok\"\nTALK \"\xff\"\n",
    )]);
    let error = load_package(&shop(dir.path())).unwrap_err();
    let Error::InvalidUtf8 { path, offset } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(path, &shop(dir.path()).join("shop.gbdialog/bad.bas"));
    assert_eq!(*offset, 16);
    assert!(
        error.to_string().contains("bad.bas") && error.to_string().contains("offset 16"),
        "{error}"
    );
}

#[test]
fn a_script_over_8_mib_is_refused() {
    let big = vec![b' '; bots::layout::MAX_SCRIPT_BYTES as usize + 1];
    let dir = tree(&[("shop.gbai/shop.gbdialog/big.bas", &big)]);
    let error = load_package(&shop(dir.path())).unwrap_err();
    assert!(
        matches!(&error, Error::FileTooLarge { size, .. } if *size == big.len() as u64),
        "{error:?}"
    );
    assert!(error.path().ends_with("big.bas"));
}

#[test]
fn an_unreadable_script_is_an_io_error_naming_it() {
    // A folder named like a script cannot be read as one.
    let dir = tree(&[("shop.gbai/shop.gbdialog/folder.bas/x", b"")]);
    let package = load_package(&shop(dir.path())).unwrap();
    assert!(
        package.scripts.is_empty(),
        "folders named *.bas are not scripts"
    );

    let missing = load_package(&dir.path().join("missing.gbai")).unwrap_err();
    assert!(matches!(&missing, Error::Io { .. }), "{missing:?}");
    assert!(missing.to_string().contains("missing.gbai"), "{missing}");
}

#[test]
fn a_folder_not_named_gbai_is_not_a_package() {
    let dir = tree(&[("shop/shop.gbdialog/x.bas", b"")]);
    let error = load_package(&dir.path().join("shop")).unwrap_err();
    assert!(matches!(error, Error::NotAPackage { .. }), "{error:?}");
}

#[test]
fn a_deployment_loads_every_package_by_lower_case_name() {
    let dir = tree(&[
        (
            "Classifier.gbai/Classifier.gbdialog/analyze-complaint.bas",
            b"",
        ),
        ("shop.gbai/shop.gbdialog/x.bas", b""),
        ("README.md", b"not a package"),
        ("notes/x.bas", b"not a package"),
        (".hidden.gbai/.hidden.gbdialog/x.bas", b""),
    ]);
    let deployment = load_deployment(dir.path()).unwrap();
    assert_eq!(deployment.root, dir.path());
    assert_eq!(
        deployment.packages.keys().collect::<Vec<_>>(),
        ["classifier", "shop"]
    );
    assert_eq!(deployment.package("CLASSIFIER").unwrap().name, "Classifier");
    assert_eq!(
        deployment.bot_names().into_iter().collect::<Vec<_>>(),
        ["classifier", "shop"]
    );
}

#[test]
fn a_single_package_path_is_a_deployment_of_one() {
    let dir = tree(&[
        ("shop.gbai/shop.gbdialog/x.bas", b""),
        ("other.gbai/other.gbdialog/x.bas", b""),
    ]);
    let deployment = load_deployment(&shop(dir.path())).unwrap();
    assert_eq!(deployment.packages.keys().collect::<Vec<_>>(), ["shop"]);
}

#[test]
fn a_folder_without_packages_says_what_was_expected() {
    let dir = tree(&[("notes/x.bas", b"")]);
    let error = load_deployment(dir.path()).unwrap_err();
    assert!(matches!(error, Error::NoPackages { .. }), "{error:?}");
    assert!(error.to_string().contains("<bot>.gbai"), "{error}");
}

#[test]
fn one_bad_package_fails_the_deployment_naming_it() {
    let dir = tree(&[
        ("good.gbai/good.gbdialog/x.bas", b""),
        ("bad.gbai/README.md", b""),
    ]);
    let error = load_deployment(dir.path()).unwrap_err();
    assert!(error.path().ends_with("bad.gbai"), "{error:?}");
}

#[test]
fn packages_whose_names_differ_only_in_case_clash() {
    let dir = tree(&[
        ("Shop.gbai/Shop.gbdialog/x.bas", b""),
        ("shop.gbai/shop.gbdialog/x.bas", b""),
    ]);
    if dir.path().join("Shop.gbai/shop.gbdialog").exists() {
        return; // a file system that ignores case holds only one of them
    }
    let error = load_deployment(dir.path()).unwrap_err();
    assert!(matches!(error, Error::DuplicatePackage { .. }), "{error:?}");
}

#[test]
fn a_tool_script_answers_from_a_loaded_package() {
    let dir = tree(&[("shop.gbai/shop.gbdialog/validate-order.bas", b"RETURN 1\n")]);
    let package = load_package(&shop(dir.path())).unwrap();
    assert_eq!(
        package.resolve("Validate order"),
        Resolution::ToolScript("validate-order.bas".into())
    );
}

#[test]
fn start_bas_answers_only_when_it_has_a_return() {
    // Needs the parser.
    let with_return = tree(&[
        (
            "shop.gbai/shop.gbdialog/start.bas",
            b"IF action = \"x\" THEN\n  RETURN {\"ok\": true}\nEND IF\n",
        ),
        ("shop.gbai/shop.gbot/config.csv", b"llm-url,http://llm\n"),
    ]);
    let package = load_package(&shop(with_return.path())).unwrap();
    assert_eq!(package.resolve("anything"), Resolution::StartScript);

    let without_return = tree(&[
        ("shop.gbai/shop.gbdialog/start.bas", b"TALK \"Hello\"\n"),
        ("shop.gbai/shop.gbot/config.csv", b"llm-url,http://llm\n"),
    ]);
    let package = load_package(&shop(without_return.path())).unwrap();
    assert!(matches!(
        package.resolve("anything"),
        Resolution::Model { .. }
    ));
}

#[test]
fn workflows_are_found_by_name_across_the_deployment() {
    // Needs the parser.
    let dir = tree(&[
        (
            "support.gbai/support.gbdialog/flow.bas",
            b"' the flow\nORCHESTRATE WORKFLOW \"customer-support\"\n  STEP 1: BOT \"shop\" \"check\"\nEND WORKFLOW\n",
        ),
        ("support.gbai/support.gbdialog/start.bas", b"TALK \"hi\"\n"),
        ("shop.gbai/shop.gbdialog/check.bas", b"RETURN 1\n"),
    ]);
    let deployment = load_deployment(dir.path()).unwrap();
    let support = deployment.package("support").unwrap();
    assert_eq!(
        support.workflows(),
        [bots::WorkflowRef {
            name: "customer-support".into(),
            script: "flow.bas".into()
        }]
    );
    let (package, workflow) = deployment.find_workflow("customer-support").unwrap();
    assert_eq!(package.name, "support");
    assert_eq!(workflow.script, "flow.bas");
    assert!(
        deployment.find_workflow("Customer-Support").is_some(),
        "names also match ignoring case"
    );
    assert!(deployment.find_workflow("other").is_none());
}

#[test]
fn the_customer_support_template_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/customer-support");
    let deployment = load_deployment(&root).unwrap();
    assert_eq!(
        deployment.packages.keys().collect::<Vec<_>>(),
        [
            "classifier",
            "customer-support",
            "inventory-updater",
            "order-checker",
            "refund-processor",
            "support-bot-2"
        ]
    );
    let cases = [
        ("classifier", "analyze complaint", "analyze-complaint.bas"),
        ("order-checker", "validate order", "validate-order.bas"),
        ("refund-processor", "process refund", "process-refund.bas"),
        ("inventory-updater", "update stock", "update-stock.bas"),
    ];
    for (bot, action, script) in cases {
        assert_eq!(
            deployment.package(bot).unwrap().resolve(action),
            Resolution::ToolScript(script.into())
        );
    }
    for package in deployment.packages.values() {
        assert!(package.prompt.is_some(), "{} has a PROMPT.md", package.name);
        assert!(
            !package.config.is_empty(),
            "{} has a config.csv",
            package.name
        );
    }
}

#[test]
fn the_customer_support_template_declares_its_workflow() {
    // Needs the parser.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/customer-support");
    let deployment = load_deployment(&root).unwrap();
    let (package, workflow) = deployment.find_workflow("customer-support").unwrap();
    assert_eq!(
        (package.name.as_str(), workflow.script.as_str()),
        ("customer-support", "support-flow.bas")
    );
    assert_eq!(
        deployment
            .package("support-bot-2")
            .unwrap()
            .resolve("anything"),
        Resolution::StartScript
    );
}
