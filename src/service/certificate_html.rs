//! A printable certificate of IIN formation in Kazakh and Russian, for a
//! service centre to hand to the applicant. Made from the stored
//! `IinCertificate`, so it says exactly what was delivered.

use gateway_xml::{Element, Limits, NAMESPACE};

use super::{Answer, Gateway};
use crate::domain::lifecycle::State;

impl Gateway {
    /// `GET /api/v1/applications/{n}/certificate.html`; 404 unless the IIN
    /// has been formed.
    pub async fn certificate_html(&self, number: &str) -> Answer {
        let result = match self.store.result(number).await {
            Ok(Some(result)) if result.state == State::IinFormed => result,
            Ok(_) => return Answer::not_found(),
            Err(e) => return Answer::store_failure(&e),
        };
        let text = String::from_utf8_lossy(&result.document);
        let Ok(certificate) = gateway_xml::parse(&text, &Limits::default()) else {
            tracing::error!(application = %number, "a stored certificate does not parse");
            return Answer::not_found();
        };
        Answer {
            content_type: "text/html; charset=utf-8",
            ..Answer::xml(200, render(&certificate).into_bytes())
        }
        .with_application(number)
    }
}

fn leaf(certificate: &Element, name: &str) -> String {
    certificate
        .child(NAMESPACE, name)
        .map(|e| escape(e.text.trim()))
        .unwrap_or_default()
}

/// A name as "LATIN / КИРИЛЛИЦА", whichever spellings there are.
fn name(certificate: &Element, name: &str) -> String {
    let Some(element) = certificate.child(NAMESPACE, name) else {
        return String::new();
    };
    ["Latin", "Cyrillic"]
        .iter()
        .filter_map(|script| element.child(NAMESPACE, script))
        .map(|e| escape(e.text.trim()))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn render(certificate: &Element) -> String {
    let rows = [
        ("ЖСН", "ИИН", leaf(certificate, "Iin")),
        ("Тегі", "Фамилия", name(certificate, "Surname")),
        ("Аты", "Имя", name(certificate, "GivenNames")),
        ("Әкесінің аты", "Отчество", name(certificate, "Patronymic")),
        (
            "Туған күні",
            "Дата рождения",
            leaf(certificate, "BirthDate"),
        ),
        (
            "Азаматтығы",
            "Гражданство",
            leaf(certificate, "Citizenship"),
        ),
        (
            "Жеке басын куәландыратын құжаттың нөмірі",
            "Номер документа, удостоверяющего личность",
            leaf(certificate, "DocumentNumber"),
        ),
        (
            "Өтініш нөмірі",
            "Номер заявления",
            leaf(certificate, "ApplicationNumber"),
        ),
        (
            "Қалыптастырылған күні",
            "Дата формирования",
            leaf(certificate, "FormedAt"),
        ),
    ];
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"kk\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>ЖСН қалыптастыру туралы куәлік / Свидетельство о формировании ИИН</title>\n\
         <style>body{font-family:serif;max-width:42em;margin:2em auto}\
         table{border-collapse:collapse;width:100%}td{border:1px solid #000;padding:.4em}\
         h1{font-size:1.2em;text-align:center}@media print{body{margin:0}}</style>\n\
         </head>\n<body>\n\
         <h1>Қазақстан Республикасына уақытша келген шетелдікке ЖСН қалыптастыру туралы куәлік<br>\n\
         Свидетельство о формировании ИИН иностранцу, временно прибывшему в Республику Казахстан</h1>\n\
         <table>\n",
    );
    for (kk, ru, value) in rows {
        if value.is_empty() {
            continue;
        }
        html.push_str(&format!(
            "<tr><td>{kk}<br><span lang=\"ru\">{ru}</span></td><td>{value}</td></tr>\n"
        ));
    }
    html.push_str("</table>\n</body>\n</html>\n");
    html
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_languages_and_escapes() {
        let xml = r#"<IinCertificate xmlns="urn:kz:iin-gateway:v1">
  <ApplicationNumber>20261124-7K3QX9M2HD</ApplicationNumber>
  <Iin>900704300015</Iin>
  <Surname><Latin>O'BRIEN</Latin><Cyrillic>О&lt;БРАЙЕН</Cyrillic></Surname>
  <GivenNames><Latin>XIAOMING</Latin></GivenNames>
  <BirthDate>1990-07-04</BirthDate>
  <Citizenship>CHN</Citizenship>
  <DocumentNumber>E12345678</DocumentNumber>
  <FormedAt>2026-11-24T12:00:00+05:00</FormedAt>
</IinCertificate>"#;
        let root = gateway_xml::parse(xml, &Limits::default()).unwrap();
        let html = render(&root);
        assert!(html.contains("<td>900704300015</td>"));
        assert!(html.contains("O'BRIEN / О&lt;БРАЙЕН"));
        assert!(html.contains("Дата рождения") && html.contains("Туған күні"));
        assert!(!html.contains("Отчество"), "no patronymic, no row");
    }
}
