//! The catalogue of human-readable texts for every answer code, in Kazakh,
//! Russian and English, as the gateway puts them into `Text` elements.

/// The texts for one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Texts {
    pub kk: &'static str,
    pub ru: &'static str,
    pub en: &'static str,
}

const fn t(kk: &'static str, ru: &'static str, en: &'static str) -> Texts {
    Texts { kk, ru, en }
}

/// Every code the gateway answers with, and its texts.
pub const CATALOGUE: &[(&str, Texts)] = &[
    // Intake of an application.
    (
        "DUPLICATE_MESSAGE_CONFLICT",
        t(
            "Осы жіберушіден осындай MessageId бар хабарлама басқа мазмұнмен бұрын қабылданған.",
            "Сообщение с таким MessageId уже получено от этого отправителя с другим содержанием.",
            "A message with this MessageId has already been received from this sender with different content.",
        ),
    ),
    (
        "INCOMPLETE_DOCUMENTS",
        t(
            "Құжаттардың толық емес топтамасы ұсынылды; құжаттарды қабылдаудан бас тартылды.",
            "Представлен неполный пакет документов; в приёме документов отказано.",
            "The package of documents is incomplete; the documents are not accepted.",
        ),
    ),
    (
        "CONSENT_MISSING",
        t(
            "Өтініш берушінің ақпараттық жүйелердегі заңмен қорғалатын құпияны құрайтын мәліметтерді пайдалануға жазбаша келісімі жоқ; құжаттарды қабылдаудан бас тартылды.",
            "Отсутствует письменное согласие заявителя на использование сведений, составляющих охраняемую законом тайну, содержащихся в информационных системах; в приёме документов отказано.",
            "The applicant's written consent to the use of legally protected secret information held in information systems is missing; the documents are not accepted.",
        ),
    ),
    (
        "DOCUMENT_EXPIRED",
        t(
            "Жеке басты куәландыратын құжаттың қолданылу мерзімі өтіп кеткен; құжаттарды қабылдаудан бас тартылды.",
            "Истёк срок действия документа, удостоверяющего личность; в приёме документов отказано.",
            "The identity document has expired; the documents are not accepted.",
        ),
    ),
    (
        "MALFORMED_XML",
        t(
            "Сұрау дұрыс қалыптастырылған XML-құжат болып табылмайды.",
            "Запрос не является корректно сформированным XML-документом.",
            "The request is not well-formed XML.",
        ),
    ),
    (
        "DTD_FORBIDDEN",
        t(
            "Құжат түрін жариялауға (DOCTYPE) жол берілмейді.",
            "Объявление типа документа (DOCTYPE) не допускается.",
            "A document type declaration (DOCTYPE) is not allowed.",
        ),
    ),
    (
        "WRONG_DOCUMENT",
        t(
            "Құжат күтілгенге сәйкес келмейді: түбірлік элемент немесе атаулар кеңістігі қате.",
            "Документ не соответствует ожидаемому: неверный корневой элемент или пространство имён.",
            "The document is not the one expected: wrong root element or namespace.",
        ),
    ),
    (
        "SCHEMA_VIOLATION",
        t(
            "Құжат схемаға сәйкес келмейді: элемент немесе мән жоқ не қате көрсетілген.",
            "Документ не соответствует схеме: элемент или значение отсутствует либо указано неверно.",
            "The document does not conform to the schema: an element or value is missing or invalid.",
        ),
    ),
    (
        "UNSUPPORTED_ENCODING",
        t(
            "Таңбалар кодтамасына қолдау көрсетілмейді; UTF-8 және windows-1251 қабылданады.",
            "Кодировка символов не поддерживается; принимаются UTF-8 и windows-1251.",
            "The character encoding is not supported; UTF-8 and windows-1251 are accepted.",
        ),
    ),
    (
        "PAYLOAD_TOO_LARGE",
        t(
            "Сұрау денесінің көлемі рұқсат етілген мөлшерден асады.",
            "Размер тела запроса превышает допустимый.",
            "The request body exceeds the permitted size.",
        ),
    ),
    (
        "IIN_ALREADY_REGISTERED",
        t(
            "Өтініш берушінің бұрын тіркелген ЖСН-і бар.",
            "У заявителя имеется ранее зарегистрированный ИИН.",
            "The applicant already has a registered IIN.",
        ),
    ),
    (
        "NOT_FOUND",
        t(
            "Сұралған объект табылмады.",
            "Запрашиваемый объект не найден.",
            "The requested object was not found.",
        ),
    ),
    // Results of the Ministry of Internal Affairs information system.
    (
        "LEASE_LOST",
        t(
            "Сұрауды брондау мерзімі өтіп кетті немесе брондау белгісі қолданыстағы емес.",
            "Срок резервирования запроса истёк или маркер резервирования не является действующим.",
            "The lease has expired or the lease token is not the current one.",
        ),
    ),
    (
        "RESULT_CONFLICT",
        t(
            "Осы өтініш бойынша басқа нәтиже бұрын тіркелген.",
            "По данной заявке уже зарегистрирован иной результат.",
            "A different result has already been recorded for this application.",
        ),
    ),
    (
        "INVALID_IIN",
        t(
            "ЖСН 12 цифрдан тұрмайды немесе оның бақылау разряды қате.",
            "ИИН не состоит из 12 цифр или его контрольный разряд неверен.",
            "The IIN is not 12 digits or its check digit is wrong.",
        ),
    ),
    (
        "IIN_HELD_BY_ANOTHER",
        t(
            "Бұл ЖСН басқа тұлғаға тиесілі.",
            "Данный ИИН принадлежит другому лицу.",
            "This IIN is already held by another person.",
        ),
    ),
    (
        "IDENTITY_MISMATCH",
        t(
            "Өтініш өтініш берушінің сәйкестендіру деректеріне сәйкес келмейді.",
            "Заявление не соответствует идентификационным данным заявителя.",
            "The application does not match the applicant's identity data.",
        ),
    ),
    (
        "REJECTED_OTHER",
        t(
            "Ішкі істер министрлігінің ақпараттық жүйесі ЖСН қалыптастырудан бас тартты.",
            "Информационная система Министерства внутренних дел отказала в формировании ИИН.",
            "The information system of the Ministry of Internal Affairs refused to form the IIN.",
        ),
    ),
    (
        "NOT_DEAD_LETTERED",
        t(
            "Өтініш өңделмеген хабарламалар кезегінде емес; оны қайта кезекке қою мүмкін емес.",
            "Заявка не находится в очереди необработанных сообщений; повторно поставить её в очередь нельзя.",
            "The application is not dead-lettered; it cannot be re-queued.",
        ),
    ),
    // Operational answers.
    (
        "UNAVAILABLE",
        t(
            "Сервис уақытша қолжетімсіз; әрекетті кейінірек қайталаңыз.",
            "Сервис временно недоступен; повторите попытку позже.",
            "The service is temporarily unavailable; please try again later.",
        ),
    ),
    (
        "REQUEST_TIMEOUT",
        t(
            "Сұрау денесі белгіленген уақытта толық келіп түспеді.",
            "Тело запроса не поступило полностью за отведённое время.",
            "The request body did not arrive in full within the time allowed.",
        ),
    ),
    (
        "FORBIDDEN",
        t(
            "Қол жеткізуге рұқсат жоқ.",
            "Доступ запрещён.",
            "Access is denied.",
        ),
    ),
    (
        "METHOD_NOT_ALLOWED",
        t(
            "Бұл ресурс үшін HTTP әдісіне жол берілмейді.",
            "HTTP-метод не допускается для данного ресурса.",
            "The HTTP method is not allowed for this resource.",
        ),
    ),
    (
        "UNSUPPORTED_MEDIA_TYPE",
        t(
            "Мазмұн түріне қолдау көрсетілмейді; application/xml күтіледі.",
            "Тип содержимого не поддерживается; ожидается application/xml.",
            "The content type is not supported; application/xml is expected.",
        ),
    ),
    (
        "INTERNAL_ERROR",
        t(
            "Ішкі қате орын алды; сұрау өңделмеді.",
            "Произошла внутренняя ошибка; запрос не обработан.",
            "An internal error occurred; the request was not processed.",
        ),
    ),
];

/// The text for a code the catalogue does not know.
pub const GENERIC: Texts = t(
    "Сұрауды өңдеу мүмкін болмады.",
    "Запрос не может быть обработан.",
    "The request could not be processed.",
);

/// The texts for `code`, or [`GENERIC`] for a code not in the catalogue.
pub fn texts(code: &str) -> Texts {
    CATALOGUE
        .iter()
        .find(|(known, _)| *known == code)
        .map_or(GENERIC, |(_, texts)| *texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_code_has_its_own_texts() {
        let codes = [
            "DUPLICATE_MESSAGE_CONFLICT",
            "INCOMPLETE_DOCUMENTS",
            "CONSENT_MISSING",
            "DOCUMENT_EXPIRED",
            "MALFORMED_XML",
            "DTD_FORBIDDEN",
            "WRONG_DOCUMENT",
            "SCHEMA_VIOLATION",
            "UNSUPPORTED_ENCODING",
            "PAYLOAD_TOO_LARGE",
            "IIN_ALREADY_REGISTERED",
            "NOT_FOUND",
            "LEASE_LOST",
            "RESULT_CONFLICT",
            "INVALID_IIN",
            "IIN_HELD_BY_ANOTHER",
            "IDENTITY_MISMATCH",
            "REJECTED_OTHER",
            "NOT_DEAD_LETTERED",
            "UNAVAILABLE",
            "REQUEST_TIMEOUT",
            "FORBIDDEN",
            "METHOD_NOT_ALLOWED",
            "UNSUPPORTED_MEDIA_TYPE",
            "INTERNAL_ERROR",
        ];
        for code in codes {
            assert_ne!(texts(code), GENERIC, "{code}");
        }
        assert_eq!(CATALOGUE.len(), codes.len());
    }

    #[test]
    fn unknown_code_gets_the_generic_text() {
        assert_eq!(texts("NO_SUCH_CODE"), GENERIC);
    }

    #[test]
    fn texts_are_complete_and_distinct() {
        for (code, texts) in CATALOGUE {
            for text in [texts.kk, texts.ru, texts.en] {
                assert!(text.ends_with('.'), "{code}: {text}");
            }
            assert_ne!(texts.kk, texts.ru, "{code}");
        }
        let mut codes: Vec<_> = CATALOGUE.iter().map(|(c, _)| c).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), CATALOGUE.len());
    }
}
