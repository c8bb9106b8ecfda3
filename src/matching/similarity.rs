//! String similarity measures on normalised names: Jaro-Winkler and the
//! Levenshtein edit distance.
//!
//! Both work on bytes: every string they see has been normalised to A-Z
//! (see `normalize`), so a byte is a letter and there is no need to pay for
//! char decoding on the hot path of scoring.

/// Jaro similarity in [0, 1]: matching characters within a window of half the
/// longer length, less half the transpositions.
pub fn jaro(a: &str, b: &str) -> f64 {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    // Names are short; fixed arrays would do, but a Vec keeps long inputs
    // (a whole string of given names) correct too.
    let mut b_used = vec![false; b.len()];
    let mut a_matched = Vec::with_capacity(a.len());
    for (i, &ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        for j in lo..hi {
            if !b_used[j] && b[j] == ca {
                b_used[j] = true;
                a_matched.push(ca);
                break;
            }
        }
    }
    let matches = a_matched.len();
    if matches == 0 {
        return 0.0;
    }
    let b_matched = b
        .iter()
        .zip(&b_used)
        .filter(|(_, used)| **used)
        .map(|(c, _)| *c);
    let half_transpositions = a_matched
        .iter()
        .zip(b_matched)
        .filter(|(x, y)| **x != *y)
        .count();
    let m = matches as f64;
    let t = (half_transpositions / 2) as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - t) / m) / 3.0
}

/// Jaro-Winkler similarity in [0, 1]: Jaro boosted for a common prefix of up
/// to four letters (scale 0.1), since names typed twice differ less at the
/// start than at the end.
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    let j = jaro(a, b);
    let prefix = a
        .bytes()
        .zip(b.bytes())
        .take(4)
        .take_while(|(x, y)| x == y)
        .count();
    j + prefix as f64 * 0.1 * (1.0 - j)
}

/// Levenshtein distance: the fewest single-letter insertions, deletions and
/// substitutions turning `a` into `b`.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: f64, y: f64) -> bool {
        (x - y).abs() < 0.001
    }

    #[test]
    fn jaro_winkler_textbook_values() {
        // The values of Winkler's papers, which every implementation reproduces.
        assert!(close(jaro("MARTHA", "MARHTA"), 0.944));
        assert!(close(jaro_winkler("MARTHA", "MARHTA"), 0.961));
        assert!(close(jaro_winkler("DWAYNE", "DUANE"), 0.840));
        assert!(close(jaro_winkler("DIXON", "DICKSONX"), 0.813));
        assert!(close(jaro_winkler("ZHANG", "ZHANG"), 1.0));
        assert!(close(jaro_winkler("ABC", "XYZ"), 0.0));
        assert!(close(jaro_winkler("", ""), 1.0));
        assert!(close(jaro_winkler("A", ""), 0.0));
    }

    #[test]
    fn jaro_winkler_is_symmetric() {
        for (a, b) in [
            ("IULIIA", "YULIYA"),
            ("XIAOMING", "XIAO"),
            ("KIM", "KIMURA"),
        ] {
            assert!(close(jaro_winkler(a, b), jaro_winkler(b, a)), "{a} {b}");
        }
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("KITTEN", "SITTING"), 3);
        assert_eq!(levenshtein("", "ABC"), 3);
        assert_eq!(levenshtein("ABC", ""), 3);
        assert_eq!(levenshtein("OZTURK", "OEZTUERK"), 2);
        assert_eq!(levenshtein("SAME", "SAME"), 0);
    }
}
