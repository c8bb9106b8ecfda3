//! The seeded generator of labelled foreign applicants: people of several
//! nationalities with realistic names, their registry records, and
//! applications that are either the same person again with the noise of
//! brief §2 or a different person, often a hard one (a twin, a namesake,
//! someone born the same day).

use time::{Date, Duration};

use super::names::*;
use super::rng::Rng;
use super::romanize::{Style, romanize, strip_diacritics, write_out_umlauts};
use crate::domain::application::Sex;
use crate::domain::country::CountryCode;
use crate::matching::identity::Identity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nationality {
    Rus,
    Kgz,
    /// Ethnic Kazakhs holding another citizenship, names in Kazakh Cyrillic.
    Kaz,
    Uzb,
    Chn,
    Kor,
    Tur,
    Deu,
    Ind,
    Usa,
}

impl Nationality {
    /// Roughly the mix of foreigners applying in Kazakhstan.
    const MIX: [(Nationality, f64); 10] = [
        (Nationality::Rus, 0.20),
        (Nationality::Uzb, 0.15),
        (Nationality::Chn, 0.15),
        (Nationality::Kgz, 0.10),
        (Nationality::Kaz, 0.08),
        (Nationality::Tur, 0.09),
        (Nationality::Kor, 0.07),
        (Nationality::Deu, 0.06),
        (Nationality::Ind, 0.05),
        (Nationality::Usa, 0.05),
    ];

    fn pick(rng: &mut Rng) -> Nationality {
        let mut u = rng.unit();
        for (nationality, share) in Nationality::MIX {
            if u < share {
                return nationality;
            }
            u -= share;
        }
        Nationality::Rus
    }

    fn cyrillic_native(self) -> bool {
        matches!(self, Nationality::Rus | Nationality::Kgz | Nationality::Kaz)
    }
}

/// One part of a name (a surname, one given name, a patronymic).
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// Cyrillic, when the name has a Cyrillic form.
    pub cyrillic: Option<String>,
    /// The Latin of the passport's visual zone (diacritics and apostrophes
    /// as written); for Cyrillic-native names, romanised at rendering.
    pub latin: String,
    /// Other established romanisations (Korean surnames).
    pub variants: Vec<&'static str>,
}

impl Part {
    fn cyrillic(cyrillic: &str) -> Part {
        Part {
            cyrillic: Some(cyrillic.to_owned()),
            latin: String::new(),
            variants: vec![],
        }
    }

    fn both(cyrillic: &str, latin: &str) -> Part {
        Part {
            cyrillic: Some(cyrillic.to_owned()),
            latin: latin.to_owned(),
            variants: vec![],
        }
    }

    fn latin(latin: &str) -> Part {
        Part {
            cyrillic: None,
            latin: latin.to_owned(),
            variants: vec![],
        }
    }
}

/// A generated person: the truth behind registry records and applications.
#[derive(Debug, Clone)]
pub struct Person {
    pub nationality: Nationality,
    pub citizenship: &'static str,
    pub sex: Sex,
    pub surname: Part,
    /// Given names; for Chinese and Korean, the syllables of one name.
    pub given: Vec<Part>,
    pub patronymic: Option<Part>,
    pub birth_date: Date,
    /// Current document first, then older ones.
    pub documents: Vec<String>,
    /// The style the person's passport romanises Cyrillic in.
    pub style: Style,
}

fn feminine(surname: &str) -> String {
    if let Some(stem) = surname.strip_suffix("СКИЙ") {
        format!("{stem}СКАЯ")
    } else if ["ОВ", "ЕВ", "ЁВ", "ИН", "ЫН"]
        .iter()
        .any(|e| surname.ends_with(e))
    {
        format!("{surname}А")
    } else {
        surname.to_owned()
    }
}

fn feminine_latin(surname: &str) -> String {
    if surname.ends_with("OV") || surname.ends_with("EV") {
        format!("{surname}A")
    } else {
        surname.to_owned()
    }
}

/// Russian-style patronymic from the father's stem (ИВАНОВ → ИВАНОВИЧ /
/// ИВАНОВНА; СЕРГЕЕВ → СЕРГЕЕВИЧ / СЕРГЕЕВНА).
fn patronymic(stem: &str, sex: Sex) -> String {
    let base = stem
        .strip_suffix("ОВ")
        .map(|s| (s, "ОВ"))
        .or_else(|| stem.strip_suffix("ЕВ").map(|s| (s, "ЕВ")))
        .or_else(|| stem.strip_suffix("ЁВ").map(|s| (s, "ЁВ")));
    match (base, sex) {
        (Some((s, suffix)), Sex::Male) => format!("{s}{suffix}ИЧ"),
        (Some((s, suffix)), Sex::Female) => format!("{s}{suffix}НА"),
        (None, _) => stem.to_owned(),
    }
}

fn citizenship_of(nationality: Nationality, rng: &mut Rng) -> &'static str {
    match nationality {
        Nationality::Rus => "RUS",
        Nationality::Kgz => "KGZ",
        Nationality::Kaz => rng.pick::<&str>(&["MNG", "CHN", "UZB", "RUS"]),
        Nationality::Uzb => "UZB",
        Nationality::Chn => "CHN",
        Nationality::Kor => "KOR",
        Nationality::Tur => "TUR",
        Nationality::Deu => "DEU",
        Nationality::Ind => "IND",
        Nationality::Usa => "USA",
    }
}

/// A document number in the format of the citizenship's passports.
pub fn document_number(citizenship: &str, rng: &mut Rng) -> String {
    match citizenship {
        "RUS" => format!("{}{}", rng.pick(&["72", "75", "76"]), rng.digits(7)),
        "KGZ" => format!("AC{}", rng.digits(7)),
        "UZB" => format!("{}{}", rng.pick(&["FA", "AB", "AD"]), rng.digits(7)),
        "CHN" => format!("E{}", rng.digits(8)),
        "MNG" => format!("E{}", rng.digits(7)),
        "KOR" => format!("M{}", rng.digits(8)),
        "TUR" => format!("U{}", rng.digits(8)),
        "DEU" => {
            const ALPHABET: &[u8] = b"CFGHJKLMNPRTVWXYZ0123456789";
            let body: String = (0..8).map(|_| char::from(*rng.pick(ALPHABET))).collect();
            format!("C{body}")
        }
        "IND" => format!("{}{}", rng.letters(1), rng.digits(7)),
        _ => rng.digits(9),
    }
}

fn birth_date(rng: &mut Rng) -> Date {
    let first = Date::from_calendar_date(1950, time::Month::January, 1).expect("a date");
    first + Duration::days(rng.below(58 * 365) as i64)
}

/// Given names of a nationality and sex, as parts.
fn given_names(nationality: Nationality, sex: Sex, rng: &mut Rng) -> Vec<Part> {
    let male = sex == Sex::Male;
    match nationality {
        Nationality::Rus => vec![Part::cyrillic(if male {
            rng.pick_common(RUS_MALE).0
        } else {
            rng.pick_common::<&str>(RUS_FEMALE)
        })],
        Nationality::Kgz => vec![Part::cyrillic(if male {
            rng.pick_common(KGZ_MALE).0
        } else {
            rng.pick_common::<&str>(KGZ_FEMALE)
        })],
        Nationality::Kaz => vec![Part::cyrillic(if male {
            rng.pick_common(KAZ_MALE).0
        } else {
            rng.pick_common::<&str>(KAZ_FEMALE)
        })],
        Nationality::Uzb => {
            let (c, l) = if male {
                rng.pick_common(UZB_MALE)
            } else {
                rng.pick_common(UZB_FEMALE)
            };
            vec![Part::both(c, l)]
        }
        Nationality::Chn => {
            let count = if rng.chance(0.75) { 2 } else { 1 };
            (0..count)
                .map(|_| {
                    let (l, c) = rng.pick_common(CHN_SYLLABLES);
                    Part::both(c, l)
                })
                .collect()
        }
        Nationality::Kor => (0..2)
            .map(|_| Part::latin(rng.pick_common::<&str>(KOR_SYLLABLES)))
            .collect(),
        Nationality::Tur => vec![Part::latin(if male {
            rng.pick_common::<&str>(TUR_MALE)
        } else {
            rng.pick_common::<&str>(TUR_FEMALE)
        })],
        Nationality::Deu | Nationality::Usa => {
            let pool = match (nationality, male) {
                (Nationality::Deu, true) => DEU_MALE,
                (Nationality::Deu, false) => DEU_FEMALE,
                (_, true) => USA_MALE,
                (_, false) => USA_FEMALE,
            };
            let first = *rng.pick_common(pool);
            let mut names = vec![Part::latin(first)];
            if rng.chance(0.4) {
                let middle = *rng.pick(pool);
                if middle != first {
                    names.push(Part::latin(middle));
                }
            }
            names
        }
        Nationality::Ind => vec![Part::latin(if male {
            rng.pick_common::<&str>(IND_MALE)
        } else {
            rng.pick_common::<&str>(IND_FEMALE)
        })],
    }
}

fn surname(nationality: Nationality, sex: Sex, rng: &mut Rng) -> Part {
    let female = sex == Sex::Female;
    let cyrillic = |pool: &[&str], rng: &mut Rng| {
        let s = *rng.pick_common(pool);
        Part::cyrillic(&if female { feminine(s) } else { s.to_owned() })
    };
    match nationality {
        Nationality::Rus => cyrillic(RUS_SURNAMES, rng),
        Nationality::Kgz => cyrillic(KGZ_SURNAMES, rng),
        Nationality::Kaz => cyrillic(KAZ_SURNAMES, rng),
        Nationality::Uzb => {
            let (c, l) = rng.pick_common(UZB_SURNAMES);
            if female {
                Part::both(&feminine(c), &feminine_latin(l))
            } else {
                Part::both(c, l)
            }
        }
        Nationality::Chn => {
            let (l, c) = rng.pick_common(CHN_SURNAMES);
            Part::both(c, l)
        }
        Nationality::Kor => {
            let (l, variants, c) = rng.pick_common(KOR_SURNAMES);
            Part {
                cyrillic: Some((*c).to_owned()),
                latin: (*l).to_owned(),
                variants: variants.to_vec(),
            }
        }
        Nationality::Tur => Part::latin(rng.pick_common::<&str>(TUR_SURNAMES)),
        Nationality::Deu => Part::latin(rng.pick_common::<&str>(DEU_SURNAMES)),
        Nationality::Ind => Part::latin(rng.pick_common::<&str>(IND_SURNAMES)),
        Nationality::Usa => Part::latin(rng.pick_common::<&str>(USA_SURNAMES)),
    }
}

fn father_stem(nationality: Nationality, rng: &mut Rng) -> Option<&'static str> {
    match nationality {
        Nationality::Rus => Some(rng.pick(RUS_MALE).1),
        Nationality::Kgz => Some(rng.pick(KGZ_MALE).1),
        Nationality::Kaz => Some(rng.pick(KAZ_MALE).1),
        Nationality::Uzb => Some(rng.pick(UZB_SURNAMES).0),
        _ => None,
    }
}

fn passport_style(nationality: Nationality, rng: &mut Rng) -> Style {
    match nationality {
        Nationality::Kgz if rng.chance(0.6) => Style::Kyrgyz,
        _ if rng.chance(0.55) => Style::Icao,
        _ => Style::Old,
    }
}

/// A new random person.
pub fn person(rng: &mut Rng) -> Person {
    let nationality = Nationality::pick(rng);
    person_of(nationality, rng)
}

pub fn person_of(nationality: Nationality, rng: &mut Rng) -> Person {
    let sex = if rng.chance(0.5) {
        Sex::Male
    } else {
        Sex::Female
    };
    let citizenship = citizenship_of(nationality, rng);
    // Patronymics: Russian-style for Russians and most of the others from the
    // former USSR; Uzbeks often have none in the passport.
    let patronymic = match father_stem(nationality, rng) {
        Some(stem) if nationality != Nationality::Uzb || rng.chance(0.5) => {
            Some(Part::cyrillic(&patronymic(stem, sex)))
        }
        _ => None,
    };
    let mut documents = vec![document_number(citizenship, rng)];
    if rng.chance(0.2) {
        documents.push(document_number(citizenship, rng));
    }
    Person {
        nationality,
        citizenship,
        sex,
        surname: surname(nationality, sex, rng),
        given: given_names(nationality, sex, rng),
        patronymic,
        birth_date: birth_date(rng),
        documents,
        style: passport_style(nationality, rng),
    }
}

/// A twin of `p`: same surname, birth date, citizenship and patronymic; a
/// given name of their own and their own passport.
pub fn twin(p: &Person, rng: &mut Rng) -> Person {
    let mut twin = p.clone();
    twin.sex = if rng.chance(0.5) {
        Sex::Male
    } else {
        Sex::Female
    };
    if twin.sex != p.sex {
        let other = person_of(p.nationality, rng);
        // The sibling's surname in the other gender's form.
        twin.surname = surname_for_sex(p, twin.sex, rng).unwrap_or(other.surname);
    }
    loop {
        twin.given = given_names(p.nationality, twin.sex, rng);
        if twin.given != p.given {
            break;
        }
    }
    if let Some(Part {
        cyrillic: Some(_), ..
    }) = &p.patronymic
    {
        // Same father: same patronymic stem, in the twin's gender.
        twin.patronymic = p.patronymic.clone().map(|mut part| {
            if let Some(c) = &part.cyrillic {
                let stem = c.trim_end_matches("ИЧ").trim_end_matches("НА").to_owned();
                part.cyrillic = Some(patronymic(&stem, twin.sex));
            }
            part
        });
    }
    twin.documents = vec![if rng.chance(0.3) {
        next_number(&p.documents[0])
    } else {
        document_number(p.citizenship, rng)
    }];
    twin
}

fn surname_for_sex(p: &Person, sex: Sex, _rng: &mut Rng) -> Option<Part> {
    let mut part = p.surname.clone();
    let cyrillic = part.cyrillic.clone()?;
    let masculine = cyrillic
        .strip_suffix("СКАЯ")
        .map(|s| format!("{s}СКИЙ"))
        .or_else(|| cyrillic.strip_suffix('А').map(str::to_owned))
        .unwrap_or(cyrillic.clone());
    part.cyrillic = Some(if sex == Sex::Female {
        feminine(&masculine)
    } else {
        masculine
    });
    if !part.latin.is_empty() {
        let latin = part.latin.trim_end_matches('A').to_owned();
        part.latin = if sex == Sex::Female {
            feminine_latin(&latin)
        } else {
            latin
        };
    }
    Some(part)
}

/// The next passport number (twins' passports are often issued together):
/// the last digit moved on, or the one before it when the last is 9.
fn next_number(number: &str) -> String {
    let mut bytes = number.as_bytes().to_vec();
    if let Some(last) = bytes
        .iter_mut()
        .rev()
        .find(|b| b.is_ascii_digit() && **b != b'9')
    {
        *last += 1;
    } else if let Some(last) = bytes.last_mut() {
        *last = b'0';
    }
    String::from_utf8(bytes).expect("ASCII stays ASCII")
}

/// Someone with `p`'s names, sex and citizenship, born another day.
pub fn namesake(p: &Person, rng: &mut Rng) -> Person {
    let mut other = p.clone();
    while other.birth_date == p.birth_date {
        other.birth_date = birth_date(rng);
    }
    other.documents = vec![document_number(p.citizenship, rng)];
    other.style = passport_style(p.nationality, rng);
    other
}

/// Someone else of `p`'s nationality, sex and birth date.
pub fn born_same_day(p: &Person, rng: &mut Rng) -> Person {
    loop {
        let mut other = person_of(p.nationality, rng);
        if other.surname == p.surname {
            continue;
        }
        other.sex = p.sex;
        other.citizenship = p.citizenship;
        other.birth_date = p.birth_date;
        other.given = given_names(p.nationality, p.sex, rng);
        return other;
    }
}

/// How names are written in one record.
#[derive(Debug, Clone)]
struct Writing {
    latin: bool,
    cyrillic: bool,
    style: Style,
    /// Chinese and Korean given names written as one token.
    joined: bool,
    /// Korean given names hyphenated (MIN-JUN) when not joined.
    hyphen: bool,
    /// Turkish and German: the visual zone with diacritics, or the MRZ.
    visual: bool,
    apostrophes: bool,
    surname_variant: Option<&'static str>,
    middle_names: bool,
    patronymic: bool,
}

fn writing(p: &Person, registry: bool, rng: &mut Rng) -> Writing {
    let (latin, cyrillic) = match p.nationality {
        n if n.cyrillic_native() || n == Nationality::Uzb => {
            if registry {
                // The legacy registry writes Cyrillic, sometimes with Latin.
                (rng.chance(0.5), true)
            } else if rng.chance(0.1) {
                (false, true)
            } else {
                (true, rng.chance(0.4))
            }
        }
        Nationality::Chn | Nationality::Kor => {
            (true, rng.chance(if registry { 0.3 } else { 0.15 }))
        }
        _ => (true, false),
    };
    Writing {
        latin,
        cyrillic,
        style: p.style,
        joined: match p.nationality {
            Nationality::Chn => true,
            Nationality::Kor => rng.chance(0.4),
            _ => false,
        },
        hyphen: rng.chance(0.6),
        visual: rng.chance(0.5),
        apostrophes: true,
        surname_variant: None,
        middle_names: true,
        patronymic: !registry || rng.chance(0.9),
    }
}

fn latin_of(part: &Part, w: &Writing, p: &Person) -> String {
    let latin = if part.latin.is_empty() {
        romanize(part.cyrillic.as_deref().unwrap_or_default(), w.style)
    } else if p.nationality == Nationality::Uzb && w.style != p.style {
        // Another romanisation of an Uzbek name: Russian-style, from Cyrillic.
        romanize(part.cyrillic.as_deref().unwrap_or_default(), w.style)
    } else {
        part.latin.clone()
    };
    let latin = match p.nationality {
        Nationality::Tur if !w.visual => strip_diacritics(&latin),
        Nationality::Deu if !w.visual => write_out_umlauts(&latin),
        _ => latin,
    };
    if w.apostrophes {
        latin
    } else {
        latin.replace('\'', "")
    }
}

fn forms(parts: &[Part], w: &Writing, p: &Person, separator: &str) -> Vec<String> {
    let mut forms = Vec::new();
    if w.latin {
        forms.push(
            parts
                .iter()
                .map(|part| latin_of(part, w, p))
                .collect::<Vec<_>>()
                .join(separator),
        );
    }
    if w.cyrillic && parts.iter().all(|part| part.cyrillic.is_some()) {
        forms.push(
            parts
                .iter()
                .filter_map(|part| part.cyrillic.clone())
                .collect::<Vec<_>>()
                .join(if separator.is_empty() { "" } else { " " }),
        );
    }
    if forms.is_empty() {
        forms.push(
            parts
                .iter()
                .map(|part| latin_of(part, w, p))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    forms
}

fn identity(p: &Person, w: &Writing, documents: Vec<String>) -> Identity {
    let mut surname = p.surname.clone();
    if let Some(variant) = w.surname_variant {
        surname.latin = variant.to_owned();
    }
    let given: Vec<Part> = if w.middle_names {
        p.given.clone()
    } else {
        p.given[..1].to_vec()
    };
    let separator = match p.nationality {
        Nationality::Chn | Nationality::Kor if w.joined => "",
        Nationality::Kor if w.hyphen => "-",
        _ => " ",
    };
    Identity {
        surname: forms(std::slice::from_ref(&surname), w, p, " "),
        given_names: forms(&given, w, p, separator),
        patronymic: match (&p.patronymic, w.patronymic) {
            (Some(part), true) => forms(std::slice::from_ref(part), w, p, " "),
            _ => vec![],
        },
        birth_date: p.birth_date,
        sex: Some(p.sex),
        citizenship: CountryCode::parse(p.citizenship).ok(),
        document_numbers: documents,
    }
}

/// How the registry (the legacy MVD export) holds a person.
pub fn registry_record(p: &Person, rng: &mut Rng) -> Identity {
    let w = writing(p, true, rng);
    identity(p, &w, p.documents.clone())
}

/// The noise an application of a registered person carries (brief §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Noise {
    /// The Latin comes from another romanisation than the registry's.
    OtherTransliteration,
    /// Chinese or Korean given names joined where the registry split them,
    /// or the other way round.
    JoinedOrSplit,
    SurnameGivenSwapped,
    /// Turkish or German diacritics written another way (Ö, O, OE).
    Diacritics,
    ApostropheLost,
    PatronymicDropped,
    /// The patronymic written into the given names (an MRZ habit).
    PatronymicInGivenNames,
    MiddleNameDropped,
    /// Another romanisation of a Korean surname (LEE, YI, RHEE).
    KoreanSurnameVariant,
    DayMonthSwapped,
    BirthDateDigit,
    NameTypo,
    RenewedPassport,
    DocumentFormatting,
    CitizenshipChanged,
}

impl Noise {
    pub fn as_str(self) -> &'static str {
        match self {
            Noise::OtherTransliteration => "other transliteration",
            Noise::JoinedOrSplit => "given names joined/split",
            Noise::SurnameGivenSwapped => "surname/given swapped",
            Noise::Diacritics => "diacritics (O/OE)",
            Noise::ApostropheLost => "apostrophe lost",
            Noise::PatronymicDropped => "patronymic dropped",
            Noise::PatronymicInGivenNames => "patronymic in given names",
            Noise::MiddleNameDropped => "middle name dropped",
            Noise::KoreanSurnameVariant => "Korean surname variant",
            Noise::DayMonthSwapped => "day/month swapped",
            Noise::BirthDateDigit => "birth date digit wrong",
            Noise::NameTypo => "typo in a name",
            Noise::RenewedPassport => "renewed passport",
            Noise::DocumentFormatting => "document number formatting",
            Noise::CitizenshipChanged => "citizenship changed",
        }
    }
}

fn other_style(p: &Person, rng: &mut Rng) -> Style {
    loop {
        let style = if rng.chance(0.15) {
            *rng.pick(&[Style::German, Style::French])
        } else {
            *rng.pick(&[Style::Icao, Style::Old, Style::Kyrgyz])
        };
        if style != p.style {
            return style;
        }
    }
}

fn typo(name: &str, rng: &mut Rng) -> String {
    let chars: Vec<char> = name.chars().collect();
    let letters: Vec<usize> = (1..chars.len())
        .filter(|&i| chars[i].is_alphabetic())
        .collect();
    if letters.is_empty() {
        return name.to_owned();
    }
    let at = *rng.pick(&letters);
    let replacement = if chars[at].is_ascii() {
        char::from(b'A' + rng.below(26) as u8)
    } else {
        *rng.pick(&['А', 'Е', 'И', 'О', 'У', 'К', 'Н', 'Р', 'С', 'Т'])
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i == at { replacement } else { *c })
        .collect()
}

fn formatted(number: &str, rng: &mut Rng) -> String {
    let split = 2.min(number.len());
    match rng.below(3) {
        0 => format!("{} {}", &number[..split], &number[split..]),
        1 => format!("{}-{}", &number[..split], &number[split..]),
        _ => number.to_lowercase(),
    }
}

fn other_date(date: Date, rng: &mut Rng) -> Option<Date> {
    // One digit of YYYYMMDD changed to another value that is still a date.
    for _ in 0..20 {
        let mut digits: Vec<u8> = format!(
            "{:04}{:02}{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        )
        .into_bytes();
        let at = 2 + rng.below(6);
        let digit = b'0' + rng.below(10) as u8;
        if digits[at] == digit {
            continue;
        }
        digits[at] = digit;
        let text = String::from_utf8(digits).ok()?;
        let year: i32 = text[..4].parse().ok()?;
        let month = time::Month::try_from(text[4..6].parse::<u8>().ok()?).ok();
        let day: u8 = text[6..].parse().ok()?;
        if let Some(d) = month.and_then(|m| Date::from_calendar_date(year, m, day).ok()) {
            return Some(d);
        }
    }
    None
}

/// An application by the registered person `p`, whose registry record was
/// written as `registered`, with noise; and the noise applied.
pub fn duplicate(p: &Person, rng: &mut Rng) -> (Identity, Vec<Noise>) {
    let mut noise = Vec::new();
    let mut q = p.clone();
    let mut w = writing(p, false, rng);
    if (p.nationality.cyrillic_native() || p.nationality == Nationality::Uzb) && rng.chance(0.35) {
        w.style = other_style(p, rng);
        noise.push(Noise::OtherTransliteration);
    }
    match p.nationality {
        Nationality::Chn | Nationality::Kor if rng.chance(0.4) && p.given.len() > 1 => {
            w.joined = !w.joined;
            noise.push(Noise::JoinedOrSplit);
        }
        Nationality::Tur | Nationality::Deu if rng.chance(0.5) => {
            w.visual = !w.visual;
            noise.push(Noise::Diacritics);
        }
        Nationality::Uzb
            if rng.chance(0.4)
                && (p.surname.latin.contains('\'') || p.given[0].latin.contains('\'')) =>
        {
            w.apostrophes = false;
            noise.push(Noise::ApostropheLost);
        }
        Nationality::Kor if rng.chance(0.3) && !p.surname.variants.is_empty() => {
            w.surname_variant = Some(*rng.pick(&p.surname.variants));
            noise.push(Noise::KoreanSurnameVariant);
        }
        Nationality::Deu | Nationality::Usa if p.given.len() > 1 && rng.chance(0.3) => {
            w.middle_names = false;
            noise.push(Noise::MiddleNameDropped);
        }
        _ => {}
    }
    if p.patronymic.is_some() && rng.chance(0.3) {
        w.patronymic = false;
        noise.push(Noise::PatronymicDropped);
    }
    let d = p.birth_date;
    if rng.chance(0.05) && d.day() <= 12 && d.day() != u8::from(d.month()) {
        let month = time::Month::try_from(d.day()).expect("a day up to 12 is a month");
        if let Ok(swapped) = Date::from_calendar_date(d.year(), month, u8::from(d.month())) {
            q.birth_date = swapped;
            noise.push(Noise::DayMonthSwapped);
        }
    } else if rng.chance(0.02) {
        if let Some(other) = other_date(d, rng) {
            q.birth_date = other;
            noise.push(Noise::BirthDateDigit);
        }
    }
    let mut document = p.documents[0].clone();
    if rng.chance(0.45) {
        document = document_number(p.citizenship, rng);
        noise.push(Noise::RenewedPassport);
    } else if rng.chance(0.25) {
        document = formatted(&document, rng);
        noise.push(Noise::DocumentFormatting);
    }
    if rng.chance(0.01) {
        q.citizenship = if p.citizenship == "RUS" { "KAZ" } else { "RUS" };
        noise.push(Noise::CitizenshipChanged);
    }
    let mut identity = identity(&q, &w, vec![document]);
    if rng.chance(0.03) {
        let target = if rng.chance(0.5) {
            &mut identity.surname
        } else {
            &mut identity.given_names
        };
        if let Some(first) = target.first_mut() {
            *first = typo(first, rng);
            noise.push(Noise::NameTypo);
        }
    }
    if !identity.patronymic.is_empty()
        && rng.chance(0.05)
        && identity.patronymic.len() == identity.given_names.len()
    {
        for (given, patronymic) in identity.given_names.iter_mut().zip(&identity.patronymic) {
            given.push(' ');
            given.push_str(patronymic);
        }
        identity.patronymic.clear();
        noise.push(Noise::PatronymicInGivenNames);
    }
    if rng.chance(0.04) {
        std::mem::swap(&mut identity.surname, &mut identity.given_names);
        noise.push(Noise::SurnameGivenSwapped);
    }
    (identity, noise)
}

/// An application by someone not in the registry, written the usual way.
pub fn application(p: &Person, rng: &mut Rng) -> Identity {
    let w = writing(p, false, rng);
    identity(p, &w, vec![p.documents[0].clone()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_forms() {
        assert_eq!(feminine("ИВАНОВ"), "ИВАНОВА");
        assert_eq!(feminine("ЖУКОВСКИЙ"), "ЖУКОВСКАЯ");
        assert_eq!(patronymic("СЕРГЕЕВ", Sex::Male), "СЕРГЕЕВИЧ");
        assert_eq!(patronymic("ИВАНОВ", Sex::Female), "ИВАНОВНА");
    }

    #[test]
    fn twins_differ_in_given_names_only() {
        let mut rng = Rng::new(3);
        for _ in 0..200 {
            let p = person(&mut rng);
            let t = twin(&p, &mut rng);
            assert_eq!(t.birth_date, p.birth_date);
            assert_ne!(t.given, p.given);
            assert_ne!(t.documents[0], p.documents[0]);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_people() {
        let a: Vec<Identity> = {
            let mut r = Rng::new(9);
            (0..50)
                .map(|_| application(&person(&mut r), &mut r))
                .collect()
        };
        let b: Vec<Identity> = {
            let mut r = Rng::new(9);
            (0..50)
                .map(|_| application(&person(&mut r), &mut r))
                .collect()
        };
        assert!(a == b);
    }
}
