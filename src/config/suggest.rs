//! "Did you mean …?": the known words nearest to a mistyped one (an option key, a country code).

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbours each cost 1 (`projet` → `project` is 1, `FNR` → `FRN` is 1).
pub fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The candidates within `max_distance` of `word`, nearest first, then those sharing the
/// longest prefix with it, then in the candidates' order; at most `limit`.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>, max_distance: usize, limit: usize) -> Vec<&'a str> {
    let prefix = |c: &str| c.chars().zip(word.chars()).take_while(|(x, y)| x == y).count();
    let mut found: Vec<(usize, std::cmp::Reverse<usize>, usize, &str)> = candidates
        .into_iter()
        .enumerate()
        .map(|(i, c)| (distance(word, c), std::cmp::Reverse(prefix(c)), i, c))
        .filter(|(d, ..)| *d <= max_distance)
        .collect();
    found.sort();
    found.into_iter().take(limit).map(|(.., c)| c).collect()
}

/// `a`, `a or b`, `a, b or c`.
pub fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("projet_name", "project_name"), 1);
        assert_eq!(distance("FNR", "FRN"), 1);
        assert_eq!(distance("FRN", "FRA"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn nearest_first_then_longest_prefix() {
        let words = ["DEU", "FIN", "FRA", "FRO", "IRN"];
        assert_eq!(nearest("FRN", words, 1, 5), vec!["FRA", "FRO", "FIN", "IRN"]);
        assert_eq!(nearest("FRN", words, 1, 2), vec!["FRA", "FRO"]);
        assert!(nearest("XYZW", words, 1, 5).is_empty());
        assert_eq!(or_list(&["a".into(), "b".into(), "c".into()]), "a, b or c");
        assert_eq!(or_list(&["a".into()]), "a");
    }
}
