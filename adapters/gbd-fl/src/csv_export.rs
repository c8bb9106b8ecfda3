//! The CSV export: UTF-8, comma-separated, a header row naming the columns
//! (in any order): `iin,surname,name,patronymic,birth_date,gender,
//! citizenship,document_numbers`, and optionally `latin_surname`,
//! `latin_name`, `latin_patronymic`. `document_numbers` holds the numbers
//! separated by `;`.

use std::io::Read;

use crate::{ExportDocument, ExportPerson, FatalError, Item};

const REQUIRED: [&str; 8] = [
    "iin",
    "surname",
    "name",
    "patronymic",
    "birth_date",
    "gender",
    "citizenship",
    "document_numbers",
];

/// Reads persons from a CSV export, one row at a time.
pub struct CsvExport<R> {
    reader: csv::Reader<R>,
    record: csv::StringRecord,
    columns: Vec<Option<usize>>,
    finished: bool,
}

const OPTIONAL: [&str; 3] = ["latin_surname", "latin_name", "latin_patronymic"];

impl<R: Read> CsvExport<R> {
    /// Reads the header row; a missing required column is fatal.
    pub fn new(input: R) -> Result<CsvExport<R>, FatalError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(input);
        let headers = reader
            .headers()
            .map_err(|e| FatalError {
                line: 1,
                problem: format!("cannot read the header row: {}", describe(&e)),
            })?
            .clone();
        let find = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
        };
        let mut columns = Vec::new();
        for name in REQUIRED {
            let Some(at) = find(name) else {
                return Err(FatalError {
                    line: 1,
                    problem: format!("the header row has no column {name}"),
                });
            };
            columns.push(Some(at));
        }
        columns.extend(OPTIONAL.iter().map(|name| find(name)));
        Ok(CsvExport {
            reader,
            record: csv::StringRecord::new(),
            columns,
            finished: false,
        })
    }

    fn field(&self, column: usize) -> String {
        self.columns[column]
            .and_then(|at| self.record.get(at))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }
}

fn describe(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(e) => format!("cannot read: {e}"),
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".into(),
        csv::ErrorKind::UnequalLengths { .. } => "wrong number of fields".into(),
        _ => "cannot be parsed".into(),
    }
}

impl<R: Read> Iterator for CsvExport<R> {
    type Item = Result<Item, FatalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let expected = self.reader.headers().map(|h| h.len()).unwrap_or(0);
        match self.reader.read_record(&mut self.record) {
            Ok(false) => {
                self.finished = true;
                None
            }
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                if self.record.len() != expected {
                    return Some(Ok(Item::Bad {
                        line,
                        problem: format!(
                            "{} fields where the header has {expected}",
                            self.record.len()
                        ),
                    }));
                }
                let documents = self
                    .field(7)
                    .split(';')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|number| ExportDocument {
                        kind: String::new(),
                        number: number.to_owned(),
                    })
                    .collect();
                Some(Ok(Item::Person(ExportPerson {
                    line,
                    iin: self.field(0),
                    surname: self.field(1),
                    name: self.field(2),
                    patronymic: self.field(3),
                    birth_date: self.field(4),
                    gender: self.field(5),
                    citizenship: self.field(6),
                    documents,
                    latin_surname: self.field(8),
                    latin_name: self.field(9),
                    latin_patronymic: self.field(10),
                })))
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    // The csv reader has consumed the row: go on after it.
                    return Some(Ok(Item::Bad {
                        line,
                        problem: describe(&e),
                    }));
                }
                self.finished = true;
                Some(Err(FatalError {
                    line,
                    problem: describe(&e),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_by_header_with_their_lines() {
        let text = "iin,surname,name,patronymic,birth_date,gender,citizenship,document_numbers\n\
                    900704300015,ZHANG,XIAOMING,,1990-07-04,M,CHN,E1;E2\n\
                    1,2,3\n\
                    \"900704300015\",\"A\nB\",C,,1990-07-04,M,CHN,\n\
                    900704300015,X,Y,,1990-07-04,F,KAZ,E3\n";
        let items: Vec<_> = CsvExport::new(text.as_bytes()).unwrap().collect();
        assert_eq!(items.len(), 4);
        let Ok(Item::Person(p)) = &items[0] else {
            panic!()
        };
        assert_eq!((p.line, p.documents.len()), (2, 2));
        assert!(matches!(&items[1], Ok(Item::Bad { line: 3, .. })));
        let Ok(Item::Person(q)) = &items[3] else {
            panic!()
        };
        assert_eq!(q.line, 6);
    }

    #[test]
    fn a_missing_column_is_fatal() {
        assert!(CsvExport::new("iin,surname\n".as_bytes()).is_err());
    }
}
