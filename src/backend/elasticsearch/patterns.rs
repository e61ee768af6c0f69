//! Index name patterns as index templates use them: `*` matches any run of
//! characters, every other character itself (Elasticsearch's "simple
//! match"; `?` is not a wildcard there).

use std::collections::BTreeSet;

/// Whether some index name matches both patterns. Pure.
///
/// Elasticsearch refuses an index template whose patterns overlap those of
/// another template of the same priority, so two patterns overlap exactly
/// when one name could be claimed by both. The check walks both patterns at
/// once (a product of their automata): a state is a position in each, and a
/// name exists when both ends can be reached together.
pub fn overlap(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut seen = BTreeSet::new();
    let mut todo = vec![(0usize, 0usize)];
    while let Some((i, j)) = todo.pop() {
        if !seen.insert((i, j)) {
            continue;
        }
        if i == a.len() && j == b.len() {
            return true;
        }
        let (x, y) = (a.get(i).copied(), b.get(j).copied());
        // A `*` may match nothing: step past it alone.
        if x == Some('*') {
            todo.push((i + 1, j));
        }
        if y == Some('*') {
            todo.push((i, j + 1));
        }
        // One character both can take: a `*` takes it and stays.
        match (x, y) {
            (Some('*'), Some(c)) if c != '*' => todo.push((i, j + 1)),
            (Some(c), Some('*')) if c != '*' => todo.push((i + 1, j)),
            (Some(c), Some(d)) if c == d && c != '*' => todo.push((i + 1, j + 1)),
            _ => {}
        }
    }
    false
}

/// Whether `pattern` matches `text` taken literally (a `*` in `text` is
/// just a character). Pure.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // reach[j]: the first i pattern characters can match the first j text
    // characters.
    let mut reach = vec![false; t.len() + 1];
    reach[0] = true;
    for c in p {
        if c == '*' {
            for j in 1..=t.len() {
                reach[j] = reach[j] || reach[j - 1];
            }
        } else {
            for j in (1..=t.len()).rev() {
                reach[j] = reach[j - 1] && t[j - 1] == c;
            }
            reach[0] = false;
        }
    }
    reach[t.len()]
}

/// OpenSearch 3's overlap: one pattern matches the other's text. Pure.
pub fn literal_overlap(a: &str, b: &str) -> bool {
    matches(a, b) || matches(b, a)
}

#[cfg(test)]
mod tests {
    use super::{literal_overlap, overlap};

    #[test]
    fn literal_overlaps_as_opensearch_3_refuses_them() {
        // Each pair against "audit-*" was refused by a real OpenSearch
        // 3.8.0 at equal priority, or accepted, as the expectation says.
        for (other, both) in [
            ("aud*", true),
            ("audit-x*", true),
            ("*dit-*", true),
            ("audit-abc", true),
            ("audit-*", true),
            ("*-trail", false),
            ("a*t", false),
        ] {
            assert_eq!(literal_overlap("audit-*", other), both, "{other}");
            assert_eq!(literal_overlap(other, "audit-*"), both, "{other}");
        }
    }

    #[test]
    fn overlapping_patterns_as_elasticsearch_refuses_them() {
        // Each pair here was refused by a real Elasticsearch 8.19 at equal
        // priority, or accepted, as the expectation says.
        for (a, b, both) in [
            ("logs-*", "logs-app-*", true),
            ("logs-*", "*-app", true),
            ("metrics", "metric*", true),
            ("metrics", "metrics", true),
            ("*", "anything", true),
            ("*x", "y*", true),
            ("a*b*c", "*bc", true),
            ("logs-*", "metrics-*", false),
            ("metrics", "logs-*", false),
            ("a*b", "c*", false),
            ("abc", "abd", false),
            ("abc", "ab", false),
            ("a?c", "abc", false),
            ("x*y", "x*z", false),
        ] {
            assert_eq!(overlap(a, b), both, "{a} / {b}");
            assert_eq!(overlap(b, a), both, "{b} / {a}");
        }
    }
}
