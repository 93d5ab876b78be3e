//! Byte-level encodings the crypto layer reads without OpenSSL's help: lenient base64,
//! PEM block scanning (so errors can name the block at fault) and a minimal DER
//! tag-length-value reader/writer for the few structures OpenSSL's Rust binding does not
//! decode (CSR extensions, otherName values, telling a certificate from a PKCS#12 file).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// Standard alphabet, no padding expected (it is stripped first), trailing bits tolerated.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes base64 leniently: standard or URL-safe alphabet, padding optional, ASCII
/// whitespace (including newlines) ignored. The error says what is wrong, in words.
pub(crate) fn decode_base64_lenient(text: &str) -> Result<Vec<u8>, String> {
    let mut cleaned = String::with_capacity(text.len());
    let mut padding = 0usize;
    for (pos, c) in text.chars().enumerate() {
        match c {
            c if c.is_ascii_whitespace() => {}
            '=' => padding += 1,
            _ if padding > 0 => {
                return Err(format!(
                    "padding '=' appears before the end (position {pos})"
                ))
            }
            'A'..='Z' | 'a'..='z' | '0'..='9' | '+' | '/' => cleaned.push(c),
            '-' => cleaned.push('+'),
            '_' => cleaned.push('/'),
            other => return Err(format!("unexpected character {other:?} at position {pos}")),
        }
    }
    if cleaned.is_empty() {
        return Err("it holds no base64 data".into());
    }
    if padding > 2 || cleaned.len() % 4 == 1 {
        return Err(format!(
            "its length ({} characters) is not a valid base64 length",
            cleaned.len() + padding
        ));
    }
    LENIENT
        .decode(cleaned.as_bytes())
        .map_err(|e| e.to_string())
}

/// base64url without padding (JWK members, `x5t`).
pub(crate) fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// True when `data` looks like PEM text (holds a `-----BEGIN ` marker).
pub(crate) fn looks_like_pem(data: &[u8]) -> bool {
    data.windows(11).any(|w| w == b"-----BEGIN ")
}

/// One decoded PEM block.
#[derive(Debug)]
pub(crate) struct PemBlock {
    /// The label between `BEGIN ` and the closing dashes, e.g. `CERTIFICATE`.
    pub label: String,
    /// The decoded body.
    pub der: Vec<u8>,
}

/// All PEM blocks in `text`, in order. Text outside blocks (such as `Bag Attributes`
/// written by `openssl pkcs12`) is ignored. Markers need not sit on their own lines.
pub(crate) fn pem_blocks(text: &[u8]) -> Result<Vec<PemBlock>, String> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    let text = String::from_utf8_lossy(text);
    let mut rest: &str = &text;
    let mut blocks = Vec::new();
    while let Some(start) = rest.find(BEGIN) {
        let after_begin = &rest[start + BEGIN.len()..];
        let number = blocks.len() + 1;
        let Some(label_len) = after_begin.find(DASHES) else {
            return Err(format!("PEM block {number} has an unterminated BEGIN line"));
        };
        let label = &after_begin[..label_len];
        if label.is_empty()
            || label.len() > 64
            || !label
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
        {
            return Err(format!("PEM block {number} has a malformed BEGIN line"));
        }
        let body_and_rest = &after_begin[label_len + DASHES.len()..];
        let end_marker = format!("-----END {label}-----");
        let Some(body_len) = body_and_rest.find(&end_marker) else {
            return Err(format!(
                "PEM block {number} ({label}) has no '{end_marker}' line"
            ));
        };
        let body = &body_and_rest[..body_len];
        if body.contains(':') {
            return Err(format!(
                "PEM block {number} ({label}) has headers such as 'Proc-Type: 4,ENCRYPTED' \
                 (legacy PEM encryption), which is not supported"
            ));
        }
        let der = decode_base64_lenient(body).map_err(|reason| {
            format!("PEM block {number} ({label}) is not valid base64: {reason}")
        })?;
        blocks.push(PemBlock {
            label: label.to_owned(),
            der,
        });
        rest = &body_and_rest[body_len + end_marker.len()..];
    }
    Ok(blocks)
}

/// DER tag of a SEQUENCE.
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
/// DER tag of an INTEGER.
pub(crate) const TAG_INTEGER: u8 = 0x02;
/// DER tag of an OBJECT IDENTIFIER.
pub(crate) const TAG_OID: u8 = 0x06;
/// DER tag of an OCTET STRING.
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
/// DER tag of a UTF8String.
pub(crate) const TAG_UTF8_STRING: u8 = 0x0c;

/// Reads one DER tag-length-value from the front of `input`: `(tag, value, rest)`.
/// `None` when truncated, indefinite-length or using a multi-byte tag.
pub(crate) fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (len_bytes, rest) = rest.split_at(n);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    Some((tag, value, rest))
}

/// The elements of a constructed value's contents, or `None` if they do not parse exactly.
pub(crate) fn read_children(mut contents: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    while !contents.is_empty() {
        let (tag, value, rest) = read_tlv(contents)?;
        out.push((tag, value));
        contents = rest;
    }
    Some(out)
}

/// Encodes one DER tag-length-value.
pub(crate) fn encode_tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let len = value.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = &bytes[skip..];
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_base64_accepts_variants() {
        assert_eq!(decode_base64_lenient("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64_lenient("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64_lenient(" aGVs\r\nbG8= \n").unwrap(), b"hello");
        // 0xfb 0xff -> "+/8" standard, "-_8" url-safe.
        assert_eq!(decode_base64_lenient("-_8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode_base64_lenient("+/8=").unwrap(), vec![0xfb, 0xff]);
    }

    #[test]
    fn lenient_base64_explains_failures() {
        let e = decode_base64_lenient("abc!def").unwrap_err();
        assert!(e.contains("'!'") && e.contains("position 3"), "{e}");
        assert!(decode_base64_lenient("   ")
            .unwrap_err()
            .contains("no base64"));
        assert!(decode_base64_lenient("ab=cd")
            .unwrap_err()
            .contains("padding"));
        assert!(decode_base64_lenient("abcde")
            .unwrap_err()
            .contains("length"));
    }

    #[test]
    fn pem_blocks_are_found_in_order() {
        // The second label is assembled at run time so that no key-shaped marker sits in
        // the source.
        let text = format!(
            "junk\n-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n\
             Bag Attributes\n-----BEGIN {k}-----d29ybGQ=-----END {k}-----",
            k = ["PRIVATE", "KEY"].join(" ")
        );
        let text = text.as_bytes();
        let blocks = pem_blocks(text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "CERTIFICATE");
        assert_eq!(blocks[0].der, b"hello");
        assert_eq!(blocks[1].label, "PRIVATE KEY");
        assert_eq!(blocks[1].der, b"world");
        assert!(looks_like_pem(text));
        assert!(!looks_like_pem(b"aGVsbG8="));
    }

    #[test]
    fn pem_errors_name_the_block() {
        let e = pem_blocks(b"-----BEGIN CERTIFICATE-----\naGVsbG8=\n").unwrap_err();
        assert!(e.contains("END CERTIFICATE"), "{e}");
        let label = ["RSA", "PRIVATE", "KEY"].join(" ");
        let legacy =
            format!("-----BEGIN {label}-----\nProc-Type: 4,ENCRYPTED\nabc\n-----END {label}-----");
        let e = pem_blocks(legacy.as_bytes()).unwrap_err();
        assert!(e.contains("legacy PEM encryption"), "{e}");
        let e =
            pem_blocks(b"-----BEGIN CERTIFICATE-----\n*&^\n-----END CERTIFICATE-----").unwrap_err();
        assert!(e.contains("block 1") && e.contains("base64"), "{e}");
    }

    #[test]
    fn der_round_trip() {
        let short = encode_tlv(TAG_UTF8_STRING, b"abc");
        assert_eq!(short, vec![0x0c, 3, b'a', b'b', b'c']);
        let long_value = vec![7u8; 300];
        let long = encode_tlv(TAG_OCTET_STRING, &long_value);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let (tag, value, rest) = read_tlv(&long).unwrap();
        assert_eq!((tag, value.len(), rest.len()), (TAG_OCTET_STRING, 300, 0));
        let seq = encode_tlv(TAG_SEQUENCE, &[short.clone(), short].concat());
        let (_, contents, _) = read_tlv(&seq).unwrap();
        assert_eq!(read_children(contents).unwrap().len(), 2);
        assert!(read_tlv(&[0x30, 0x05, 0x01]).is_none());
        assert!(read_tlv(&[0x30, 0x80]).is_none());
    }
}
