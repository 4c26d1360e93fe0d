//! One bot: a `.gbai` package loaded into memory, and how it answers an
//! action (LANGUAGE.md §5, steps 1–5).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::layout::{self, MAX_SCRIPT_BYTES, MAX_TEXT_BYTES};
use crate::syntax::{self, Summary};
use crate::{Error, slug};

const START_SCRIPT: &str = "start.bas";
const CONFIG_FILE: &str = "config.csv";
const PROMPT_FILE: &str = "PROMPT.md";

/// A loaded bot package.
#[derive(Clone, Debug)]
pub struct Package {
    /// The bot's name as the folder spells it (`Support.gbai` → `Support`).
    pub name: String,
    /// The package folder.
    pub root: PathBuf,
    /// The scripts of `<name>.gbdialog`, by file name (`validate-order.bas`).
    pub scripts: BTreeMap<String, Script>,
    /// `<name>.gbot/config.csv`, empty when the package has none.
    pub config: Config,
    /// The system prompt: `<name>.gbot/PROMPT.md`, else `<name>.gbai/PROMPT.md`,
    /// else the `system-prompt` config value.
    pub prompt: Option<String>,
}

/// One `.bas` script of a package. Build it with [`Script::new`]; `hash` and
/// the cached syntax facts describe `source` as it was then, so replace a
/// changed script with a new `Script` rather than editing `source`.
#[derive(Clone, Debug)]
pub struct Script {
    pub path: PathBuf,
    pub source: String,
    /// The SHA-256 of the source, lower-case hex: the program version a run pins (DESIGN.md invariant 3).
    pub hash: String,
    /// Parsed on first use; the source never changes after loading.
    summary: OnceLock<Summary>,
}

impl Script {
    /// A script with the given source; computes its hash.
    pub fn new(path: impl Into<PathBuf>, source: impl Into<String>) -> Script {
        let source = source.into();
        let hash = source_hash(&source);
        Script {
            path: path.into(),
            source,
            hash,
            summary: OnceLock::new(),
        }
    }

    /// Whether the script has a `RETURN` statement anywhere.
    pub fn has_return(&self) -> bool {
        self.summary().has_return
    }

    /// The names of the workflows the script declares with a top-level
    /// `ORCHESTRATE WORKFLOW "<name>"`, in order.
    pub fn workflow_names(&self) -> &[String] {
        &self.summary().workflows
    }

    fn summary(&self) -> &Summary {
        self.summary.get_or_init(|| syntax::summarize(&self.source))
    }
}

/// The SHA-256 of a script's source as lower-case hex.
pub fn source_hash(source: &str) -> String {
    Sha256::digest(source.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// How a package answers an action (LANGUAGE.md §5): the first way that applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Step 1: the tool script with this file name answers.
    ToolScript(String),
    /// Step 2: `start.bas` answers (it has a `RETURN`).
    StartScript,
    /// Step 3: the configured model answers (`llm-url`, `llm-model`, `llm-key`).
    Model {
        url: String,
        model: Option<String>,
        key: Option<String>,
    },
    /// Step 4: a remote bot answers over HTTP (`bot-url`).
    Remote { url: String },
    /// Step 5: nothing can answer; the message says what was looked for.
    Nothing { message: String },
}

/// A workflow declared by a script of a package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowRef {
    /// The name in `ORCHESTRATE WORKFLOW "<name>"`.
    pub name: String,
    /// The file name of the script that declares it.
    pub script: String,
}

impl Package {
    /// How this bot answers `action`: a tool script whose file stem has the
    /// action's slug, else `start.bas` when it has a `RETURN`, else the
    /// configured model, else the remote bot, else nothing.
    pub fn resolve(&self, action: &str) -> Resolution {
        let wanted = slug(action);
        let tool = self.scripts.keys().find(|file| {
            let stem = Path::new(file.as_str())
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(file);
            slug(stem) == wanted
        });
        if let Some(file) = tool {
            return Resolution::ToolScript(file.clone());
        }
        if self.start_script().is_some_and(Script::has_return) {
            return Resolution::StartScript;
        }
        if let Some(url) = self.config.get_non_empty("llm-url") {
            return Resolution::Model {
                url: url.to_string(),
                model: self.config.get_non_empty("llm-model").map(str::to_string),
                key: self.config.get_non_empty("llm-key").map(str::to_string),
            };
        }
        if let Some(url) = self.config.get_non_empty("bot-url") {
            return Resolution::Remote {
                url: url.to_string(),
            };
        }
        let name = &self.name;
        Resolution::Nothing {
            message: format!(
                "bot \"{name}\" has no way to answer \"{action}\": no {name}.gbdialog/{wanted}.bas, \
                 no start.bas with a RETURN, no llm-url and no bot-url in config.csv"
            ),
        }
    }

    /// `start.bas`, matched ignoring case.
    pub fn start_script(&self) -> Option<&Script> {
        self.script(START_SCRIPT)
    }

    /// The script with this file name, matched exactly first, then ignoring case.
    pub fn script(&self, file_name: &str) -> Option<&Script> {
        self.scripts.get(file_name).or_else(|| {
            self.scripts
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(file_name))
                .map(|(_, script)| script)
        })
    }

    /// The workflows the package's scripts declare, in script order.
    pub fn workflows(&self) -> Vec<WorkflowRef> {
        self.scripts
            .iter()
            .flat_map(|(file, script)| {
                script.workflow_names().iter().map(|name| WorkflowRef {
                    name: name.clone(),
                    script: file.clone(),
                })
            })
            .collect()
    }
}

/// Loads the package folder at `path` (a folder named `<name>.gbai`).
pub fn load_package(path: &Path) -> Result<Package, Error> {
    let metadata = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let name = match layout::package_name(path) {
        Some(name) if metadata.is_dir() => name.to_string(),
        _ => return Err(Error::NotAPackage { path: path.into() }),
    };

    let dialog = layout::dialog_dir(path)?;
    let mut scripts = BTreeMap::new();
    for script_path in layout::script_files(&dialog)? {
        let Some(file_name) = script_path.file_name().and_then(|n| n.to_str()) else {
            // A name that is not UTF-8 cannot be named by an action, so it is no tool.
            continue;
        };
        let file_name = file_name.to_string();
        let source = layout::read_text(&script_path, MAX_SCRIPT_BYTES)?;
        scripts.insert(file_name, Script::new(script_path, source));
    }

    let bot = layout::bot_dir(path)?;
    let config = match &bot {
        Some(bot) => match layout::find_child(bot, CONFIG_FILE, false)? {
            Some(file) => Config::parse(&layout::read_text(&file, MAX_TEXT_BYTES)?),
            None => Config::default(),
        },
        None => Config::default(),
    };

    let mut prompt = None;
    for folder in bot.iter().map(PathBuf::as_path).chain([path]) {
        if let Some(file) = layout::find_child(folder, PROMPT_FILE, false)? {
            prompt = Some(layout::read_text(&file, MAX_TEXT_BYTES)?);
            break;
        }
    }
    let prompt = prompt.or_else(|| config.get_non_empty("system-prompt").map(str::to_string));

    Ok(Package {
        name,
        root: path.to_path_buf(),
        scripts,
        config,
        prompt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(scripts: &[(&str, &str)], config: &str) -> Package {
        Package {
            name: "shop".into(),
            root: PathBuf::from("shop.gbai"),
            scripts: scripts
                .iter()
                .map(|(file, source)| (file.to_string(), Script::new(*file, *source)))
                .collect(),
            config: Config::parse(config),
            prompt: None,
        }
    }

    #[test]
    fn a_tool_script_whose_stem_slug_matches_the_action_answers() {
        let bot = package(&[("validate-order.bas", ""), ("start.bas", "")], "");
        assert_eq!(
            bot.resolve("validate order"),
            Resolution::ToolScript("validate-order.bas".into())
        );
        assert_eq!(
            bot.resolve("Validate Order!"),
            Resolution::ToolScript("validate-order.bas".into())
        );
        let underscored = package(&[("Validate_Order.BAS", "")], "");
        assert_eq!(
            underscored.resolve("validate-order"),
            Resolution::ToolScript("Validate_Order.BAS".into())
        );
    }

    #[test]
    fn a_tool_script_wins_over_every_other_way() {
        let bot = package(
            &[("refund.bas", "")],
            "llm-url,http://llm\nbot-url,http://bot",
        );
        assert_eq!(
            bot.resolve("refund"),
            Resolution::ToolScript("refund.bas".into())
        );
    }

    #[test]
    fn the_model_answers_when_there_is_no_script() {
        let bot = package(
            &[],
            "name,value\nllm-url,http://llm\nllm-model,small\nbot-url,http://bot",
        );
        assert_eq!(
            bot.resolve("summarise"),
            Resolution::Model {
                url: "http://llm".into(),
                model: Some("small".into()),
                key: None
            }
        );
    }

    #[test]
    fn a_blank_llm_url_does_not_count() {
        let bot = package(&[], "llm-url,\nbot-url,http://bot");
        assert_eq!(
            bot.resolve("x"),
            Resolution::Remote {
                url: "http://bot".into()
            }
        );
    }

    #[test]
    fn the_remote_bot_answers_when_nothing_local_can() {
        let bot = package(&[("other.bas", "")], "bot-url,https://remote/bot");
        assert_eq!(
            bot.resolve("x"),
            Resolution::Remote {
                url: "https://remote/bot".into()
            }
        );
    }

    #[test]
    fn nothing_names_the_file_it_looked_for() {
        let bot = package(&[("other.bas", "")], "");
        assert_eq!(
            bot.resolve("Validate Order"),
            Resolution::Nothing {
                message: "bot \"shop\" has no way to answer \"Validate Order\": no shop.gbdialog/validate-order.bas, \
                          no start.bas with a RETURN, no llm-url and no bot-url in config.csv"
                    .into()
            }
        );
    }

    #[test]
    fn script_hashes_are_sha256_hex() {
        assert_eq!(
            Script::new("a.bas", "").hash,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
