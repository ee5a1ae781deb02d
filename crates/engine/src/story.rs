//! Stories: telling that two articles are copies of one story, for the state that groups alerts.
//!
//! The same story reaches a reader through many feeds and saved copies, each a little
//! different: another headline, a lead paragraph cut, a correction or a newsletter footer
//! added, a few words changed, the text wrapped in another page. A [`Fingerprint`] of an
//! article holds what tells such copies apart from other articles:
//!
//! - **exact keys**: the article's canonical URL ([`canonical_url`]: scheme and host
//!   lowercased, no fragment, no `utm_*`, `fbclid`, `gclid` or similar tracking parameters, the
//!   query sorted) and a feed item's `guid` (scoped by its feed, since guids are unique only
//!   there);
//! - **a MinHash signature** of the article's text (title and body, folded as rules see them:
//!   case and accents dropped) over word 3-shingles, which estimates the Jaccard similarity of
//!   two articles' shingle sets. Two articles are copies of one story when an exact key is
//!   equal or the estimate is at least [`SAME_STORY`].
//!
//! # Why MinHash over word shingles
//!
//! Broder's MinHash (1997) estimates Jaccard similarity directly, and its banded
//! locality-sensitive hashing (Indyk & Motwani 1998; Leskovec, Rajaraman & Ullman, *Mining of
//! Massive Datasets*, ch. 3) finds candidates by equality of a few keys, which an index answers
//! in constant time. Charikar's SimHash, the other classic (Manku et al. 2007 found 64-bit
//! fingerprints within 3 bits for near-identical web pages), is tuned for pages that are
//! nearly the same; a syndicated copy with its lead cut and 10% of its words changed sits 12 to
//! 20 bits away, where a block index cannot reach and a scan over every story would be needed.
//! Measured on a sample of the test corpus (300 BBC and 150 French articles, word 3-shingles
//! counted exactly), a syndicated copy keeps a Jaccard similarity of at least 0.43 to its
//! original (10% of its words changed; 0.6 to 0.95 for a cut lead, a footer, another headline
//! or another page around it), while different articles of one category stay at or below 0.26,
//! apart from the dataset's own copies of one story: a threshold of 0.3 lies between them. The
//! labelled set of the program's `tests/stories_corpus.rs` (486 articles, 4,374 copies read
//! through ingest as text, HTML, feed, JSON and e-mail files, 20,438 pairs of different
//! articles of one category) groups 99.98% of the copies with their original and merges 0.005%
//! of the pairs (one) at this threshold.
//!
//! The signature is one-permutation MinHash with densification (Li, Owen & Zhang 2012;
//! Shrivastava 2017): each shingle is hashed once and lands in one of [`SLOTS`] slots, which
//! keeps the minimum, so a signature costs one hash per word rather than one per word and
//! slot. [`Fingerprint::bands`] cuts it into [`BANDS`] bands of two slots; two articles with a
//! Jaccard similarity of 0.43 share a band with probability 0.96, two unrelated ones (0.01)
//! with probability 0.002.
//!
//! This module computes; it keeps nothing. Where copies are grouped — the program's state
//! store — keeps the fingerprints of recent stories and looks new ones up by their bands.

use std::fmt;

use crate::article::Article;
use crate::text::fold::{Class, classify, fold_word_into};

/// Slots of a signature (each a 32-bit minimum).
pub const SLOTS: usize = 64;

/// Bands of [`Fingerprint::bands`]: 16 bands of 2 slots over the first half of the signature
/// (the second half only sharpens the estimate of [`Fingerprint::similarity`]).
pub const BANDS: usize = 16;

/// Slots per band.
const BAND_WIDTH: usize = 2;

/// The estimated Jaccard similarity from which two articles are copies of one story.
pub const SAME_STORY: f64 = 0.3;

/// Words per shingle.
const SHINGLE: usize = 3;

/// What tells copies of one story apart from other articles: exact keys and a MinHash
/// signature of the text. See the [module documentation](self).
///
/// ```
/// use newswatch_engine::{Article, story::Fingerprint};
///
/// let text = "The regulator cleared the sale of the accelerators to the Chinese buyers on \
///             Tuesday, with conditions on their use that the company said it would meet.";
/// let a = Fingerprint::of(&Article::new("H200 sales cleared", text));
/// let b = Fingerprint::of(&Article::new("Nvidia may sell H200 in China",
///                                       &format!("{text} Correction: the sale was on Monday.")));
/// let c = Fingerprint::of(&Article::new("Rain tomorrow", "Clouds will gather over the hills."));
/// assert!(a.same_story(&b));
/// assert!(!a.same_story(&c));
/// assert_eq!(a.id().len(), 16);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint {
    signature: [u32; SLOTS],
    /// Whether the text had any word (an empty one matches nothing by its text).
    has_text: bool,
    url: Option<String>,
    guid: Option<String>,
    sha256: String,
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fingerprint")
            .field("id", &self.id())
            .field("url", &self.url)
            .field("guid", &self.guid)
            .finish_non_exhaustive()
    }
}

impl Fingerprint {
    /// The fingerprint of `article`: its title and body as ingest gave them, its URL and its
    /// feed guid (`meta.id` or `meta.guid`, scoped by `source`).
    pub fn of(article: &Article) -> Fingerprint {
        let guid = ["id", "guid"]
            .iter()
            .find_map(|k| article.meta.get(*k).and_then(|v| v.as_str()))
            .filter(|g| !g.trim().is_empty())
            .map(|g| {
                format!(
                    "{}\u{0}{}",
                    article.source.as_deref().unwrap_or(""),
                    g.trim()
                )
            });
        let (signature, has_text) = signature(&article.title, &article.body);
        Fingerprint {
            signature,
            has_text,
            url: article.url.as_deref().and_then(canonical_url),
            guid,
            sha256: article.sha256(),
        }
    }

    /// The fingerprint with these parts, as [`Fingerprint::signature_bytes`] and the accessors
    /// gave them (for a store that keeps fingerprints). `None` if `signature` is not one.
    pub fn from_parts(
        signature: &[u8],
        url: Option<String>,
        guid: Option<String>,
        sha256: String,
    ) -> Option<Fingerprint> {
        if signature.len() != SLOTS * 4 {
            return None;
        }
        let mut sig = [0u32; SLOTS];
        for (slot, bytes) in sig.iter_mut().zip(signature.chunks_exact(4)) {
            *slot = u32::from_le_bytes(bytes.try_into().expect("4 bytes"));
        }
        Some(Fingerprint {
            has_text: sig.iter().any(|&s| s != u32::MAX),
            signature: sig,
            url,
            guid,
            sha256,
        })
    }

    /// The signature as bytes (little-endian slots), for [`Fingerprint::from_parts`].
    pub fn signature_bytes(&self) -> Vec<u8> {
        self.signature
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect()
    }

    /// The article's canonical URL ([`canonical_url`]), if it has one that names a story.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The feed item's guid, prefixed by its feed's name and a NUL, if it has one.
    pub fn guid(&self) -> Option<&str> {
        self.guid.as_deref()
    }

    /// SHA-256 (hex) of the article's title and body ([`Article::sha256`]).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// A stable id of the story as this article alone names it: 16 hex digits of a hash of its
    /// canonical URL, else its guid, else its content. Where copies are grouped, a story keeps
    /// the id of the first copy seen.
    pub fn id(&self) -> String {
        let key = match (&self.url, &self.guid) {
            (Some(url), _) => format!("url\u{0}{url}"),
            (None, Some(guid)) => format!("guid\u{0}{guid}"),
            (None, None) => format!("text\u{0}{}", self.sha256),
        };
        format!("{:016x}", hash_bytes(key.as_bytes(), 0x5354_4f52_5921))
    }

    /// The estimated Jaccard similarity of the two articles' word 3-shingles, 0 to 1.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        if !self.has_text || !other.has_text {
            return 0.0;
        }
        let equal = self
            .signature
            .iter()
            .zip(&other.signature)
            .filter(|(a, b)| a == b)
            .count();
        equal as f64 / SLOTS as f64
    }

    /// Whether the two articles are copies of one story: an exact key (canonical URL, guid,
    /// content) is equal, or their texts are similar enough ([`SAME_STORY`]).
    pub fn same_story(&self, other: &Fingerprint) -> bool {
        let equal = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
        equal(&self.url, &other.url)
            || equal(&self.guid, &other.guid)
            || self.sha256 == other.sha256
            || self.similarity(other) >= SAME_STORY
    }

    /// [`BANDS`] keys of the signature: an article whose text is a copy of this one's shares
    /// at least one with it (with the probabilities of the [module documentation](self)), so
    /// an index of bands finds the candidates to compare. None for an article without text.
    pub fn bands(&self) -> impl Iterator<Item = u64> + '_ {
        let slots = if self.has_text {
            &self.signature[..]
        } else {
            &[]
        };
        slots
            .chunks_exact(BAND_WIDTH)
            .take(BANDS)
            .enumerate()
            .map(|(i, band)| {
                let mut h = mix(i as u64 + 1);
                for &slot in band {
                    h = mix(h ^ u64::from(slot));
                }
                h
            })
    }

    /// Keys that identify the story exactly — of the canonical URL, the guid and the content —
    /// each a 64-bit hash, tagged by kind so that a URL never equals a guid.
    pub fn exact_keys(&self) -> Vec<u64> {
        let mut keys = vec![hash_bytes(self.sha256.as_bytes(), 3)];
        keys.extend(self.url.iter().map(|u| hash_bytes(u.as_bytes(), 1)));
        keys.extend(self.guid.iter().map(|g| hash_bytes(g.as_bytes(), 2)));
        keys
    }
}

/// `url` in the form copies of one page share, or `None` when it names no story: not an
/// absolute `http(s)` URL, or the root of a site (a page whose canonical link is its site's
/// home page says nothing about which story it is).
///
/// The scheme and host are lowercased, a default port, user and password, the fragment and
/// tracking parameters (`utm_*`, `fbclid`, `gclid`, `msclkid`, `mc_cid`, …) are dropped, and
/// the query's parameters are sorted. The path keeps its case: servers tell paths apart by it.
///
/// ```
/// use newswatch_engine::story::canonical_url;
///
/// assert_eq!(
///     canonical_url("HTTPS://Example.COM:443/news/h200?utm_source=x&b=2&a=1&fbclid=y#top").as_deref(),
///     Some("https://example.com/news/h200?a=1&b=2")
/// );
/// assert_eq!(canonical_url("https://example.com/?utm_source=feed"), None);
/// assert_eq!(canonical_url("mailto:a@b.c"), None);
/// ```
pub fn canonical_url(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let rest = rest.split('#').next().unwrap_or("");
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) =
        before_query.split_at(before_query.find('/').unwrap_or(before_query.len()));
    let host = authority
        .rsplit('@')
        .next()
        .unwrap_or(authority)
        .to_ascii_lowercase();
    let default_port = if scheme == "http" { ":80" } else { ":443" };
    let host = host.strip_suffix(default_port).unwrap_or(&host);
    if host.is_empty() {
        return None;
    }
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        return None;
    }
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !is_tracking(p.split('=').next().unwrap_or("")))
        .collect();
    params.sort_unstable();
    let mut canonical = format!("{scheme}://{host}{path}");
    if !params.is_empty() {
        canonical.push('?');
        canonical.push_str(&params.join("&"));
    }
    Some(canonical)
}

/// Query parameters that say who sent the reader, not which page it is.
fn is_tracking(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "twclid",
        "ttclid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "ref_src",
        "cmpid",
        "ocid",
        "at_medium",
        "at_campaign",
        "ncid",
        "sr_share",
        "spm",
    ];
    let name = name.to_ascii_lowercase();
    name.starts_with("utm_") || NAMES.contains(&name.as_str())
}

/// The one-permutation MinHash signature of the text's word 3-shingles, and whether it had any
/// word.
fn signature(title: &str, body: &str) -> ([u32; SLOTS], bool) {
    let mut slots = [u32::MAX; SLOTS];
    let mut window = [0u64; SHINGLE];
    let mut words = 0usize;
    let add = |h: u64, slots: &mut [u32; SLOTS]| {
        let slot = (h >> 58) as usize; // top 6 bits: one of 64 slots
        let value = h as u32;
        if value < slots[slot] {
            slots[slot] = value;
        }
    };
    for_each_word(title, body, |word_hash| {
        window.rotate_left(1);
        window[SHINGLE - 1] = word_hash;
        words += 1;
        if words >= SHINGLE {
            add(shingle_hash(&window), &mut slots);
        }
    });
    if words == 0 {
        return (slots, false);
    }
    if words < SHINGLE {
        // Too short for one shingle: the words it has are the one shingle.
        add(shingle_hash(&window[SHINGLE - words..]), &mut slots);
    }
    densify(&mut slots);
    (slots, true)
}

fn shingle_hash(words: &[u64]) -> u64 {
    words.iter().fold(0x9e37_79b9_7f4a_7c15, |h, &w| mix(h ^ w))
}

/// Fills empty slots from the next filled one (circularly), each borrowed value re-hashed by
/// the distance it travelled, so that two signatures agree on an empty slot as often as on a
/// filled one (densification, Shrivastava & Li 2014).
fn densify(slots: &mut [u32; SLOTS]) {
    let filled: Vec<bool> = slots.iter().map(|&s| s != u32::MAX).collect();
    if filled.iter().all(|&f| f) {
        return;
    }
    for i in 0..SLOTS {
        if filled[i] {
            continue;
        }
        if let Some(d) = (1..SLOTS).find(|d| filled[(i + d) % SLOTS]) {
            let borrowed = slots[(i + d) % SLOTS];
            slots[i] = mix(u64::from(borrowed) ^ ((d as u64) << 32)) as u32;
        }
    }
}

/// Calls `f` with a hash of each word of the title then the body, folded as rules see words:
/// maximal runs of letters and digits, lowercased and without accents; each character of a
/// script written without spaces is a word of its own.
fn for_each_word(title: &str, body: &str, mut f: impl FnMut(u64)) {
    let mut folded = String::new();
    for text in [title, body] {
        let mut start = None;
        for (i, c) in text
            .char_indices()
            .chain(std::iter::once((text.len(), ' ')))
        {
            match classify(c) {
                Class::Word | Class::Mark => {
                    start.get_or_insert(i);
                }
                class => {
                    if let Some(s) = start.take() {
                        folded.clear();
                        fold_word_into(&text[s..i], &mut folded);
                        f(hash_bytes(folded.as_bytes(), 0));
                    }
                    if class == Class::Ideograph && i < text.len() {
                        folded.clear();
                        fold_word_into(&text[i..i + c.len_utf8()], &mut folded);
                        f(hash_bytes(folded.as_bytes(), 0));
                    }
                }
            }
        }
    }
}

/// A 64-bit hash of `bytes`, the same on every machine and in every version that keeps
/// [`SLOTS`] (signatures are stored): FNV-1a, then a finalizer that spreads its bits.
fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325 ^ seed;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// MurmurHash3's 64-bit finalizer.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Quarterly profits at the media giant jumped 76% to 1.13bn dollars for the \
        three months to December, from 639m a year earlier. The firm, one of the biggest \
        investors in the search engine, benefited from sales of high-speed internet \
        connections and higher advert sales. It said fourth quarter sales rose 2% to 11.1bn \
        from 10.9bn. Its profits were buoyed by one-off gains which offset a profit dip at the \
        film studio, and fewer users for its internet service.";

    fn fp(title: &str, body: &str) -> Fingerprint {
        Fingerprint::of(&Article::new(title, body))
    }

    #[test]
    fn copies_with_changes_are_one_story_and_other_texts_are_not() {
        let original = fp("Ad sales boost profit", TEXT);
        let retitled = fp("Media giant's profits jump 76%", TEXT);
        let footer = fp(
            "Ad sales boost profit",
            &format!("{TEXT}\n\nShare this article. Sign up for our newsletter."),
        );
        let cut = fp(
            "Ad sales boost profit",
            &TEXT[TEXT.find("The firm").unwrap()..],
        );
        let changed = fp(
            "Ad sales boost profit",
            &TEXT.replace("jumped", "rose").replace("higher", "more"),
        );
        for copy in [&retitled, &footer, &cut, &changed] {
            assert!(original.same_story(copy), "{}", original.similarity(copy));
        }
        let other = fp(
            "Profits fall at the carmaker",
            "Quarterly profits at the carmaker fell 12% for the three months to December, as \
             sales of its new models in Europe slowed and the cost of steel rose. The firm said \
             it would cut jobs at two plants and expected a better year.",
        );
        assert!(
            !original.same_story(&other),
            "{}",
            original.similarity(&other)
        );
        assert!(original.bands().any(|b| retitled.bands().any(|c| c == b)));
    }

    #[test]
    fn folding_makes_case_and_accents_alike() {
        let a = fp(
            "Été",
            "Le président a annoncé une réforme des retraites ce matin à Paris.",
        );
        let b = fp(
            "ÉTÉ",
            "LE PRESIDENT A ANNONCE UNE REFORME DES RETRAITES CE MATIN A PARIS.",
        );
        assert_eq!(a.similarity(&b), 1.0);
    }

    #[test]
    fn exact_keys_decide_alone() {
        let a = Fingerprint::of(
            &Article::new("A", "one text").with_url("https://x.org/a?utm_source=rss"),
        );
        let b = Fingerprint::of(
            &Article::new("B", "another text entirely").with_url("HTTPS://X.ORG/a#c"),
        );
        assert!(a.same_story(&b));
        assert_eq!(a.id(), b.id());
        let empty = fp("", "");
        assert!(!empty.same_story(&fp("", " ")) || empty.sha256() == fp("", " ").sha256());
        assert_eq!(empty.bands().count(), 0);
    }

    #[test]
    fn fingerprints_survive_their_bytes() {
        let a = Fingerprint::of(&Article::new("T", TEXT).with_url("https://x.org/a"));
        let b = Fingerprint::from_parts(
            &a.signature_bytes(),
            a.url().map(str::to_string),
            a.guid().map(str::to_string),
            a.sha256().to_string(),
        )
        .unwrap();
        assert_eq!(a, b);
        assert!(Fingerprint::from_parts(b"short", None, None, String::new()).is_none());
    }

    #[test]
    fn canonical_urls() {
        assert_eq!(
            canonical_url("http://EX.org:80/A/b/?z=1&utm_medium=x&a=2").as_deref(),
            Some("http://ex.org/A/b?a=2&z=1")
        );
        assert_eq!(
            canonical_url("https://user:pw@ex.org/p").as_deref(),
            Some("https://ex.org/p")
        );
        assert_eq!(canonical_url("https://ex.org"), None);
        assert_eq!(canonical_url("ftp://ex.org/file"), None);
        assert_eq!(canonical_url("not a url"), None);
    }
}
