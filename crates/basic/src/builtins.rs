//! The built-in functions of LANGUAGE.md §2: their names and how many
//! arguments each takes.
//!
//! This table is the one place that says which `NAME(args)` calls are built in.
//! The checker uses it to report unknown functions (W005) and wrong argument
//! counts (E021); the interpreter dispatches on the same names, so the two can
//! never disagree about what exists.

/// One built-in function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Builtin {
    /// The name in upper case, as the documentation writes it.
    pub name: &'static str,
    /// The fewest arguments the function accepts.
    pub min_args: usize,
    /// The most arguments it accepts; `None` when there is no limit (`MIN`, `MAX`).
    pub max_args: Option<usize>,
    /// Its signature and what it returns, for hints and documentation.
    pub summary: &'static str,
}

impl Builtin {
    /// Whether `count` arguments are acceptable.
    pub fn accepts(&self, count: usize) -> bool {
        count >= self.min_args && self.max_args.is_none_or(|max| count <= max)
    }

    /// The accepted argument counts in words: `1 argument`, `2 or 3 arguments`,
    /// `at least 1 argument`, `no arguments`.
    pub fn arity(&self) -> String {
        fn plural(n: usize) -> &'static str {
            if n == 1 { "argument" } else { "arguments" }
        }
        match self.max_args {
            Some(0) => "no arguments".to_owned(),
            Some(max) if max == self.min_args => format!("{max} {}", plural(max)),
            Some(max) if max == self.min_args + 1 => {
                format!("{} or {max} {}", self.min_args, plural(max))
            }
            Some(max) => format!("{} to {max} {}", self.min_args, plural(max)),
            None => format!("at least {} {}", self.min_args, plural(self.min_args)),
        }
    }
}

const fn exactly(name: &'static str, count: usize, summary: &'static str) -> Builtin {
    Builtin {
        name,
        min_args: count,
        max_args: Some(count),
        summary,
    }
}

const fn between(name: &'static str, min: usize, max: usize, summary: &'static str) -> Builtin {
    Builtin {
        name,
        min_args: min,
        max_args: Some(max),
        summary,
    }
}

const fn at_least(name: &'static str, min: usize, summary: &'static str) -> Builtin {
    Builtin {
        name,
        min_args: min,
        max_args: None,
        summary,
    }
}

/// Every built-in function, in the order of LANGUAGE.md §2.
pub const BUILTINS: &[Builtin] = &[
    exactly(
        "LEN",
        1,
        "LEN(x): the length of a string (in characters), list or object",
    ),
    exactly("UPPER", 1, "UPPER(text): the text in upper case"),
    exactly("LOWER", 1, "LOWER(text): the text in lower case"),
    exactly(
        "TRIM",
        1,
        "TRIM(text): the text without leading and trailing blanks",
    ),
    exactly("LEFT", 2, "LEFT(text, n): the first n characters"),
    exactly("RIGHT", 2, "RIGHT(text, n): the last n characters"),
    between(
        "MID",
        2,
        3,
        "MID(text, start[, length]): the characters from start (1-based)",
    ),
    exactly(
        "REPLACE",
        3,
        "REPLACE(text, find, with): every occurrence of find replaced",
    ),
    exactly("SPLIT", 2, "SPLIT(text, separator): the list of parts"),
    between(
        "JOIN",
        1,
        2,
        "JOIN(list[, separator]): the items joined, by \",\" unless told",
    ),
    exactly(
        "CONTAINS",
        2,
        "CONTAINS(text or list, value): whether the value occurs in it",
    ),
    exactly(
        "STARTSWITH",
        2,
        "STARTSWITH(text, prefix): whether the text starts with prefix",
    ),
    between(
        "FORMAT",
        1,
        2,
        "FORMAT(value[, pattern]): the value as text, using a number or date pattern",
    ),
    exactly("VAL", 1, "VAL(text): the number the text spells, or 0"),
    exactly("STR", 1, "STR(value): the value as text"),
    exactly(
        "INT",
        1,
        "INT(number): the number rounded down to an integer",
    ),
    between(
        "ROUND",
        1,
        2,
        "ROUND(number[, digits]): the number rounded to that many decimals (0 unless told)",
    ),
    exactly("ABS", 1, "ABS(number): the absolute value"),
    at_least("MIN", 1, "MIN(a, b, ...) or MIN(list): the smallest value"),
    at_least("MAX", 1, "MAX(a, b, ...) or MAX(list): the largest value"),
    exactly(
        "NOW",
        0,
        "NOW(): the current date and time (recorded once in a workflow)",
    ),
    exactly("TODAY", 0, "TODAY(): the current date"),
    exactly(
        "DATEADD",
        3,
        "DATEADD(date, amount, unit): the date moved by amount units",
    ),
    between(
        "DATEDIFF",
        2,
        3,
        "DATEDIFF(from, to[, unit]): the time between two dates, in days unless told",
    ),
    exactly("JSON", 1, "JSON(value): the value as JSON text"),
    exactly(
        "PARSE_JSON",
        1,
        "PARSE_JSON(text): the value the JSON text holds",
    ),
    exactly("KEYS", 1, "KEYS(object): the list of the object's keys"),
    exactly("FIRST", 1, "FIRST(list): the first item, or NULL"),
    exactly("LAST", 1, "LAST(list): the last item, or NULL"),
    exactly(
        "UUID",
        0,
        "UUID(): a new unique id (recorded once in a workflow)",
    ),
];

/// The built-in function called `name`, ignoring case.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS
        .iter()
        .find(|builtin| builtin.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_of_the_language_is_in_the_table_once() {
        let listed = "LEN UPPER LOWER TRIM LEFT RIGHT MID REPLACE SPLIT JOIN CONTAINS STARTSWITH FORMAT VAL STR \
                      INT ROUND ABS MIN MAX NOW TODAY DATEADD DATEDIFF JSON PARSE_JSON KEYS FIRST LAST UUID";
        let names: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
        assert_eq!(names, listed.split_whitespace().collect::<Vec<_>>());
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(builtin("len").map(|b| b.name), Some("LEN"));
        assert_eq!(builtin("Parse_Json").map(|b| b.name), Some("PARSE_JSON"));
        assert!(builtin("FIND").is_none());
    }

    #[test]
    fn arity_words() {
        assert_eq!(builtin("LEN").unwrap().arity(), "1 argument");
        assert_eq!(builtin("MID").unwrap().arity(), "2 or 3 arguments");
        assert_eq!(builtin("NOW").unwrap().arity(), "no arguments");
        assert_eq!(builtin("MAX").unwrap().arity(), "at least 1 argument");
        assert!(builtin("MAX").unwrap().accepts(7));
        assert!(!builtin("MID").unwrap().accepts(4));
    }
}
