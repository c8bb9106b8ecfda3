//! String similarity measures on normalised names: Jaro-Winkler and the
//! Levenshtein edit distance.
//!
//! Both work on bytes: every string they see has been normalised to A-Z
//! (see `normalize`), so a byte is a letter and there is no need to pay for
//! char decoding on the hot path of scoring.

/// Names up to this many letters are compared in buffers on the stack; a
/// longer string (a whole line of given names) takes the heap. Scoring
/// compares hundreds of names per check, so an allocation each adds up.
const ON_STACK: usize = 64;

/// A scratch buffer of `len` copies of `fill`: on the stack when it fits.
enum Scratch<T: Copy> {
    Stack([T; ON_STACK], usize),
    Heap(Vec<T>),
}

impl<T: Copy> Scratch<T> {
    fn new(len: usize, fill: T) -> Self {
        if len <= ON_STACK {
            Scratch::Stack([fill; ON_STACK], len)
        } else {
            Scratch::Heap(vec![fill; len])
        }
    }

    fn as_mut(&mut self) -> &mut [T] {
        match self {
            Scratch::Stack(buffer, len) => &mut buffer[..*len],
            Scratch::Heap(buffer) => buffer,
        }
    }
}

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
    let mut b_used = Scratch::new(b.len(), false);
    let b_used = b_used.as_mut();
    let mut a_matched = Scratch::new(a.len(), 0u8);
    let a_matched = a_matched.as_mut();
    let mut matches = 0;
    for (i, &ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        for j in lo..hi {
            if !b_used[j] && b[j] == ca {
                b_used[j] = true;
                a_matched[matches] = ca;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let b_matched = b
        .iter()
        .zip(b_used.iter())
        .filter(|(_, used)| **used)
        .map(|(c, _)| *c);
    let half_transpositions = a_matched[..matches]
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
    let mut previous = Scratch::new(b.len() + 1, 0usize);
    let mut current = Scratch::new(b.len() + 1, 0usize);
    let (mut previous, mut current) = (previous.as_mut(), current.as_mut());
    for (j, cell) in previous.iter_mut().enumerate() {
        *cell = j;
    }
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

/// Whether `levenshtein(a, b) <= 1`, in one pass without the table: the
/// strings differ by at most one substitution, insertion or deletion.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if short.len() == long.len() {
        // One substitution at `prefix` at most: the rest must agree.
        prefix == short.len() || short[prefix + 1..] == long[prefix + 1..]
    } else {
        // One letter of `long` left out at `prefix`.
        short[prefix..] == long[prefix + 1..]
    }
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

    #[test]
    fn within_one_edit_is_levenshtein_at_most_one() {
        let words = [
            "",
            "A",
            "B",
            "AB",
            "BA",
            "ABC",
            "ABD",
            "ACB",
            "ABCD",
            "XBCD",
            "ABXD",
            "ABCX",
            "BCD",
            "ACD",
            "ABDC",
            "E1234567",
            "E1234568",
            "E12345678",
            "1234567",
            "E123457",
        ];
        for a in words {
            for b in words {
                assert_eq!(within_one_edit(a, b), levenshtein(a, b) <= 1, "{a} {b}");
            }
        }
    }

    #[test]
    fn long_names_take_the_heap_and_agree() {
        let long = "ABCDEFGHIJ".repeat(8);
        let other = format!("X{}", &long[1..]);
        assert_eq!(levenshtein(&long, &other), 1);
        assert_eq!(levenshtein(&long, "ABC"), long.len() - 3);
        assert!(close(jaro(&long, &long), 1.0));
        // Worked out by hand-written code of the same definition: the
        // repeated letters match across the window.
        assert!(close(jaro(&long, &other), 0.8440));
        assert!(close(jaro(&long, "ABC"), 0.6792));
        assert!(close(jaro("ABC", &long), 0.6792));
    }
}
