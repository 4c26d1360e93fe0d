//! A package's `config.csv` (LANGUAGE.md §5): `name,value` rows, read the
//! forgiving way General Bots reads them.
//!
//! The rules, in the order they apply to each line:
//! - a UTF-8 byte-order mark at the start of the file is dropped (spreadsheets write one);
//! - blank lines and comment lines (starting with `#`, `'` or `//`) are skipped;
//! - a line splits at its **first** comma into name and value (no comma: the value is empty);
//! - both are trimmed, and a surrounding pair of double quotes is removed, with `""` read as `"`;
//! - rows with an empty name are skipped;
//! - the first remaining row is skipped when it is the header `name,value` (any case).
//!
//! Look-ups ignore the case of the name. When a name appears twice the later
//! row wins, as a later assignment would.

/// One `name,value` row of `config.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: String,
}

/// The rows of a `config.csv`, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    entries: Vec<ConfigEntry>,
}

const PARAM_PREFIX: &str = "param-";
const APPROVER_GROUP_PREFIX: &str = "approver-group-";

impl Config {
    /// Reads the text of a `config.csv`. Never fails: lines that are not
    /// settings are skipped by the rules in the module documentation.
    pub fn parse(text: &str) -> Config {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut entries = Vec::new();
        let mut first_row = true;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || is_comment(line) {
                continue;
            }
            let (name, value) = line.split_once(',').unwrap_or((line, ""));
            let name = unquote(name.trim());
            let value = unquote(value.trim());
            if name.is_empty() {
                continue;
            }
            let is_header = first_row
                && name.eq_ignore_ascii_case("name")
                && value.eq_ignore_ascii_case("value");
            first_row = false;
            if !is_header {
                entries.push(ConfigEntry { name, value });
            }
        }
        Config { entries }
    }

    /// Every row, in file order (duplicates included).
    pub fn entries(&self) -> &[ConfigEntry] {
        &self.entries
    }

    /// Whether the file had no settings.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`, ignoring case; the last row wins.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|entry| entry.name.eq_ignore_ascii_case(key))
            .map(|entry| entry.value.as_str())
    }

    /// The value of `key` when it is set and not blank.
    pub fn get_non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|value| !value.is_empty())
    }

    /// The `param-x` rows as variables: `(x, value)` in file order, `x` spelled
    /// as written. Assigning them in order makes the last duplicate win.
    pub fn params(&self) -> Vec<(&str, &str)> {
        self.entries
            .iter()
            .filter_map(|entry| {
                let name = strip_prefix_ignore_case(&entry.name, PARAM_PREFIX)?;
                (!name.is_empty()).then_some((name, entry.value.as_str()))
            })
            .collect()
    }

    /// The members of approval group `group` from the row
    /// `approver-group-<group>,a@x.com;b@x.com` (`;` or `,` separate members;
    /// blanks are dropped). `None` when the group is not configured.
    pub fn approver_group(&self, group: &str) -> Option<Vec<String>> {
        let value = self.get(&format!("{APPROVER_GROUP_PREFIX}{group}"))?;
        Some(
            value
                .split([';', ','])
                .map(str::trim)
                .filter(|member| !member.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }
}

fn is_comment(line: &str) -> bool {
    line.starts_with('#') || line.starts_with('\'') || line.starts_with("//")
}

/// Removes one pair of surrounding double quotes, reading `""` inside as `"`.
fn unquote(text: &str) -> String {
    match text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(inner) => inner.replace("\"\"", "\""),
        None => text.to_string(),
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<(String, String)> {
        Config::parse(text)
            .entries
            .into_iter()
            .map(|e| (e.name, e.value))
            .collect()
    }

    fn row(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    #[test]
    fn a_row_splits_at_the_first_comma() {
        assert_eq!(
            rows("greeting,Hello, world, again"),
            [row("greeting", "Hello, world, again")]
        );
    }

    #[test]
    fn a_row_without_a_comma_has_an_empty_value() {
        assert_eq!(rows("flag"), [row("flag", "")]);
    }

    #[test]
    fn the_header_row_is_skipped_in_any_case() {
        assert_eq!(
            rows("name,value\nllm-model,gpt\n"),
            [row("llm-model", "gpt")]
        );
        assert_eq!(rows("Name , VALUE\nk,v"), [row("k", "v")]);
        assert_eq!(rows("\"name\",\"value\"\nk,v"), [row("k", "v")]);
    }

    #[test]
    fn the_header_is_only_recognised_as_the_first_row() {
        assert_eq!(
            rows("k,v\nname,value"),
            [row("k", "v"), row("name", "value")]
        );
        assert_eq!(rows("# settings\n\nname,value\nk,v"), [row("k", "v")]);
    }

    #[test]
    fn blank_and_comment_rows_are_skipped() {
        let text = "\n   \n# hash\n' quote\n// slashes\n  # indented\nk,v\n";
        assert_eq!(rows(text), [row("k", "v")]);
    }

    #[test]
    fn rows_with_an_empty_name_are_skipped() {
        assert_eq!(rows(",orphan\n  ,x\n\"\",y\nk,v"), [row("k", "v")]);
    }

    #[test]
    fn names_and_values_are_trimmed() {
        assert_eq!(rows("  k  ,   v w   \r\n"), [row("k", "v w")]);
    }

    #[test]
    fn surrounding_quotes_are_removed_and_doubled_quotes_read_as_one() {
        assert_eq!(
            rows("motto,\"say \"\"hi\"\", then go\"\nk,\"\""),
            [row("motto", "say \"hi\", then go"), row("k", "")]
        );
        // A quote that does not surround the value is kept.
        assert_eq!(rows("k,5\" screen"), [row("k", "5\" screen")]);
    }

    #[test]
    fn a_byte_order_mark_and_crlf_line_ends_are_ignored() {
        assert_eq!(rows("\u{feff}name,value\r\nk,v\r\n"), [row("k", "v")]);
    }

    #[test]
    fn lookup_ignores_case_and_the_last_row_wins() {
        let config = Config::parse("LLM-Model,first\nother,x\nllm-model,second");
        assert_eq!(config.get("llm-model"), Some("second"));
        assert_eq!(config.get("LLM-MODEL"), Some("second"));
        assert_eq!(config.get("missing"), None);
        assert_eq!(
            config.entries().len(),
            3,
            "rows are kept in order, duplicates included"
        );
    }

    #[test]
    fn get_non_empty_treats_a_blank_value_as_unset() {
        let config = Config::parse("bot-url,\nllm-url, http://x ");
        assert_eq!(config.get("bot-url"), Some(""));
        assert_eq!(config.get_non_empty("bot-url"), None);
        assert_eq!(config.get_non_empty("llm-url"), Some("http://x"));
    }

    #[test]
    fn param_rows_become_variables() {
        let config =
            Config::parse("name,value\nparam-company,Acme\nPARAM-Limit,100\nparam-,x\nother,1");
        assert_eq!(config.params(), [("company", "Acme"), ("Limit", "100")]);
    }

    #[test]
    fn approver_groups_split_on_semicolons() {
        let config = Config::parse(
            "approver-group-finance,a@x.com; b@x.com;;\nApprover-Group-Ops,\"c@x.com,d@x.com\"\napprover-group-empty,",
        );
        assert_eq!(
            config.approver_group("finance"),
            Some(vec!["a@x.com".into(), "b@x.com".into()])
        );
        assert_eq!(
            config.approver_group("ops"),
            Some(vec!["c@x.com".into(), "d@x.com".into()])
        );
        assert_eq!(config.approver_group("empty"), Some(vec![]));
        assert_eq!(config.approver_group("legal"), None);
    }
}
