//! Names to comparable spellings: Unicode normalisation, case folding,
//! diacritics folded (with the written-out variants Ö OE, Ü UE, Ä AE),
//! apostrophes dropped, Cyrillic transliterated by every scheme, and the
//! result cut into tokens of A-Z at spaces, hyphens and MRZ fillers.

use unicode_normalization::UnicodeNormalization;

use super::translit::{self, Scheme};

/// At most this many spellings per name: enough for every scheme and both
/// diacritic forms of a mixed name, few enough to keep scoring cheap.
pub const MAX_SPELLINGS: usize = 16;

/// How a spelling was derived from what was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Latin as written, diacritics stripped (Ö as O).
    Latin,
    /// Latin with diacritics written out the German way (Ö as OE).
    LatinWrittenOut,
    /// Latin written-out pairs read back (OE as O), for names typed without
    /// diacritics by someone who had written them out.
    LatinContracted,
    /// Cyrillic transliterated by a scheme.
    Translit(Scheme),
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Latin => "as written",
            Source::LatinWrittenOut => "diacritics written out",
            Source::LatinContracted => "OE/UE/AE read as O/U/A",
            Source::Translit(scheme) => scheme.as_str(),
        }
    }
}

/// One spelling of a name: tokens of upper-case A-Z.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spelling {
    pub tokens: Vec<String>,
    pub source: Source,
}

impl Spelling {
    pub fn joined(&self) -> String {
        self.tokens.concat()
    }
}

/// How to write a Latin letter with a diacritic that has a written-out form.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Diacritics {
    Strip,
    WriteOut,
}

/// Characters that separate the tokens of a name.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '<' | ',' | '.' | '\u{2010}'..='\u{2015}')
}

/// Apostrophes and their look-alikes, dropped: the Uzbek O' and G' (often
/// typed as ʻ U+02BB or ’ U+2019), Irish O'Brien, Cyrillic Д'Артаньян.
fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '`'
            | '\u{00B4}'
            | '\u{02B9}'
            | '\u{02BB}'
            | '\u{02BC}'
            | '\u{02BD}'
            | '\u{2018}'
            | '\u{2019}'
            | '\u{201B}'
            | '\u{2032}'
    )
}

/// Latin letters whose diacritic has a conventional written-out form (ICAO
/// 9303 lets a state write Ä as A or AE), or that are ligatures or letters
/// NFD does not decompose.
fn latin_special(c: char, mode: Diacritics) -> Option<&'static str> {
    let written_out = mode == Diacritics::WriteOut;
    Some(match c {
        'Ä' => {
            if written_out {
                "AE"
            } else {
                "A"
            }
        }
        'Ö' | 'Ø' => {
            if written_out {
                "OE"
            } else {
                "O"
            }
        }
        'Ü' => {
            if written_out {
                "UE"
            } else {
                "U"
            }
        }
        'Å' => {
            if written_out {
                "AA"
            } else {
                "A"
            }
        }
        'Æ' => "AE",
        'Œ' => "OE",
        'ẞ' | 'ß' => "SS",
        'Þ' => "TH",
        'Ð' | 'Đ' => "D",
        'Ł' => "L",
        'Ħ' => "H",
        'Ŧ' => "T",
        'Ŋ' => "NG",
        'ı' => "I",
        _ => return None,
    })
}

fn has_written_out_form(c: char) -> bool {
    matches!(c, 'Ä' | 'Ö' | 'Ø' | 'Ü' | 'Å')
}

/// Appends the plain A-Z form of a Latin (or unknown) character: the special
/// table first, then NFD with the combining marks dropped (Ş S, Ç C, Ğ G,
/// İ I, É E). A character with no Latin base letter (a Han character, a
/// digit) is dropped.
fn push_latin(out: &mut String, c: char, mode: Diacritics) {
    if c.is_ascii_uppercase() {
        out.push(c);
    } else if let Some(s) = latin_special(c, mode) {
        out.push_str(s);
    } else {
        for d in std::iter::once(c).nfd() {
            if d.is_ascii_alphabetic() {
                out.push(d.to_ascii_uppercase());
            }
        }
    }
}

/// The words of a name after NFC and case folding to upper case (MRZ and
/// most registries write names in capitals), apostrophes dropped.
fn words(raw: &str) -> Vec<Vec<char>> {
    let folded: String = raw.nfc().flat_map(char::to_uppercase).collect();
    // NFC again: upper-casing can leave a decomposed sequence behind.
    let folded: String = folded.nfc().collect();
    folded
        .split(is_separator)
        .map(|w| w.chars().filter(|c| !is_apostrophe(*c)).collect::<Vec<_>>())
        .filter(|w| !w.is_empty())
        .collect()
}

fn spell(words: &[Vec<char>], scheme: Scheme, mode: Diacritics) -> Vec<String> {
    words
        .iter()
        .map(|word| {
            let latin = if word.iter().any(|c| translit::is_cyrillic(*c)) {
                translit::transliterate_word(word, scheme)
            } else {
                word.iter().collect()
            };
            let mut token = String::with_capacity(latin.len());
            for c in latin.chars() {
                push_latin(&mut token, c, mode);
            }
            token
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// OE UE AE as O U A, token by token.
fn contract(tokens: &[String]) -> Vec<String> {
    tokens
        .iter()
        .map(|t| t.replace("OE", "O").replace("UE", "U").replace("AE", "A"))
        .collect()
}

fn push_unique(spellings: &mut Vec<Spelling>, tokens: Vec<String>, source: Source) {
    if spellings.len() < MAX_SPELLINGS
        && !tokens.is_empty()
        && !spellings.iter().any(|s| s.tokens == tokens)
    {
        spellings.push(Spelling { tokens, source });
    }
}

/// Every plausible spelling of one written name, the most likely first:
/// Latin as written, then the written-out diacritics, then Cyrillic by each
/// scheme in order of preference. Empty when nothing in it is a letter.
pub fn spellings(raw: &str) -> Vec<Spelling> {
    let mut result = Vec::new();
    add_spellings(&mut result, raw);
    result
}

/// Adds the spellings of `raw` to `spellings`, skipping ones already there
/// and stopping at [`MAX_SPELLINGS`]: a name written in Latin and in Cyrillic
/// gathers the spellings of both.
pub fn add_spellings(spellings: &mut Vec<Spelling>, raw: &str) {
    let words = words(raw);
    let cyrillic = words.iter().flatten().any(|c| translit::is_cyrillic(*c));
    let written_out = words.iter().flatten().any(|c| has_written_out_form(*c));
    let schemes: &[Scheme] = if cyrillic {
        &Scheme::ALL
    } else {
        &[Scheme::Icao]
    };
    for &scheme in schemes {
        let source = |latin| {
            if cyrillic {
                Source::Translit(scheme)
            } else {
                latin
            }
        };
        push_unique(
            spellings,
            spell(&words, scheme, Diacritics::Strip),
            source(Source::Latin),
        );
        if written_out {
            push_unique(
                spellings,
                spell(&words, scheme, Diacritics::WriteOut),
                source(Source::LatinWrittenOut),
            );
        }
    }
    if !cyrillic && !written_out {
        let plain = spell(&words, Scheme::Icao, Diacritics::Strip);
        let contracted = contract(&plain);
        if contracted != plain {
            push_unique(spellings, contracted, Source::LatinContracted);
        }
    }
}

/// A document number as compared and indexed: NFKC, upper case, only
/// letters and digits (operators type `AB 123456`, `AB-123456` and
/// `ab123456` for one number), Cyrillic letters that look like Latin ones
/// read as those (series are typed on either keyboard), and the letter O read
/// as the digit 0: the two are confused more than any other pair when a
/// number is copied from a document, and both sides are folded alike, so two
/// distinct numbers could only collide if they differed in nothing else.
pub fn document_number(raw: &str) -> String {
    raw.nfkc()
        .flat_map(char::to_uppercase)
        .filter_map(|c| {
            let c = match c {
                'А' => 'A',
                'В' => 'B',
                'Е' => 'E',
                'К' => 'K',
                'М' => 'M',
                'Н' => 'H',
                'О' | 'O' => '0',
                'Р' => 'P',
                'С' => 'C',
                'Т' => 'T',
                'У' => 'Y',
                'Х' => 'X',
                other => other,
            };
            c.is_alphanumeric().then_some(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(raw: &str) -> Vec<String> {
        spellings(raw).iter().map(|s| s.tokens.join(" ")).collect()
    }

    #[test]
    fn latin_case_and_separators() {
        assert_eq!(joined("Xiao Ming"), ["XIAO MING"]);
        assert_eq!(joined("  jean-luc\t<<picard "), ["JEAN LUC PICARD"]);
        assert_eq!(joined("ANNA-LENA"), ["ANNA LENA"]);
    }

    #[test]
    fn diacritics_fold_with_written_out_variants() {
        assert_eq!(joined("Öztürk"), ["OZTURK", "OEZTUERK"]);
        assert_eq!(joined("MÜLLER"), ["MULLER", "MUELLER"]);
        assert_eq!(joined("Şahin"), ["SAHIN"]);
        assert_eq!(joined("ÇAĞLAR"), ["CAGLAR"]);
        assert_eq!(joined("İBRAHİM"), ["IBRAHIM"]);
        assert_eq!(joined("ıLKNUR"), ["ILKNUR"]);
        assert_eq!(joined("WEIß"), ["WEISS"]);
        assert_eq!(joined("nguyễn văn"), ["NGUYEN VAN"]);
        // Decomposed input folds like composed input.
        assert_eq!(joined("O\u{308}ZTU\u{308}RK"), ["OZTURK", "OEZTUERK"]);
    }

    #[test]
    fn ascii_written_out_forms_are_read_back() {
        assert_eq!(joined("OEZTUERK"), ["OEZTUERK", "OZTURK"]);
        assert_eq!(joined("MUELLER"), ["MUELLER", "MULLER"]);
    }

    #[test]
    fn apostrophes_are_dropped() {
        assert_eq!(joined("O'KTAM"), ["OKTAM"]);
        assert_eq!(joined("G\u{02BB}AYRAT"), ["GAYRAT"]);
        assert_eq!(joined("O’Brien"), ["OBRIEN"]);
    }

    #[test]
    fn cyrillic_yields_one_spelling_per_scheme_deduplicated() {
        assert_eq!(joined("ИВАНОВ"), ["IVANOV"]);
        let yulia = joined("Юлия");
        assert_eq!(yulia[0], "IULIIA");
        assert!(yulia.contains(&"YULIYA".to_owned()), "{yulia:?}");
        assert!(yulia.contains(&"YULIA".to_owned()), "{yulia:?}");
        assert_eq!(joined("ЧЖАН")[0], "CHZHAN");
        let kazakh = joined("ҚҰЛЫМБЕТОВ");
        assert_eq!(kazakh, ["KULYMBETOV", "QULYMBETOV"]);
    }

    #[test]
    fn spellings_are_bounded_and_ordered() {
        let many = spellings("ЁЖИК-ЮЛЬЯ ЙӨХҮЩ ХЕЙ");
        assert!(many.len() <= MAX_SPELLINGS);
        assert_eq!(many[0].source, Source::Translit(Scheme::Icao));
        let mut both = spellings("ZHANG");
        add_spellings(&mut both, "ЧЖАН");
        assert_eq!(both[0].source, Source::Latin);
        assert_eq!(both[1].joined(), "CHZHAN");
    }

    #[test]
    fn document_numbers_fold_format_and_look_alikes() {
        assert_eq!(document_number(" ab-123 456 "), "AB123456");
        assert_eq!(document_number("АВ123456"), "AB123456");
        assert_eq!(document_number("EO1234567"), "E01234567");
        assert_eq!(document_number("II-АБ 123456"), "IIAБ123456");
        assert_eq!(document_number("１２３"), "123");
    }

    #[test]
    fn nothing_to_spell() {
        assert!(spellings("").is_empty());
        assert!(spellings(" - ' ").is_empty());
        assert!(spellings("张伟").is_empty());
    }
}
