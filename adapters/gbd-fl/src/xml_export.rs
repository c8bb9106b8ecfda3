//! The XML export: `persons/person`, one element per value (see
//! docs/schemas/RegistryExport.xsd). Elements are matched by local name;
//! elements the importer does not use are skipped, so a full ГБД ФЛ export
//! with more fields reads as well.

use std::io::BufRead;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::decode::{Decoded, declared_encoding};
use crate::{ExportDocument, ExportPerson, FatalError, Item};

/// Reads persons from an XML export, one at a time.
pub struct XmlExport {
    reader: Reader<Box<dyn BufRead + Send>>,
    buf: Vec<u8>,
    /// Newlines seen so far: the current line is this plus one.
    newlines: u64,
    /// Local names of the open elements.
    path: Vec<String>,
    text: String,
    person: Option<ExportPerson>,
    document: Option<ExportDocument>,
    finished: bool,
}

impl XmlExport {
    /// Starts reading; the XML declaration decides between UTF-8 and
    /// windows-1251.
    pub fn new<R: BufRead + Send + 'static>(mut input: R) -> Result<XmlExport, FatalError> {
        let head = input
            .fill_buf()
            .map_err(|e| FatalError {
                line: 1,
                problem: format!("cannot read: {e}"),
            })?
            .to_vec();
        let input: Box<dyn BufRead + Send> = match declared_encoding(&head)? {
            None => Box::new(input),
            Some(encoding) => Box::new(std::io::BufReader::with_capacity(
                1 << 16,
                Decoded::new(input, encoding),
            )),
        };
        let mut reader = Reader::from_reader(input);
        reader.config_mut().trim_text(false);
        Ok(XmlExport {
            reader,
            buf: Vec::with_capacity(4096),
            newlines: 0,
            path: Vec::with_capacity(8),
            text: String::new(),
            person: None,
            document: None,
            finished: false,
        })
    }

    fn line(&self) -> u64 {
        self.newlines + 1
    }

    fn fatal(&mut self, problem: impl Into<String>) -> Option<Result<Item, FatalError>> {
        self.finished = true;
        Some(Err(FatalError {
            line: self.line(),
            problem: problem.into(),
        }))
    }

    /// Handles the end of the innermost element; a finished person is
    /// returned.
    fn close(&mut self, name: &str) -> Option<ExportPerson> {
        let depth = self.path.len();
        let text = std::mem::take(&mut self.text);
        let value = text.trim();
        match depth {
            2 if name == "person" => return self.person.take(),
            3 => {
                if let Some(p) = self.person.as_mut() {
                    let field = match name {
                        "iin" => &mut p.iin,
                        "surname" => &mut p.surname,
                        "name" => &mut p.name,
                        "patronymic" => &mut p.patronymic,
                        "latinSurname" => &mut p.latin_surname,
                        "latinName" => &mut p.latin_name,
                        "latinPatronymic" => &mut p.latin_patronymic,
                        "birthDate" => &mut p.birth_date,
                        "gender" => &mut p.gender,
                        "citizenship" => &mut p.citizenship,
                        _ => return None,
                    };
                    *field = value.to_owned();
                }
            }
            4 if name == "document" && self.path[2] == "documents" => {
                if let (Some(p), Some(d)) = (self.person.as_mut(), self.document.take()) {
                    p.documents.push(d);
                }
            }
            5 if self.path[3] == "document" => {
                if let Some(d) = self.document.as_mut() {
                    match name {
                        "type" => d.kind = value.to_owned(),
                        "number" => d.number = value.to_owned(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        None
    }

    fn open(&mut self, name: String) -> Result<(), String> {
        self.text.clear();
        self.path.push(name);
        let depth = self.path.len();
        let name = self.path[depth - 1].as_str();
        match depth {
            1 if name != "persons" => return Err("the root element is not persons".into()),
            2 if name == "person" => {
                self.person = Some(ExportPerson {
                    line: self.newlines + 1,
                    ..ExportPerson::default()
                })
            }
            4 if name == "document" && self.path[2] == "documents" => {
                self.document = Some(ExportDocument::default())
            }
            _ => {}
        }
        Ok(())
    }
}

fn count(text: &str) -> u64 {
    text.bytes().filter(|&b| b == b'\n').count() as u64
}

fn local(name: &str) -> String {
    match name.rfind(':') {
        Some(at) => name[at + 1..].to_owned(),
        None => name.to_owned(),
    }
}

impl Iterator for XmlExport {
    type Item = Result<Item, FatalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        loop {
            self.buf.clear();
            let event = match self.reader.read_event_into(&mut self.buf) {
                Ok(event) => event.into_owned(),
                Err(e) => {
                    let problem = format!("malformed XML: {}", describe(&e));
                    return self.fatal(problem);
                }
            };
            match event {
                Event::Start(e) => {
                    self.newlines += count(&e);
                    if let Err(problem) = self.open(local(e.name().as_ref())) {
                        return self.fatal(problem);
                    }
                }
                Event::Empty(e) => {
                    self.newlines += count(&e);
                    let name = local(e.name().as_ref());
                    if let Err(problem) = self.open(name.clone()) {
                        return self.fatal(problem);
                    }
                    let done = self.close(&name);
                    self.path.pop();
                    if let Some(person) = done {
                        return Some(Ok(Item::Person(person)));
                    }
                }
                Event::End(e) => {
                    let name = local(e.name().as_ref());
                    let done = self.close(&name);
                    self.path.pop();
                    if let Some(person) = done {
                        return Some(Ok(Item::Person(person)));
                    }
                }
                Event::Text(e) => {
                    let text: &str = e.as_ref();
                    self.newlines += count(text);
                    if self.path.len() >= 3 {
                        self.text.push_str(text);
                    }
                }
                Event::CData(e) => {
                    let text: &str = e.as_ref();
                    self.newlines += count(text);
                    self.text.push_str(text);
                }
                Event::GeneralRef(reference) => {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => Some(c),
                        Ok(None) => match AsRef::<str>::as_ref(&reference) {
                            "amp" => Some('&'),
                            "lt" => Some('<'),
                            "gt" => Some('>'),
                            "quot" => Some('"'),
                            "apos" => Some('\''),
                            _ => None,
                        },
                        Err(_) => None,
                    };
                    match resolved {
                        Some(c) => self.text.push(c),
                        None => return self.fatal("unknown entity or character reference"),
                    }
                }
                Event::Comment(e) => self.newlines += count(&e),
                Event::PI(e) => self.newlines += count(&e),
                Event::Decl(e) => self.newlines += count(&e),
                Event::DocType(_) => return self.fatal("a DOCTYPE is not allowed"),
                Event::Eof => {
                    self.finished = true;
                    if !self.path.is_empty() {
                        return Some(Err(FatalError {
                            line: self.line(),
                            problem: "the document ends inside an element".into(),
                        }));
                    }
                    return None;
                }
            }
        }
    }
}

/// The parser's error without the document's text.
fn describe(e: &quick_xml::Error) -> String {
    match e {
        quick_xml::Error::Io(e) => format!("cannot read: {e}"),
        quick_xml::Error::Syntax(e) => e.to_string(),
        quick_xml::Error::IllFormed(_) => "ill-formed (mismatched or unexpected tags)".into(),
        quick_xml::Error::Encoding(_) => "invalid UTF-8".into(),
        _ => "cannot be parsed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &[u8]) -> Vec<Result<Item, FatalError>> {
        XmlExport::new(std::io::Cursor::new(xml.to_vec()))
            .unwrap()
            .collect()
    }

    const TWO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<persons xmlns="urn:kz:gbd-fl:export:v1">
  <person>
    <iin>900704300015</iin>
    <surname>ЧЖАН</surname><name>СЯОМИН</name><patronymic/>
    <latinSurname>ZHANG</latinSurname>
    <birthDate>1990-07-04</birthDate>
    <gender>M</gender>
    <citizenship>CHN</citizenship>
    <documents>
      <document><type>PASSPORT</type><number>E12345678</number></document>
      <document><type>PASSPORT</type><number>E00000001</number></document>
    </documents>
    <extra><iin>ignored</iin></extra>
  </person>
  <person><iin>1 &amp; 2</iin></person>
</persons>
"#;

    #[test]
    fn reads_persons_with_their_lines() {
        let items = read(TWO.as_bytes());
        assert_eq!(items.len(), 2);
        let Ok(Item::Person(p)) = &items[0] else {
            panic!("{items:?}")
        };
        assert_eq!(p.line, 3);
        assert_eq!(p.iin, "900704300015");
        assert_eq!(p.surname, "ЧЖАН");
        assert_eq!(p.latin_surname, "ZHANG");
        assert_eq!(p.patronymic, "");
        assert_eq!(p.documents.len(), 2);
        assert_eq!(p.documents[1].number, "E00000001");
        let Ok(Item::Person(q)) = &items[1] else {
            panic!()
        };
        assert_eq!(q.line, 16);
        assert_eq!(q.iin, "1 & 2");
    }

    #[test]
    fn reads_windows_1251() {
        let text = TWO.replace("UTF-8", "windows-1251");
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&text);
        let items = read(&bytes);
        let Ok(Item::Person(p)) = &items[0] else {
            panic!()
        };
        assert_eq!(p.surname, "ЧЖАН");
    }

    #[test]
    fn refuses_doctype_and_malformed_input() {
        let items = read(b"<!DOCTYPE x [<!ENTITY a 'b'>]><persons/>");
        assert!(matches!(&items[0], Err(e) if e.problem.contains("DOCTYPE")));
        let items = read(b"<persons>\n<person><iin>1</iin></persn>\n</persons>");
        assert!(matches!(&items[0], Err(e) if e.line == 2), "{items:?}");
        let items = read(b"<people/>");
        assert!(items[0].is_err());
        assert!(
            XmlExport::new(std::io::Cursor::new(
                b"<?xml version='1.0' encoding='koi8-r'?><persons/>".to_vec()
            ))
            .is_err()
        );
    }
}
