//! "Did you mean" for misspelled names: the closest candidate by edit distance.

/// The candidate closest to `name` (ignoring case), if it is close enough to
/// be a likely typo: at most one edit for short names, about a third of the
/// name's length for longer ones. Ties go to the earliest candidate.
pub(super) fn closest<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let name: Vec<char> = name.chars().flat_map(char::to_lowercase).collect();
    let limit = (name.len() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    let mut row = Vec::new();
    for candidate in candidates {
        let chars: Vec<char> = candidate.chars().flat_map(char::to_lowercase).collect();
        // The length difference is a lower bound of the distance: skip early.
        if chars.len().abs_diff(name.len()) > limit || chars == name {
            continue;
        }
        let distance = levenshtein(&name, &chars, &mut row);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// The edit distance between `a` and `b` (insertions, deletions, substitutions).
fn levenshtein(a: &[char], b: &[char], row: &mut Vec<usize>) -> usize {
    row.clear();
    row.extend(0..=b.len());
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_ignores_case() {
        let bots = ["classifier", "order-checker", "refund-processor"];
        assert_eq!(closest("order-cheker", bots), Some("order-checker"));
        assert_eq!(closest("Clasifier", bots), Some("classifier"));
        assert_eq!(closest("billing", bots), None);
        assert_eq!(closest("LENN", ["LEN", "LEFT"]), Some("LEN"));
    }

    #[test]
    fn distance() {
        let d = |a: &str, b: &str| {
            let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
            levenshtein(&a, &b, &mut Vec::new())
        };
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("abc", "abc"), 0);
    }
}
