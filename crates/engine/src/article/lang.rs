//! Language detection for `article.lang`: whatlang's guess as an ISO 639-1 code, or nothing
//! when the guess is not reliable.

use whatlang::Lang;

/// Bytes of text looked at: a few sentences decide the language, and the BBC hot path must not
/// pay for whole articles.
const SAMPLE: usize = 256;

/// The language of an article, from its title and the start of its body.
pub(super) fn detect(title: &str, body: &str) -> Option<String> {
    let mut sample = String::with_capacity(SAMPLE + 1);
    for part in [title, "\n", body] {
        let room = SAMPLE.saturating_sub(sample.len());
        sample.push_str(&part[..part.floor_char_boundary(room)]);
    }
    let info = whatlang::detect(&sample)?;
    info.is_reliable()
        .then(|| iso639_1(info.lang()).to_string())
}

/// whatlang names languages in ISO 639-3; the contract's `lang` is ISO 639-1.
#[rustfmt::skip]
fn iso639_1(lang: Lang) -> &'static str {
    use Lang::*;
    match lang {
        Epo => "eo", Eng => "en", Rus => "ru", Cmn => "zh", Spa => "es", Por => "pt",
        Ita => "it", Ben => "bn", Fra => "fr", Deu => "de", Ukr => "uk", Kat => "ka",
        Ara => "ar", Hin => "hi", Jpn => "ja", Heb => "he", Yid => "yi", Pol => "pl",
        Amh => "am", Jav => "jv", Kor => "ko", Nob => "nb", Dan => "da", Swe => "sv",
        Fin => "fi", Tur => "tr", Nld => "nl", Hun => "hu", Ces => "cs", Ell => "el",
        Bul => "bg", Bel => "be", Mar => "mr", Kan => "kn", Ron => "ro", Slv => "sl",
        Hrv => "hr", Srp => "sr", Mkd => "mk", Lit => "lt", Lav => "lv", Est => "et",
        Tam => "ta", Vie => "vi", Urd => "ur", Tha => "th", Guj => "gu", Uzb => "uz",
        Pan => "pa", Aze => "az", Ind => "id", Tel => "te", Pes => "fa", Mal => "ml",
        Ori => "or", Mya => "my", Nep => "ne", Sin => "si", Khm => "km", Tuk => "tk",
        Aka => "ak", Zul => "zu", Sna => "sn", Afr => "af", Lat => "la", Slk => "sk",
        Cat => "ca", Tgl => "tl", Hye => "hy", Cym => "cy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_reliable_languages_only() {
        let fr = detect(
            "Nvidia : DeepSeek pourrait acquérir des puces H200",
            "Pékin aurait autorisé la startup chinoise à acheter les puces de Nvidia, selon plusieurs sources proches du dossier.",
        );
        assert_eq!(fr.as_deref(), Some("fr"));
        let ja = detect(
            "半導体",
            "エヌビディアの半導体を中国企業が購入したと報じられました。",
        );
        assert_eq!(ja.as_deref(), Some("ja"));
        assert_eq!(detect("ok", ""), None);
    }

    #[test]
    fn every_language_has_a_two_letter_code() {
        for &lang in Lang::all() {
            assert_eq!(iso639_1(lang).len(), 2, "{lang:?}");
        }
    }
}
