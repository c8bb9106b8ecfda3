//! Per-field comparators: how far two values of one field agree, as a level
//! that the Fellegi-Sunter weights of `score` turn into evidence.

use serde::{Deserialize, Serialize};
use time::Date;

use super::config::NameThresholds;
use super::normalize::Source;
use super::prepared::{Form, PreparedName};
use super::similarity::{jaro_winkler, levenshtein, within_one_edit};

/// How far two values of a field agree. Each field uses some of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    /// Names: a spelling of one equals a spelling of the other, tokens in any
    /// order, joined or split. Dates and document numbers: equal.
    Exact,
    /// Names: equal phonetic skeletons (another romanisation).
    Phonetic,
    /// Names: every token of the shorter name is in the longer one (a middle
    /// name or patronymic dropped).
    Subset,
    /// Names: Jaro-Winkler at least the `close` threshold, or one edit apart.
    Close,
    /// Names: Jaro-Winkler at least the `similar` threshold.
    Similar,
    /// Birth dates: day and month swapped.
    DayMonthSwapped,
    /// Birth dates: one digit of YYYYMMDD differs.
    OneDigitOff,
    /// Document numbers: one edit apart.
    OneEdit,
    /// Sex, citizenship: the same.
    Agree,
    /// Nothing above.
    Disagree,
    /// One side has no value; the field gives no evidence either way.
    Missing,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Exact => "EXACT",
            Level::Phonetic => "PHONETIC",
            Level::Subset => "SUBSET",
            Level::Close => "CLOSE",
            Level::Similar => "SIMILAR",
            Level::DayMonthSwapped => "DAY_MONTH_SWAPPED",
            Level::OneDigitOff => "ONE_DIGIT_OFF",
            Level::OneEdit => "ONE_EDIT",
            Level::Agree => "AGREE",
            Level::Disagree => "DISAGREE",
            Level::Missing => "MISSING",
        }
    }
}

/// Where two names met, without copying them: the level, and the two
/// spellings that reached it (the left one's tokens in the order that met).
/// Enough to score; [`NameMatch::comparison`] makes the explanation.
#[derive(Clone, Copy)]
pub struct NameMatch<'a> {
    pub level: Level,
    /// `None` when a side has no name (`Missing`).
    met: Option<(&'a Form, usize, &'a Form)>,
    /// How the tokens met: "", "reordered", "joined/split", "subset".
    note: &'static str,
}

impl<'a> NameMatch<'a> {
    fn missing() -> NameMatch<'a> {
        NameMatch {
            level: Level::Missing,
            met: None,
            note: "",
        }
    }

    fn met(level: Level, a: &'a Form, order: usize, b: &'a Form, note: &'static str) -> Self {
        NameMatch {
            level,
            met: Some((a, order, b)),
            note,
        }
    }

    /// The comparison with the spellings that met, for an explanation.
    pub fn comparison(&self) -> NameComparison {
        let Some((a, order, b)) = self.met else {
            return NameComparison::missing();
        };
        let left = a.orders[order].clone();
        NameComparison {
            level: self.level,
            jaro_winkler: jaro_winkler(&left, &b.joined),
            edits: levenshtein(&left, &b.joined),
            left,
            right: b.joined.clone(),
            left_source: Some(a.source),
            right_source: Some(b.source),
            note: self.note,
        }
    }
}

/// The outcome of comparing two names: the level and the pair of spellings
/// that reached it.
#[derive(Clone)]
pub struct NameComparison {
    pub level: Level,
    pub jaro_winkler: f64,
    pub edits: usize,
    /// The spellings that met (the left one in the token order that met).
    pub left: String,
    pub right: String,
    pub left_source: Option<Source>,
    pub right_source: Option<Source>,
    /// How the tokens met: "", "reordered", "joined/split", "subset".
    pub note: &'static str,
}

impl NameComparison {
    fn missing() -> NameComparison {
        NameComparison {
            level: Level::Missing,
            jaro_winkler: 0.0,
            edits: 0,
            left: String::new(),
            right: String::new(),
            left_source: None,
            right_source: None,
            note: "",
        }
    }

    /// A line for the explanation, e.g. `'ZHANG' ~ 'CHZHAN' (as written /
    /// ICAO 9303), jw=0.91, edits=3`. Holds names: personal data.
    pub fn describe(&self) -> String {
        if self.level == Level::Missing {
            return "absent on one side".to_owned();
        }
        let source = |s: Option<Source>| s.map_or("", Source::describe);
        let mut line = format!(
            "'{}' ~ '{}' ({} / {}), jw={:.2}, edits={}",
            self.left,
            self.right,
            source(self.left_source),
            source(self.right_source),
            self.jaro_winkler,
            self.edits
        );
        if !self.note.is_empty() {
            line.push_str(", ");
            line.push_str(self.note);
        }
        line
    }
}

fn token_note(a: &Form, order: usize, b: &Form) -> &'static str {
    if a.tokens.len() != b.tokens.len() {
        "joined/split"
    } else if order != 0 {
        "reordered"
    } else {
        ""
    }
}

/// Every token of the shorter form equals a token of the longer one, in
/// letters or in skeleton.
fn is_subset(a: &Form, b: &Form) -> bool {
    let (short, long) = if a.tokens.len() < b.tokens.len() {
        (a, b)
    } else {
        (b, a)
    };
    short.tokens.len() < long.tokens.len()
        && short
            .tokens
            .iter()
            .zip(&short.token_skeletons)
            .all(|(token, skel)| {
                long.tokens
                    .iter()
                    .zip(&long.token_skeletons)
                    .any(|(t, s)| t == token || s == skel)
            })
}

/// Compares two names over every pair of spellings, tokens in any order,
/// joined or split, and gives the strongest level any pair reaches.
pub fn compare_names(
    a: &PreparedName,
    b: &PreparedName,
    thresholds: &NameThresholds,
) -> NameComparison {
    match_names(a, b, thresholds).comparison()
}

/// [`compare_names`] without the explanation: the level and where the names
/// met, copying nothing (the scoring of every candidate runs this).
pub fn match_names<'a>(
    a: &'a PreparedName,
    b: &'a PreparedName,
    thresholds: &NameThresholds,
) -> NameMatch<'a> {
    if a.is_empty() || b.is_empty() {
        return NameMatch::missing();
    }
    let pairs = || {
        a.forms
            .iter()
            .flat_map(|fa| b.forms.iter().map(move |fb| (fa, fb)))
    };
    // Exact, preferring the written order.
    let mut exact: Option<(&Form, usize, &Form)> = None;
    for (fa, fb) in pairs() {
        if let Some(order) = fa.orders.iter().position(|o| *o == fb.joined) {
            if exact.is_none_or(|(_, best, _)| order < best) {
                exact = Some((fa, order, fb));
            }
            if order == 0 {
                break;
            }
        }
    }
    if let Some((fa, order, fb)) = exact {
        return NameMatch::met(Level::Exact, fa, order, fb, token_note(fa, order, fb));
    }
    for (fa, fb) in pairs() {
        if let Some(order) = fa.skeletons.iter().position(|s| *s == fb.skeletons[0]) {
            return NameMatch::met(Level::Phonetic, fa, order, fb, token_note(fa, order, fb));
        }
    }
    for (fa, fb) in pairs() {
        if is_subset(fa, fb) {
            return NameMatch::met(Level::Subset, fa, 0, fb, "subset");
        }
    }
    let mut best: Option<(f64, &Form, usize, &Form)> = None;
    for (fa, fb) in pairs() {
        for (order, joined) in fa.orders.iter().enumerate() {
            let jw = jaro_winkler(joined, &fb.joined);
            if best.is_none_or(|(top, ..)| jw > top) {
                best = Some((jw, fa, order, fb));
            }
        }
    }
    let (jw, fa, order, fb) = best.expect("both names have a spelling");
    let left = &fa.orders[order];
    let shortest = left.len().min(fb.joined.len());
    let level = if jw >= thresholds.close || (shortest >= 5 && within_one_edit(left, &fb.joined)) {
        Level::Close
    } else if jw >= thresholds.similar {
        Level::Similar
    } else {
        Level::Disagree
    };
    NameMatch::met(level, fa, order, fb, token_note(fa, order, fb))
}

/// Birth dates: exact, day and month swapped (a US-style form filled in
/// Europe), one digit of YYYYMMDD off (a typo), or different.
pub fn compare_birth_dates(a: Date, b: Date) -> Level {
    if a == b {
        return Level::Exact;
    }
    if a.year() == b.year() && a.day() == u8::from(b.month()) && u8::from(a.month()) == b.day() {
        return Level::DayMonthSwapped;
    }
    let digits = |d: Date| format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day());
    let differing = digits(a)
        .bytes()
        .zip(digits(b).bytes())
        .filter(|(x, y)| x != y)
        .count();
    if differing == 1 {
        Level::OneDigitOff
    } else {
        Level::Disagree
    }
}

/// Sex or citizenship: agree, disagree, or missing when either is unknown.
pub fn compare_values<T: PartialEq>(a: Option<T>, b: Option<T>) -> Level {
    match (a, b) {
        (Some(a), Some(b)) if a == b => Level::Agree,
        (Some(_), Some(_)) => Level::Disagree,
        _ => Level::Missing,
    }
}

/// Document numbers, already normalised: any pair equal, any pair one edit
/// apart (a typo; only for numbers of six or more characters, where one edit
/// still leaves most of the number), different, or missing.
pub fn compare_documents(a: &[String], b: &[String]) -> Level {
    if a.is_empty() || b.is_empty() {
        return Level::Missing;
    }
    let pairs = || a.iter().flat_map(|x| b.iter().map(move |y| (x, y)));
    if pairs().any(|(x, y)| x == y) {
        Level::Exact
    // No pair is equal here, so one edit at most is exactly one.
    } else if pairs().any(|(x, y)| x.len().min(y.len()) >= 6 && within_one_edit(x, y)) {
        Level::OneEdit
    } else {
        Level::Disagree
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn names(a: &[&str], b: &[&str]) -> NameComparison {
        compare_names(
            &PreparedName::new(a),
            &PreparedName::new(b),
            &NameThresholds::default(),
        )
    }

    #[test]
    fn chinese_given_names_joined_split_and_reordered() {
        let joined = names(&["XIAOMING"], &["XIAO MING"]);
        assert_eq!((joined.level, joined.note), (Level::Exact, "joined/split"));
        let reordered = names(&["MING XIAO"], &["XIAOMING"]);
        assert_eq!(reordered.level, Level::Exact);
        let hyphen = names(&["MIN-JUN"], &["MINJUN"]);
        assert_eq!(hyphen.level, Level::Exact);
        assert_eq!(names(&["XIAOMING"], &["XIAOHONG"]).level, Level::Similar);
    }

    #[test]
    fn transliterations_meet() {
        let zhang = names(&["ZHANG"], &["ЧЖАН"]);
        assert_eq!(zhang.level, Level::Phonetic);
        let yulia = names(&["YULIYA"], &["ЮЛИЯ"]);
        assert_eq!(yulia.level, Level::Exact);
        assert_eq!(
            yulia.right_source,
            Some(Source::Translit(super::super::translit::Scheme::Old))
        );
        assert_eq!(names(&["IULIIA"], &["YULIA"]).level, Level::Phonetic);
        assert_eq!(names(&["KULYMBETOV"], &["ҚҰЛЫМБЕТОВ"]).level, Level::Exact);
        assert_eq!(names(&["OZTURK"], &["ÖZTÜRK"]).level, Level::Exact);
        assert_eq!(names(&["OEZTUERK"], &["ÖZTÜRK"]).level, Level::Exact);
        assert_eq!(names(&["OEZTUERK"], &["OZTURK"]).level, Level::Exact);
        assert_eq!(names(&["OKTAM"], &["O'KTAM"]).level, Level::Exact);
    }

    #[test]
    fn subsets_typos_and_strangers() {
        assert_eq!(names(&["JAMES MICHAEL"], &["JAMES"]).level, Level::Subset);
        assert_eq!(names(&["IVAN IVANOVICH"], &["IVAN"]).level, Level::Subset);
        assert_eq!(
            names(&["ALEKSANDR"], &["ALEKSANDER"]).level,
            Level::Phonetic
        );
        assert_eq!(names(&["KARIMOV"], &["KARIMOB"]).level, Level::Close);
        assert_eq!(names(&["IVANOV"], &["PETROVA"]).level, Level::Disagree);
        assert_eq!(names(&["IVANOV"], &[]).level, Level::Missing);
    }

    #[test]
    fn description_names_the_spellings() {
        let line = names(&["ZHANG"], &["ЧЖАН"]).describe();
        assert_eq!(
            line,
            "'ZHANG' ~ 'CHZHAN' (as written / ICAO 9303), jw=0.74, edits=3"
        );
    }

    #[test]
    fn birth_dates() {
        let d = date!(1990 - 07 - 04);
        assert_eq!(compare_birth_dates(d, d), Level::Exact);
        assert_eq!(
            compare_birth_dates(d, date!(1990 - 04 - 07)),
            Level::DayMonthSwapped
        );
        assert_eq!(
            compare_birth_dates(d, date!(1990 - 07 - 05)),
            Level::OneDigitOff
        );
        assert_eq!(
            compare_birth_dates(d, date!(1980 - 07 - 04)),
            Level::OneDigitOff
        );
        assert_eq!(
            compare_birth_dates(d, date!(1991 - 04 - 07)),
            Level::Disagree
        );
        assert_eq!(
            compare_birth_dates(d, date!(1985 - 01 - 01)),
            Level::Disagree
        );
    }

    #[test]
    fn values_and_documents() {
        assert_eq!(compare_values(Some(1), Some(1)), Level::Agree);
        assert_eq!(compare_values(Some(1), Some(2)), Level::Disagree);
        assert_eq!(compare_values(None, Some(2)), Level::Missing);
        let docs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            compare_documents(&docs(&["E123456"]), &docs(&["X1", "E123456"])),
            Level::Exact
        );
        assert_eq!(
            compare_documents(&docs(&["E123456"]), &docs(&["E123457"])),
            Level::OneEdit
        );
        assert_eq!(
            compare_documents(&docs(&["E12"]), &docs(&["E13"])),
            Level::Disagree
        );
        assert_eq!(
            compare_documents(&docs(&[]), &docs(&["E13"])),
            Level::Missing
        );
    }
}
