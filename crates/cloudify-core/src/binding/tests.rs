use super::*;
use crate::identity::{Platform, UserKey};
use crate::store::{NewInstance, Store};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use std::time::Duration;

fn two_instances() -> (Store, Instance, Instance) {
    let mut s = Store::open_in_memory().unwrap();
    let new = |n: &str| NewInstance {
        name: n.into(),
        url: "http://127.0.0.1:4096".into(),
        directory: "/w".into(),
        password: None,
    };
    let a = s.add_instance(&new("a"), 1).unwrap();
    let b = s.add_instance(&new("b"), 1).unwrap();
    (s, a, b)
}

fn check(input: &str, instances: &[Instance]) -> Result<Uuid, BindError> {
    verify(&parse(input)?, instances)
}

#[test]
fn token_round_trip_and_shape() {
    let (_s, a, b) = two_instances();
    let t = deep_link_token(&a);
    assert_eq!(t.len(), 50);
    assert!(
        t.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
    assert_eq!(check(&t, &[a.clone(), b.clone()]), Ok(a.id));
    assert_eq!(check(&deep_link_token(&b), &[a, b.clone()]), Ok(b.id));
}

#[test]
fn code_round_trip_and_typing_slack() {
    let (_s, a, b) = two_instances();
    let code = dingtalk_code(&a);
    assert_eq!(code.len(), 8);
    assert_eq!(check(&code, &[a.clone(), b.clone()]), Ok(a.id));
    let typed = format!("{}-{}", code[..4].to_lowercase(), code[4..].to_lowercase());
    assert_eq!(check(&typed, &[a.clone(), b.clone()]), Ok(a.id));
    assert_ne!(dingtalk_code(&a), dingtalk_code(&b));
}

#[test]
fn long_form_round_trip() {
    let (_s, a, b) = two_instances();
    let p = long_payload(&a, "http://127.0.0.1:4097", 1_700_000_000);
    assert_eq!(check(&p, &[a.clone(), b]), Ok(a.id));
    let raw = URL_SAFE_NO_PAD.decode(&p).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    for field in [
        "instance_id",
        "instance_name",
        "connect_secret",
        "local_endpoint",
        "created_at",
        "version",
    ] {
        assert!(json.get(field).is_some(), "missing {field}");
    }
}

#[test]
fn every_credential_dies_on_reset() {
    let (mut s, a, b) = two_instances();
    let (token, code, long) = (
        deep_link_token(&a),
        dingtalk_code(&a),
        long_payload(&a, "x", 1),
    );
    s.reset_qr(a.id).unwrap();
    let a2 = s.instance(a.id).unwrap().unwrap();
    let all = [a2.clone(), b];
    assert_eq!(check(&token, &all), Err(BindError::Stale));
    assert_eq!(check(&long, &all), Err(BindError::Stale));
    assert_eq!(check(&code, &all), Err(BindError::BadSignature));
    assert_eq!(check(&deep_link_token(&a2), &all), Ok(a.id));
    assert_eq!(check(&dingtalk_code(&a2), &all), Ok(a.id));
}

#[test]
fn forged_version_bump_is_refused() {
    // Claiming the current version with an old tag must fail on the signature.
    let (mut s, a, _b) = two_instances();
    let old = deep_link_token(&a);
    s.reset_qr(a.id).unwrap();
    let a2 = s.instance(a.id).unwrap().unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(&old).unwrap();
    raw[17..21].copy_from_slice(&a2.qr_version.to_be_bytes());
    let forged = URL_SAFE_NO_PAD.encode(raw);
    assert_eq!(check(&forged, &[a2]), Err(BindError::BadSignature));
}

#[test]
fn cross_instance_tokens_are_refused() {
    let (_s, a, b) = two_instances();
    // a's header with b's tag, and vice versa.
    let mut raw = URL_SAFE_NO_PAD.decode(deep_link_token(&a)).unwrap();
    let braw = URL_SAFE_NO_PAD.decode(deep_link_token(&b)).unwrap();
    raw[21..].copy_from_slice(&braw[21..]);
    let forged = URL_SAFE_NO_PAD.encode(raw);
    assert_eq!(
        check(&forged, &[a.clone(), b.clone()]),
        Err(BindError::BadSignature)
    );
    // A token for an instance this bot does not know.
    assert_eq!(
        check(&deep_link_token(&a), &[b]),
        Err(BindError::UnknownInstance)
    );
}

#[test]
fn limiter_engages_after_five_failures_and_releases() {
    let mut l = BindLimiter::new(5, Duration::from_secs(600));
    let eve = UserKey::new(Platform::DingTalk, "eve");
    let ann = UserKey::new(Platform::DingTalk, "ann");
    for i in 0..5 {
        assert!(l.check(&eve, i * 1000).is_ok());
        l.record_failure(&eve, i * 1000);
    }
    let refusal = l.check(&eve, 5000).unwrap_err();
    assert_eq!(refusal.wait, Duration::from_millis(595_000));
    assert!(refusal.tell);
    assert!(
        !l.check(&eve, 5001).unwrap_err().tell,
        "told once per streak"
    );
    assert!(l.check(&ann, 5000).is_ok(), "limits are per sender");
    assert!(
        l.check(&eve, 600_000).is_ok(),
        "the oldest failure left the window"
    );
    l.record_success(&eve);
    assert!(l.check(&eve, 600_001).is_ok());
}

fn flip_strategy() -> impl Strategy<Value = (usize, u8)> {
    (0usize..37, 1u8..=255)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_strings_are_refused(s in "\\PC{0,120}") {
        let (_st, a, b) = two_instances();
        prop_assert!(check(&s, &[a, b]).is_err());
    }

    #[test]
    fn random_token_shaped_strings_are_refused(s in "[A-Za-z0-9_-]{50}") {
        let (_st, a, b) = two_instances();
        prop_assert!(check(&s, &[a, b]).is_err());
    }

    #[test]
    fn random_codes_are_refused(s in "[0-9A-HJKMNP-TV-Z]{8}") {
        let (_st, a, b) = two_instances();
        prop_assume!(s != dingtalk_code(&a) && s != dingtalk_code(&b));
        prop_assert!(check(&s, &[a, b]).is_err());
    }

    #[test]
    fn truncated_tokens_are_refused(cut in 0usize..50) {
        let (_st, a, b) = two_instances();
        let t = deep_link_token(&a);
        prop_assert!(check(&t[..cut], &[a, b]).is_err());
    }

    #[test]
    fn bit_flipped_tokens_are_refused((pos, mask) in flip_strategy()) {
        let (_st, a, b) = two_instances();
        let mut raw = URL_SAFE_NO_PAD.decode(deep_link_token(&a)).unwrap();
        raw[pos] ^= mask;
        let t = URL_SAFE_NO_PAD.encode(raw);
        prop_assert!(check(&t, &[a, b]).is_err());
    }

    #[test]
    fn mutated_long_forms_are_refused(pos in 0usize..64, c in "[0-9a-f]") {
        let (_st, a, b) = two_instances();
        let raw = URL_SAFE_NO_PAD.decode(long_payload(&a, "x", 1)).unwrap();
        let mut p: LongPayload = serde_json::from_slice(&raw).unwrap();
        let mut secret: Vec<char> = p.connect_secret.chars().collect();
        let new = c.chars().next().unwrap();
        prop_assume!(secret[pos] != new);
        secret[pos] = new;
        p.connect_secret = secret.into_iter().collect();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&p).unwrap());
        prop_assert_eq!(check(&forged, &[a, b]), Err(BindError::BadSignature));
    }

    #[test]
    fn pre_reset_codes_are_refused(resets in 1u32..4) {
        let (mut st, a, _b) = two_instances();
        let old_code = dingtalk_code(&a);
        let old_token = deep_link_token(&a);
        for _ in 0..resets { st.reset_qr(a.id).unwrap(); }
        let now = st.instance(a.id).unwrap().unwrap();
        prop_assert!(check(&old_code, std::slice::from_ref(&now)).is_err());
        prop_assert!(check(&old_token, std::slice::from_ref(&now)).is_err());
    }
}

#[test]
fn expiring_credentials_live_for_the_ttl_and_no_longer() {
    let (_s, a, b) = two_instances();
    let all = [a.clone(), b.clone()];
    let t0 = 1_700_000_000;
    let ttl = 3600;
    let at = |now: i64| Issue::new(now, ttl);
    let token = deep_link_token_at(&a, at(t0));
    assert_eq!(token.len(), 55);
    let long = long_payload_at(&a, "", at(t0));
    let code = dingtalk_code_at(&a, at(t0));
    for cred in [&token, &long, &code] {
        let c = parse(cred).unwrap();
        assert_eq!(verify_at(&c, &all, at(t0)), Ok(a.id), "{cred}");
        assert_eq!(verify_at(&c, &all, at(t0 + 3000)), Ok(a.id), "{cred}");
        // Two windows at most for the code; the ttl (and a minute of slack) for the others.
        assert!(
            verify_at(&c, &all, at(t0 + 2 * 3600 + 1)).is_err(),
            "{cred}"
        );
    }
    for cred in [&token, &long] {
        let c = parse(cred).unwrap();
        assert_eq!(
            verify_at(&c, &all, at(t0 + 3600 + 61)),
            Err(BindError::Expired)
        );
    }
    // Old-style credentials are valid only while codes never expire.
    for old in [
        deep_link_token(&a),
        long_payload(&a, "", t0),
        dingtalk_code(&a),
    ] {
        let c = parse(&old).unwrap();
        assert_eq!(verify_at(&c, &all, Issue::never_expires()), Ok(a.id));
        assert!(verify_at(&c, &all, at(t0)).is_err(), "{old}");
    }
    // A stamp cannot be moved: changing the minute breaks the tag.
    let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
    raw[24] ^= 1;
    let moved = URL_SAFE_NO_PAD.encode(raw);
    assert_eq!(
        verify_at(&parse(&moved).unwrap(), &all, at(t0)),
        Err(BindError::BadSignature)
    );
    // Neither is the long form's created_at.
    let json = URL_SAFE_NO_PAD.decode(&long).unwrap();
    let mut p: LongPayload = serde_json::from_slice(&json).unwrap();
    p.created_at += 3600;
    let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&p).unwrap());
    assert_eq!(
        verify_at(&parse(&forged).unwrap(), &all, at(t0 + 7000)),
        Err(BindError::BadSignature)
    );
}
