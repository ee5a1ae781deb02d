//! Garbage in a watched folder: hundreds of malformed files of every supported kind, files that
//! vanish, links that loop or dangle, a folder deleted and recreated. The daemon stays up, says
//! what it skipped, and keeps alerting on the good files.

mod common;

use std::time::Duration;

use common::{Sandbox, json_lines};

const EXTENSIONS: &[&str] = &[
    "txt", "md", "html", "htm", "json", "jsonl", "ndjson", "xml", "rss", "atom", "eml", "",
];

/// Small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Malformed contents, whatever the extension they land under.
fn garbage(rng: &mut Rng) -> Vec<Vec<u8>> {
    let laughs = {
        let mut s = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_string()
            } else {
                format!("lol{}", i - 1)
            };
            s += &format!("<!ENTITY lol{i} \"{}\">", format!("&{prev};").repeat(10));
        }
        s + "]><rss version=\"2.0\"><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>"
    };
    vec![
        rng.bytes(3000),
        b"\xff\xfe\x00\xd8\x00\xd8 odd".to_vec(),
        b"\xfe\xff\xd8\x00".to_vec(),
        b"valid start \xc3\x28 \xa0\xa1 \xf0\x28\x8c\x28 end".to_vec(),
        b"text with a \0 NUL byte".to_vec(),
        b"<rss version=\"2.0\"><channel><title>Truncated</title><item><title>cut".to_vec(),
        b"<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title>x</ti".to_vec(),
        b"<!DOCTYPE x [<!ENTITY a \"&b;\"><!ENTITY b \"&a;\">]><rss><channel><title>&a;</title></channel></rss>".to_vec(),
        laughs.into_bytes(),
        "<div>".repeat(20_000).into_bytes(),
        "[".repeat(50_000).into_bytes(),
        "{\"title\": ".repeat(20_000).into_bytes(),
        b"{\"title\": \"unterminated".to_vec(),
        b"{\"title\": 5, \"body\": [1, {\"x\": null}]}\n{broken\n[]\n".to_vec(),
        b"Subject: =?utf-8?B?!!!not-base64?=\nContent-Type: multipart/mixed; boundary=\n\n--\n--\n".to_vec(),
        b"Content-Transfer-Encoding: quoted-printable\n\n=ZZ=\n=".to_vec(),
        b"---\ntitle: [unclosed\n".to_vec(),
        b"---\n: : :\n---\n# x".to_vec(),
        Vec::new(),
        b"\n\n\n".to_vec(),
    ]
}

#[test]
fn garbage_files_are_skipped_and_good_ones_still_alert() {
    let s = Sandbox::new();
    s.rule("needle", r#"if article.mentions("needle") { alert(#{ message: article.title, key: article.title }); }"#);
    std::fs::create_dir(s.path().join("inbox")).unwrap();
    s.write(
        "newswatch.yaml",
        "watch:\n  - path: inbox\nstate: state.db\noutputs:\n  - type: file\n    path: alerts.jsonl\n",
    );
    std::os::unix::fs::symlink(s.path().join("inbox"), s.path().join("inbox/loop")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/x.txt", s.path().join("inbox/dangling.txt")).unwrap();
    s.write("inbox/sub/before.txt", "Needle before\n\nneedle\n");
    let d = s.watch(&[]);
    common::wait_for_lines(&s.path().join("alerts.jsonl"), 1, Duration::from_secs(20));
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let mut bad = 0;
    let mut good = 1usize;
    for round in 0..2 {
        for (i, content) in garbage(&mut rng).into_iter().enumerate() {
            for ext in EXTENSIONS {
                let name = if ext.is_empty() {
                    format!("bad{round}-{i}")
                } else {
                    format!("bad{round}-{i}.{ext}")
                };
                s.write(&format!("inbox/garbage/{name}"), &content);
                bad += 1;
            }
            let gone = s.write(
                &format!("inbox/gone{round}-{i}.txt"),
                "Needle gone\n\nneedle\n",
            );
            std::fs::remove_file(gone).unwrap();
        }
        s.write(
            &format!("inbox/good{round}.txt"),
            format!("Needle {round}\n\nneedle\n"),
        );
        good += 1;
    }
    std::fs::remove_dir_all(s.path().join("inbox/sub")).unwrap();
    s.write("inbox/sub/after.txt", "Needle after\n\nneedle\n");
    good += 1;

    // Files deleted right after creation may or may not have been read: only the rest counts.
    let titles = || {
        let mut t: Vec<String> = json_lines(&s.path().join("alerts.jsonl"))
            .iter()
            .map(|a| a["message"].as_str().unwrap().to_string())
            .filter(|t| t != "Needle gone")
            .collect();
        t.sort();
        t
    };
    let start = std::time::Instant::now();
    while titles().len() < good {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "alerts: {:?}\nlog:\n{}",
            titles(),
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        titles(),
        ["Needle 0", "Needle 1", "Needle after", "Needle before"]
    );
    std::thread::sleep(Duration::from_millis(1500));
    let log = d.log();
    let (code, _) = d.stop_with("TERM");
    assert_eq!(code, 0, "the daemon stayed up:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    let complaints = log
        .lines()
        .filter(|l| l.starts_with("warn") || l.starts_with("error"))
        .count();
    assert!(complaints >= 10, "bad files are reported:\n{log}");
    assert!(
        complaints <= bad,
        "at most one line per bad file ({complaints} for {bad}):\n{log}"
    );
    assert!(json_lines(&s.path().join("alerts.jsonl")).len() <= good + 40);
}
