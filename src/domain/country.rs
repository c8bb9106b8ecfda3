//! Country codes: ISO 3166-1 alpha-3, plus the ICAO 9303 codes that travel
//! documents use for people without a nationality.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::InvalidValue;
use super::text::string_conversions;

/// The officially assigned ISO 3166-1 alpha-3 codes (249), sorted for binary
/// search. Checked against Debian's iso-codes `iso_3166-1.json`; when ISO
/// changes the list, update it from the standard, not from memory.
const ISO_3166_ALPHA3: [&str; 249] = [
    "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ARE", "ARG", "ARM", "ASM", "ATA", "ATF",
    "ATG", "AUS", "AUT", "AZE", "BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR", "BHR", "BHS",
    "BIH", "BLM", "BLR", "BLZ", "BMU", "BOL", "BRA", "BRB", "BRN", "BTN", "BVT", "BWA", "CAF",
    "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD", "COG", "COK", "COL", "COM", "CPV",
    "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE", "DEU", "DJI", "DMA", "DNK", "DOM", "DZA",
    "ECU", "EGY", "ERI", "ESH", "ESP", "EST", "ETH", "FIN", "FJI", "FLK", "FRA", "FRO", "FSM",
    "GAB", "GBR", "GEO", "GGY", "GHA", "GIB", "GIN", "GLP", "GMB", "GNB", "GNQ", "GRC", "GRD",
    "GRL", "GTM", "GUF", "GUM", "GUY", "HKG", "HMD", "HND", "HRV", "HTI", "HUN", "IDN", "IMN",
    "IND", "IOT", "IRL", "IRN", "IRQ", "ISL", "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ",
    "KEN", "KGZ", "KHM", "KIR", "KNA", "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE",
    "LKA", "LSO", "LTU", "LUX", "LVA", "MAC", "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX",
    "MHL", "MKD", "MLI", "MLT", "MMR", "MNE", "MNG", "MNP", "MOZ", "MRT", "MSR", "MTQ", "MUS",
    "MWI", "MYS", "MYT", "NAM", "NCL", "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR", "NPL",
    "NRU", "NZL", "OMN", "PAK", "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL", "PRI", "PRK",
    "PRT", "PRY", "PSE", "PYF", "QAT", "REU", "ROU", "RUS", "RWA", "SAU", "SDN", "SEN", "SGP",
    "SGS", "SHN", "SJM", "SLB", "SLE", "SLV", "SMR", "SOM", "SPM", "SRB", "SSD", "STP", "SUR",
    "SVK", "SVN", "SWE", "SWZ", "SXM", "SYC", "SYR", "TCA", "TCD", "TGO", "THA", "TJK", "TKL",
    "TKM", "TLS", "TON", "TTO", "TUN", "TUR", "TUV", "TWN", "TZA", "UGA", "UKR", "UMI", "URY",
    "USA", "UZB", "VAT", "VCT", "VEN", "VGB", "VIR", "VNM", "VUT", "WLF", "WSM", "YEM", "ZAF",
    "ZMB", "ZWE",
];

/// ICAO 9303 codes for a holder without a state of nationality: `XXA`
/// stateless person, `XXB` refugee (1951 Convention), `XXC` other refugee,
/// `XXX` unspecified nationality. Sorted.
const ICAO_NO_NATIONALITY: [&str; 4] = ["XXA", "XXB", "XXC", "XXX"];

/// A country (or ICAO no-nationality) code as the contract carries it:
/// three upper-case letters from the lists above.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 3]);

string_conversions!(CountryCode);

impl CountryCode {
    /// Lower case is refused rather than folded: the contract says upper case,
    /// and a sender that gets it wrong should learn it early.
    pub fn parse(s: &str) -> Result<CountryCode, InvalidValue> {
        const FIELD: &str = "country code";
        let bytes: [u8; 3] = s
            .as_bytes()
            .try_into()
            .map_err(|_| InvalidValue::new(FIELD, "not 3 letters"))?;
        if !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(InvalidValue::new(FIELD, "not 3 upper-case letters A-Z"));
        }
        let known = ISO_3166_ALPHA3.binary_search(&s).is_ok()
            || ICAO_NO_NATIONALITY.binary_search(&s).is_ok();
        if !known {
            return Err(InvalidValue::new(
                FIELD,
                "not an assigned ISO 3166-1 alpha-3 code or ICAO XXA/XXB/XXC/XXX",
            ));
        }
        Ok(CountryCode(bytes))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a CountryCode holds ASCII letters only")
    }

    /// Whether the code says the holder has no nationality (ICAO `XX?`).
    pub fn is_no_nationality(&self) -> bool {
        self.0[..2] == *b"XX"
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountryCode({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_and_distinct() {
        assert!(ISO_3166_ALPHA3.windows(2).all(|w| w[0] < w[1]));
        assert!(ICAO_NO_NATIONALITY.windows(2).all(|w| w[0] < w[1]));
        assert!(
            ICAO_NO_NATIONALITY
                .iter()
                .all(|code| ISO_3166_ALPHA3.binary_search(code).is_err())
        );
    }

    #[test]
    fn every_listed_code_parses_and_round_trips() {
        for code in ISO_3166_ALPHA3.iter().chain(&ICAO_NO_NATIONALITY) {
            assert_eq!(CountryCode::parse(code).unwrap().as_str(), *code);
        }
    }

    #[test]
    fn known_codes() {
        for code in ["KAZ", "CHN", "RUS", "UZB", "TUR", "DEU", "SSD", "BES"] {
            assert!(CountryCode::parse(code).is_ok(), "{code}");
        }
        assert!(CountryCode::parse("XXA").unwrap().is_no_nationality());
        assert!(!CountryCode::parse("KAZ").unwrap().is_no_nationality());
    }

    #[test]
    fn unassigned_wrong_case_and_wrong_shape_are_refused() {
        for bad in [
            "kaz", "Kaz", "KZ", "KAZA", "", "XXD", "SUN", "YUG", "D<<", "ÄÄÄ", "D",
        ] {
            assert!(CountryCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let code = CountryCode::parse("KAZ").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"KAZ\"");
        assert_eq!(
            serde_json::from_str::<CountryCode>("\"KAZ\"").unwrap(),
            code
        );
        assert!(serde_json::from_str::<CountryCode>("\"ZZZ\"").is_err());
    }
}
