//! A certificate's `notAfter`, read with a minimal DER walk (no X.509
//! crate): Certificate → tbsCertificate → [version], serialNumber,
//! signature, issuer, validity → notAfter (UTCTime or GeneralizedTime).

use std::time::{Duration, SystemTime};

/// The end of the certificate's validity; `None` when the DER is not a
/// certificate this walk understands.
pub(crate) fn not_after(cert_der: &[u8]) -> Option<SystemTime> {
    let (cert, _) = tlv(cert_der, SEQUENCE)?;
    let (tbs, _) = tlv(cert, SEQUENCE)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest, 0xa0)?.1; // [0] version
    }
    rest = tlv(rest, 0x02)?.1; // serialNumber
    rest = tlv(rest, SEQUENCE)?.1; // signature
    rest = tlv(rest, SEQUENCE)?.1; // issuer
    let (validity, _) = tlv(rest, SEQUENCE)?;
    let (_, after_before) = any_time(validity)?;
    let (not_after, _) = any_time(after_before)?;
    Some(not_after)
}

const SEQUENCE: u8 = 0x30;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// The content of the element at the start of `input`, which must have
/// `tag`, and what follows it.
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = crate::der::read(input)?;
    (t == tag).then_some((content, rest))
}

/// A UTCTime or GeneralizedTime at the start of `input`, and what follows.
fn any_time(input: &[u8]) -> Option<(SystemTime, &[u8])> {
    let tag = *input.first()?;
    let (text, rest) = tlv(input, tag)?;
    let t = match (tag, text.len()) {
        (UTC_TIME, 13) => {
            let yy = digits(&text[..2])?;
            // RFC 5280: 50-99 are 19xx, 00-49 are 20xx.
            let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
            time(year, &text[2..])?
        }
        (GENERALIZED_TIME, 15) => time(digits(&text[..4])?, &text[4..])?,
        _ => return None,
    };
    Some((t, rest))
}

/// `MMDDHHMMSSZ` of `year`.
fn time(year: u64, text: &[u8]) -> Option<SystemTime> {
    if text.last() != Some(&b'Z') {
        return None;
    }
    let f = |i: usize| digits(&text[i..i + 2]);
    let (month, day, hour, min, sec) = (f(0)?, f(2)?, f(4)?, f(6)?, f(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

fn digits(b: &[u8]) -> Option<u64> {
    b.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
    })
}

/// Days from 1970-01-01 to the date (Howard Hinnant's algorithm); `None`
/// before 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_until(year: i32, month: u8, day: u8) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["x.test".to_string()]).unwrap();
        params.not_after = rcgen::date_time_ymd(year, month, day);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn unix(t: SystemTime) -> u64 {
        t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn not_after_is_read_from_utc_and_generalized_times() {
        // 2030-06-15 00:00:00 UTC (UTCTime, before 2050).
        assert_eq!(
            unix(not_after(&cert_until(2030, 6, 15)).unwrap()),
            1_907_712_000
        );
        // 2060-01-01 (GeneralizedTime, from 2050 on).
        assert_eq!(
            unix(not_after(&cert_until(2060, 1, 1)).unwrap()),
            2_840_140_800
        );
        // 2000-02-29, a leap day.
        assert_eq!(
            unix(not_after(&cert_until(2000, 2, 29)).unwrap()),
            951_782_400
        );
    }

    #[test]
    fn garbage_is_none_not_a_panic() {
        let good = cert_until(2030, 6, 15);
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(b"\x30\x84\xff\xff\xff\xff"), None);
        for cut in 0..good.len() {
            // Cut anywhere: no panic (a cut after the validity may still
            // parse, since only the start is read... but the outer length
            // no longer fits).
            assert_eq!(not_after(&good[..cut]), None, "cut at {cut}");
        }
        let mut flipped = good.clone();
        flipped[0] = 0x31;
        assert_eq!(not_after(&flipped), None);
    }

    #[test]
    fn dates_count_from_the_epoch() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(1969, 12, 31), None);
        assert_eq!(days_from_civil(2024, 3, 1), Some(19_783));
    }
}
