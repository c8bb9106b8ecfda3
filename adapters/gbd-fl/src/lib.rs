//! Person exports of the legacy state database of individuals (ГБД ФЛ), as
//! the registry import reads them: an XML `persons/person` document and a
//! CSV with a header row (docs/messages.md, "Registry import formats").
//!
//! Both are read as a stream, one person at a time, as string-typed records
//! that remember the line they start on; validating the values is the
//! importer's business. A record this crate cannot make out (a CSV row with
//! the wrong number of fields) comes out as [`Item::Bad`] with its line; a
//! file it cannot read on (malformed XML, a DOCTYPE, an unknown encoding)
//! ends with a [`FatalError`]. Messages never quote the file's values.

mod csv_export;
mod decode;
mod xml_export;

pub use csv_export::CsvExport;
pub use xml_export::XmlExport;

/// One person as the export writes them. Every value is the trimmed text of
/// its element or column; absent is empty.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ExportPerson {
    /// The line the record starts on (1-based).
    pub line: u64,
    pub iin: String,
    pub surname: String,
    pub name: String,
    pub patronymic: String,
    /// Latin spellings, where the export has them beside the Cyrillic.
    pub latin_surname: String,
    pub latin_name: String,
    pub latin_patronymic: String,
    pub birth_date: String,
    pub gender: String,
    pub citizenship: String,
    pub documents: Vec<ExportDocument>,
}

/// Personal data: only the line.
impl std::fmt::Debug for ExportPerson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportPerson")
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct ExportDocument {
    pub kind: String,
    pub number: String,
}

/// What a reader yields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // persons are the common case; boxing each costs more
pub enum Item {
    Person(ExportPerson),
    /// A record that could not be read; the rest of the file goes on.
    Bad {
        line: u64,
        problem: String,
    },
}

/// The file cannot be read any further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct FatalError {
    pub line: u64,
    pub problem: String,
}
