//! Cyrillic to Latin: ICAO 9303 and the older and popular schemes that
//! passports, visas and registries have used, with the Kazakh, Kyrgyz and
//! Uzbek letters, so one Cyrillic name yields its plausible Latin spellings.
//!
//! A document uses one scheme throughout, so a name is transliterated once
//! per scheme rather than letter by letter in every combination: that keeps
//! the spellings of a name few (at most one per scheme) and realistic.

/// A way of writing Cyrillic in Latin letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// ICAO 9303 (Russian passports since 2014): Ю IU, Я IA, Й I, Х KH, Ц TS,
    /// Ъ IE, Ь dropped; Kazakh letters as their plain Latin counterparts.
    Icao,
    /// The older passport scheme (Russia 1997-2013, most CIS states): Ю YU,
    /// Я YA, Й Y, Ъ and Ь dropped.
    Old,
    /// The popular English spelling (visas, bank cards): Е YE at the start of
    /// a word and after a vowel, Ё YO, ИЙ at the end Y, ИЯ IA.
    Popular,
    /// A loose spelling: Х H, Ю U after a consonant, Й Y.
    Loose,
    /// The Uzbek Latin alphabet: Ж J, Х X, Ҳ H, Ў O', Ғ G', Қ Q.
    Uzbek,
    /// Turkic letters written out: Ә AE, Ғ GH, Қ Q, Ң NG, Ө OE, Ү UE.
    Turkic,
}

impl Scheme {
    /// In order of preference: when spellings must be capped, the earlier
    /// schemes are the more common on documents seen in Kazakhstan.
    pub const ALL: [Scheme; 6] = [
        Scheme::Icao,
        Scheme::Old,
        Scheme::Popular,
        Scheme::Uzbek,
        Scheme::Turkic,
        Scheme::Loose,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Icao => "ICAO 9303",
            Scheme::Old => "old passport scheme",
            Scheme::Popular => "popular scheme",
            Scheme::Loose => "loose scheme",
            Scheme::Uzbek => "Uzbek Latin",
            Scheme::Turkic => "Turkic letters written out",
        }
    }
}

/// Whether `c` is a Cyrillic letter this module knows (upper case).
pub fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}' | '\u{0500}'..='\u{052F}')
}

fn is_cyrillic_vowel(c: char) -> bool {
    matches!(
        c,
        'А' | 'Е'
            | 'Ё'
            | 'И'
            | 'О'
            | 'У'
            | 'Ы'
            | 'Э'
            | 'Ю'
            | 'Я'
            | 'Ә'
            | 'Ө'
            | 'Ұ'
            | 'Ү'
            | 'І'
            | 'Ў'
            | 'Є'
            | 'Ї'
    )
}

/// Transliterates one word of upper-case Cyrillic (other characters pass
/// through unchanged, so a mixed-script word keeps its Latin letters).
pub fn transliterate_word(word: &[char], scheme: Scheme) -> String {
    use Scheme::*;
    let mut out = String::with_capacity(word.len() * 2);
    let mut i = 0;
    while i < word.len() {
        let c = word[i];
        let prev = i.checked_sub(1).map(|p| word[p]);
        let next = word.get(i + 1).copied();
        // "Iotated" position: the start of a word, or after a vowel or a
        // hard/soft sign, where Е Ё Ю Я are pronounced with a leading Y.
        let iotated = prev.is_none_or(|p| is_cyrillic_vowel(p) || matches!(p, 'Ь' | 'Ъ'));
        let after_consonant = prev.is_some_and(|p| is_cyrillic(p) && !is_cyrillic_vowel(p));
        // ИЙ at the end of a word (ДМИТРИЙ): the popular spelling writes Y.
        if c == 'И' && next == Some('Й') && i + 2 == word.len() && scheme == Popular {
            out.push('Y');
            i += 2;
            continue;
        }
        let latin: &str = match c {
            'А' => "A",
            'Б' => "B",
            'В' => "V",
            'Г' => "G",
            'Д' => "D",
            'Е' => match scheme {
                Popular | Uzbek if iotated => "YE",
                _ => "E",
            },
            'Ё' => match scheme {
                Icao | Old => "E",
                _ => "YO",
            },
            'Ж' => match scheme {
                Uzbek => "J",
                _ => "ZH",
            },
            'З' => "Z",
            'И' => "I",
            'Й' => match scheme {
                Icao => "I",
                _ => "Y",
            },
            'К' => "K",
            'Л' => "L",
            'М' => "M",
            'Н' => "N",
            'О' => "O",
            'П' => "P",
            'Р' => "R",
            'С' => "S",
            'Т' => "T",
            'У' => "U",
            'Ф' => "F",
            'Х' => match scheme {
                Loose => "H",
                Uzbek => "X",
                _ => "KH",
            },
            'Ц' => "TS",
            'Ч' => "CH",
            'Ш' => "SH",
            'Щ' => "SHCH",
            'Ъ' => match scheme {
                Icao => "IE",
                _ => "",
            },
            'Ы' => "Y",
            'Ь' => "",
            'Э' => "E",
            'Ю' => match scheme {
                Icao | Turkic => "IU",
                Loose if after_consonant => "U",
                _ => "YU",
            },
            'Я' => match scheme {
                Icao | Turkic => "IA",
                Popular if prev == Some('И') => "A",
                _ => "YA",
            },
            // Kazakh and Kyrgyz letters.
            'Ә' => match scheme {
                Turkic => "AE",
                _ => "A",
            },
            'Ғ' => match scheme {
                Turkic => "GH",
                _ => "G",
            },
            'Қ' => match scheme {
                Turkic | Uzbek => "Q",
                _ => "K",
            },
            'Ң' => match scheme {
                Turkic => "NG",
                _ => "N",
            },
            'Ө' => match scheme {
                Turkic => "OE",
                _ => "O",
            },
            'Ұ' => "U",
            'Ү' => match scheme {
                Turkic => "UE",
                _ => "U",
            },
            'Һ' => "H",
            'І' => "I",
            // Uzbek letters: Ў is O' in Uzbek Latin (the apostrophe is dropped
            // like every apostrophe) and U in Russian-style spellings.
            'Ў' => match scheme {
                Uzbek => "O",
                _ => "U",
            },
            'Ҳ' => match scheme {
                Uzbek | Loose => "H",
                _ => "KH",
            },
            // Ukrainian and Belarusian letters, by ICAO 9303.
            'Є' => "IE",
            'Ї' => "I",
            'Ґ' => "G",
            _ => {
                out.push(c);
                i += 1;
                continue;
            }
        };
        out.push_str(latin);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(word: &str, scheme: Scheme) -> String {
        transliterate_word(&word.chars().collect::<Vec<_>>(), scheme)
    }

    #[test]
    fn icao_9303_table() {
        assert_eq!(tr("ЧЖАН", Scheme::Icao), "CHZHAN");
        assert_eq!(tr("ЮЛИЯ", Scheme::Icao), "IULIIA");
        assert_eq!(tr("ЩЕРБАКОВ", Scheme::Icao), "SHCHERBAKOV");
        assert_eq!(tr("ХАЙРУЛЛИН", Scheme::Icao), "KHAIRULLIN");
        assert_eq!(tr("ЦОЙ", Scheme::Icao), "TSOI");
        assert_eq!(tr("ОБЪЕДКОВ", Scheme::Icao), "OBIEEDKOV");
        assert_eq!(tr("ИГОРЬ", Scheme::Icao), "IGOR");
        assert_eq!(tr("ФЁДОРОВ", Scheme::Icao), "FEDOROV");
        assert_eq!(tr("ЭРГАШЕВ", Scheme::Icao), "ERGASHEV");
        assert_eq!(tr("РЫБАКОВ", Scheme::Icao), "RYBAKOV");
    }

    #[test]
    fn older_and_popular_schemes() {
        assert_eq!(tr("ЮЛИЯ", Scheme::Old), "YULIYA");
        assert_eq!(tr("ЮЛИЯ", Scheme::Popular), "YULIA");
        assert_eq!(tr("ДМИТРИЙ", Scheme::Old), "DMITRIY");
        assert_eq!(tr("ДМИТРИЙ", Scheme::Popular), "DMITRY");
        assert_eq!(tr("ЕЛЕНА", Scheme::Popular), "YELENA");
        assert_eq!(tr("ФЁДОРОВ", Scheme::Popular), "FYODOROV");
        assert_eq!(tr("ХАСАНОВ", Scheme::Loose), "HASANOV");
        assert_eq!(tr("ЛЮДМИЛА", Scheme::Loose), "LUDMILA");
        assert_eq!(tr("ЛЮДМИЛА", Scheme::Old), "LYUDMILA");
    }

    #[test]
    fn kazakh_letters() {
        assert_eq!(tr("ҚҰЛЫМБЕТОВ", Scheme::Icao), "KULYMBETOV");
        assert_eq!(tr("ҚҰЛЫМБЕТОВ", Scheme::Turkic), "QULYMBETOV");
        assert_eq!(tr("ӘЛІБЕК", Scheme::Icao), "ALIBEK");
        assert_eq!(tr("ӘЛІБЕК", Scheme::Turkic), "AELIBEK");
        assert_eq!(tr("НҰРМАҒАНБЕТОВ", Scheme::Icao), "NURMAGANBETOV");
        assert_eq!(tr("ТӨЛЕГЕНОВ", Scheme::Turkic), "TOELEGENOV");
        assert_eq!(tr("ҢҮҺ", Scheme::Icao), "NUH");
    }

    #[test]
    fn uzbek_letters() {
        assert_eq!(tr("ЎКТАМ", Scheme::Uzbek), "OKTAM");
        assert_eq!(tr("ЎКТАМ", Scheme::Icao), "UKTAM");
        assert_eq!(tr("ХОЛМАТОВ", Scheme::Uzbek), "XOLMATOV");
        assert_eq!(tr("ЖЎРАЕВ", Scheme::Uzbek), "JORAYEV");
        assert_eq!(tr("РАҲИМОВ", Scheme::Uzbek), "RAHIMOV");
        assert_eq!(tr("ҚОДИРОВ", Scheme::Uzbek), "QODIROV");
    }

    #[test]
    fn latin_letters_pass_through() {
        assert_eq!(tr("ZHANGЧЖАН", Scheme::Icao), "ZHANGCHZHAN");
    }
}
