//! Fuzzing the binding credential parser with what the unit proptests do not cover: control
//! characters and any length (past the long form's 4096 limit), base64 of arbitrary bytes and
//! JSON, well-formed long forms with forged fields, and real credentials with invisible or
//! look-alike characters slipped in. Nothing panics; nothing is accepted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cloudify_core::binding::{deep_link_token, dingtalk_code, long_payload, parse, verify};
use cloudify_core::store::{Instance, NewInstance, Store};
use proptest::prelude::*;

static INSTANCES: LazyLock<Vec<Instance>> = LazyLock::new(|| {
    let mut s = Store::open_in_memory().unwrap();
    let new = |n: &str| NewInstance {
        name: n.into(),
        url: "http://127.0.0.1:4096".into(),
        directory: "/w".into(),
        password: None,
    };
    vec![
        s.add_instance(&new("a"), 1).unwrap(),
        s.add_instance(&new("b"), 1).unwrap(),
    ]
});

fn cases(ci: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ci);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn accepted(input: &str) -> bool {
    parse(input).is_ok_and(|c| verify(&c, &INSTANCES).is_ok())
}

/// Characters a credential may carry by accident or by malice: controls, bidi and
/// zero-width marks, full-width and Cyrillic look-alikes, combining marks.
fn sneaky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            '\0', '\u{1}', '\u{7f}', '\u{85}', '\u{a0}', '\u{200B}', '\u{200D}', '\u{200F}',
            '\u{202E}', '\u{FEFF}', '\u{2028}', '\u{301}', 'Ｋ', '０', 'О', 'А', 'ı', 'İ', 'ſ',
            '\u{212A}', '😀',
        ]),
        any::<char>().prop_filter("not ASCII", |c| !c.is_ascii()),
    ]
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn fuzz_any_text_is_refused(s in prop::collection::vec(any::<char>(), 0..6000)) {
        let s: String = s.into_iter().collect();
        prop_assert!(!accepted(&s));
    }

    #[test]
    fn fuzz_base64_of_anything_is_refused(bytes in prop::collection::vec(any::<u8>(), 0..400), json in "\\PC{0,200}") {
        prop_assert!(!accepted(&URL_SAFE_NO_PAD.encode(&bytes)));
        prop_assert!(!accepted(&URL_SAFE_NO_PAD.encode(json.as_bytes())));
    }

    #[test]
    fn fuzz_forged_long_forms_are_refused(
        which in 0usize..2, secret in "[0-9a-f]{64}", version in any::<u32>(),
        name in "\\PC{0,40}", created in any::<i64>(),
    ) {
        let inst = &INSTANCES[which];
        let forged = serde_json::json!({
            "instance_id": inst.id, "instance_name": name, "connect_secret": secret,
            "local_endpoint": "x", "created_at": created, "version": version,
        });
        prop_assume!(secret != hex_secret(inst));
        prop_assert!(!accepted(&URL_SAFE_NO_PAD.encode(forged.to_string())));
    }

    #[test]
    fn fuzz_real_credentials_with_a_sneaky_char_are_refused(
        kind in 0usize..3, at in any::<prop::sample::Index>(), c in sneaky_char(),
    ) {
        let inst = &INSTANCES[0];
        let real = match kind {
            0 => deep_link_token(inst),
            1 => dingtalk_code(inst),
            _ => long_payload(inst, "x", 1),
        };
        prop_assert!(accepted(&real));
        let mut chars: Vec<char> = real.chars().collect();
        let i = at.index(chars.len() + 1);
        // Leading and trailing whitespace is trimmed on purpose (copy and paste).
        prop_assume!(!(c.is_whitespace() && (i == 0 || i == chars.len())));
        chars.insert(i, c);
        let s: String = chars.into_iter().collect();
        prop_assert!(!accepted(&s), "{s:?}");
    }
}

fn hex_secret(inst: &Instance) -> String {
    cloudify_core::binding::connect_secret(inst)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
