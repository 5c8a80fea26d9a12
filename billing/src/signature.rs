//! Stripe's webhook signature, checked in our own code over the raw body: the header is
//! `t=<unix seconds>,v1=<hex>,v1=<hex>,...` (one `v1` per secret while Stripe rolls one), each
//! `v1` an HMAC-SHA256 of `"<t>.<body>"`. An event is accepted when any `v1` matches any of our
//! secrets (compared in constant time) and `t` is within the tolerance of now.

use hmac::{Hmac, KeyInit, Mac};
use sha2_hmac::Sha256;

use crate::config::Secret;

/// How far `t` may be from now, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused (what the webhook logs; never the secret or the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No header, no `t`, or no `v1`.
    Malformed,
    /// `t` is more than the tolerance away from now.
    Expired,
    /// No `v1` matches any secret.
    Mismatch,
}

impl SignatureError {
    pub fn code(self) -> &'static str {
        match self {
            Self::Malformed => "signature_malformed",
            Self::Expired => "signature_expired",
            Self::Mismatch => "signature_mismatch",
        }
    }
}

fn mac(secret: &Secret, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header Stripe would send for `body` at `timestamp` under each of `secrets`.
pub fn sign(secrets: &[&Secret], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let tag = mac(secret, timestamp, body).finalize().into_bytes();
        header.push_str(",v1=");
        header.push_str(&hex::encode(tag));
    }
    header
}

/// Checks `header` for `body` at `now` (unix seconds) against `secrets`.
pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[Secret],
    now: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", tag)) => {
                if let Ok(tag) = hex::decode(tag) {
                    tags.push(tag);
                }
            }
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return Err(SignatureError::Malformed);
    };
    if tags.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Expired);
    }
    let matches = secrets.iter().any(|secret| {
        tags.iter()
            .any(|tag| mac(secret, timestamp, body).verify_slice(tag).is_ok())
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    fn secrets() -> Vec<Secret> {
        vec![Secret::new("whsec_old"), Secret::new("whsec_new")]
    }

    #[test]
    fn a_signature_under_either_secret_is_accepted() {
        let body = br#"{"id":"evt_1"}"#;
        for secret in secrets() {
            let header = sign(&[&secret], NOW, body);
            assert_eq!(verify(&header, body, &secrets(), NOW + 10), Ok(()));
        }
        // Stripe's rolling header: one v1 per secret, the first of them stale.
        let stale = Secret::new("whsec_gone");
        let header = sign(&[&stale, &secrets()[1]], NOW, body);
        assert_eq!(verify(&header, body, &secrets(), NOW), Ok(()));
    }

    #[test]
    fn forged_late_or_changed_is_refused() {
        let body = br#"{"id":"evt_1","amount":100}"#;
        let header = sign(&[&Secret::new("whsec_forger")], NOW, body);
        assert_eq!(
            verify(&header, body, &secrets(), NOW),
            Err(SignatureError::Mismatch)
        );
        let header = sign(&[&secrets()[0]], NOW, body);
        assert_eq!(
            verify(&header, body, &secrets(), NOW + TOLERANCE_SECS + 1),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(&header, body, &secrets(), NOW + TOLERANCE_SECS),
            Ok(())
        );
        let changed = br#"{"id":"evt_1","amount":900}"#;
        assert_eq!(
            verify(&header, changed, &secrets(), NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("t=1", body, &secrets(), NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("", body, &secrets(), NOW),
            Err(SignatureError::Malformed)
        );
    }
}
