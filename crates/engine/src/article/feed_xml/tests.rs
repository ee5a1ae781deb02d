//! The repair pass on small feeds, one kind of damage each.

use std::borrow::Cow;

use super::*;

fn fix(xml: &str) -> (String, Option<String>, usize) {
    let r = repair(xml, &HashSet::new(), &Budget::unlimited()).unwrap();
    (r.xml, r.damage.describe(), r.items)
}

#[test]
fn well_formed_feeds_are_kept_as_written() {
    let xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY x \"y\">]>\n<rss version='2.0'>\
        <!-- c --><channel><title>A &amp; B &#233; &x;</title><item><title>T</title>\
        <description><![CDATA[<p>x</p>]]></description><link>http://e/?a=1&amp;b=2</link>\
        </item></channel></rss>\n";
    let declared = HashSet::from(["x".to_string()]);
    let r = repair(xml, &declared, &Budget::unlimited()).unwrap();
    assert_eq!(r.xml, xml);
    assert_eq!(r.damage.describe(), None);
    assert_eq!(r.items, 1);
}

#[test]
fn references_are_mended() {
    let (xml, warning, _) = fix(
        "<rss><channel><title>AT&T &eacute;t&eacute; &foo; &#0; &#146; &#233 &#x1F600;</title></channel></rss>",
    );
    assert_eq!(
        xml,
        "<rss><channel><title>AT&amp;T &#233;t&#233; &amp;foo; &#65533; &#8217; &#233; &#x1F600;</title></channel></rss>"
    );
    let warning = warning.unwrap();
    assert!(warning.contains("1 bare `&` escaped"), "{warning}");
    assert!(
        warning.contains("2 HTML entities decoded (&eacute;)"),
        "{warning}"
    );
    assert!(
        warning.contains("1 undefined entities kept as text (&foo;)"),
        "{warning}"
    );
    assert!(
        warning.contains("2 bad character references replaced (&#0; &#233)"),
        "{warning}"
    );
    assert!(warning.contains("1 references to C1 controls"), "{warning}");
}

#[test]
fn markup_in_text_elements_is_escaped_silently() {
    let (xml, warning, _) = fix(
        "<rss><channel><item><description>Some <b>bold</b><br> text</description>\
         <content type='xhtml'><div><p>kept</p><br></div></content></item></channel></rss>",
    );
    assert_eq!(
        xml,
        "<rss><channel><item><description type=\"html\">Some &lt;b>bold&lt;/b>&lt;br> text</description>\
         <content type='xhtml'><div><p>kept</p><br/></div></content></item></channel></rss>"
    );
    assert_eq!(warning, None);
}

#[test]
fn stray_markup_and_unclosed_elements() {
    let (xml, warning, items) = fix("<rss><channel><item><title>1 < 2</title><guid>a</item>\
         <item><title>b</title></foo></item></channel></rss>");
    assert_eq!(
        xml,
        "<rss><channel><item><title>1 &lt; 2</title><guid>a</guid></item>\
         <item><title>b</title></item></channel></rss>"
    );
    let warning = warning.unwrap();
    assert!(warning.contains("1 stray `<` escaped"), "{warning}");
    assert!(
        warning.contains("1 elements left open closed (<guid>)"),
        "{warning}"
    );
    assert!(
        warning.contains("1 end tags closing nothing dropped (</foo>)"),
        "{warning}"
    );
    assert_eq!(items, 2);
}

#[test]
fn items_after_the_channel_are_read_in_it() {
    let (xml, warning, items) = fix(
        "<rss><channel><title>c</title></channel>\n<item><title>a</title></item>\n</rss>\n<item><title>b</title></item>",
    );
    assert_eq!(
        xml,
        "<rss><channel><title>c</title>\n<item><title>a</title></item>\n\n<item><title>b</title></item></channel></rss>"
    );
    let warning = warning.unwrap();
    assert!(
        warning.contains("2 items after `</channel>` read"),
        "{warning}"
    );
    assert_eq!(items, 2);
}

#[test]
fn truncated_documents_keep_their_complete_items() {
    let (xml, warning, items) =
        fix("<rss><channel><item><title>a</title></item><item><title>b</ti");
    assert_eq!(
        xml,
        "<rss><channel><item><title>a</title></item></channel></rss>"
    );
    assert!(warning.unwrap().contains("read the 1 complete items"));
    assert_eq!(items, 1);
    let (xml, warning, _) = fix("<rss><channel><title>x</title>");
    assert_eq!(xml, "<rss><channel><title>x</title></channel></rss>");
    assert!(warning.unwrap().contains("2 elements closed at the end"));
    let (xml, _, _) = fix("<rss><channel><item><title>a</title></item><!-- never ends");
    assert_eq!(
        xml,
        "<rss><channel><item><title>a</title></item></channel></rss>"
    );
}

#[test]
fn nested_cdata_is_one_section() {
    let (xml, warning, _) = fix(
        "<rss><channel><item><description><![CDATA[a <![CDATA[b]]> c]]></description></item></channel></rss>",
    );
    assert_eq!(
        xml,
        "<rss><channel><item><description><![CDATA[a b c]]></description></item></channel></rss>"
    );
    assert!(warning.unwrap().contains("1 nested CDATA"));
    // A section holding the text `<![CDATA[` is not nested.
    let valid = "<rss><channel><item><description><![CDATA[<![CDATA[x]]&gt;]]></description></item></channel></rss>";
    assert_eq!(fix(valid).0, valid);
}

#[test]
fn attributes_are_mended() {
    let (xml, warning, _) = fix(
        "<feed><entry><link href=http://e/a?x=1&y=2 rel=\"alternate\" rel=\"x\" hidden/></entry></feed>",
    );
    assert_eq!(
        xml,
        "<feed><entry><link href=\"http://e/a?x=1&amp;y=2\" rel=\"alternate\" hidden=\"hidden\"/></entry></feed>"
    );
    assert!(warning.unwrap().contains("malformed attributes mended"));
}

#[test]
fn references_in_plain_text_are_decoded() {
    assert_eq!(
        decode_references("Le pr&eacute;sident &amp; AT&T &#8217; &#146; &bogus;"),
        "Le président & AT&T ’ ’ &bogus;"
    );
    assert!(matches!(decode_references("plain"), Cow::Borrowed(_)));
}
