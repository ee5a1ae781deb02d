//! ISO-2022-KR (RFC 1557), the 7-bit Korean encoding of old mail and news, which encoding_rs
//! does not decode (its label maps to the replacement encoding) and chardetng does not detect.
//!
//! The text announces itself with the header `ESC $ ) C` (KS X 1001 designated to G1); SO
//! shifts into G1, where each pair of bytes 0x21–0x7E is the EUC-KR pair without its high
//! bits, and SI shifts back to ASCII. So the bytes are rewritten as EUC-KR and decoded as such.

use encoding_rs::EUC_KR;

const HEADER: &[u8] = b"\x1b$)C";
const SO: u8 = 0x0e;
const SI: u8 = 0x0f;

/// The text of `bytes` when they are ISO-2022-KR (they carry its header), else `None`.
pub(super) fn decode(bytes: &[u8]) -> Option<String> {
    if !bytes.windows(HEADER.len()).any(|w| w == HEADER) {
        return None;
    }
    let mut euc = Vec::with_capacity(bytes.len());
    let mut shifted = false;
    let mut rest = bytes;
    while let Some((&b, tail)) = rest.split_first() {
        if rest.starts_with(HEADER) {
            rest = &rest[HEADER.len()..];
            continue;
        }
        match b {
            SO => shifted = true,
            SI => shifted = false,
            // Each line starts in ASCII (RFC 1557), so a line break ends a shift left open.
            b'\n' | b'\r' => {
                shifted = false;
                euc.push(b);
            }
            0x21..=0x7e if shifted => euc.push(b | 0x80),
            _ => euc.push(b),
        }
        rest = tail;
    }
    Some(EUC_KR.decode_without_bom_handling(&euc).0.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifted_pairs_are_euc_kr_without_high_bits() {
        // 한국 is C7 D1 B1 B9 in EUC-KR.
        let bytes = b"\x1b$)C\nNews: \x0eGQ19\x0f ok\n\x0eGQ\nnext";
        assert_eq!(decode(bytes).unwrap(), "\nNews: 한국 ok\n한\nnext");
        assert_eq!(
            decode(b"plain \x0e text"),
            None,
            "no header, no ISO-2022-KR"
        );
    }
}
