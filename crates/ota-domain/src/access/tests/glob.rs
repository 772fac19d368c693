use super::super::glob::{Case, matches};
use proptest::prelude::*;

/// The definition, written as plainly as possible: exponential, but the inputs are short.
fn reference(pattern: &[char], text: &[char], case: Case) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => {
            reference(rest, text, case)
                || (!text.is_empty() && reference(pattern, &text[1..], case))
        }
        Some(('?', rest)) => !text.is_empty() && reference(rest, &text[1..], case),
        Some((&p, rest)) => {
            let same = |t: &char| match case {
                Case::Sensitive => p == *t,
                Case::Insensitive => p.eq_ignore_ascii_case(t),
            };
            text.first().is_some_and(same) && reference(rest, &text[1..], case)
        }
    }
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![Just(Case::Sensitive), Just(Case::Insensitive)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    // A small alphabet (with a two-byte letter and literal wildcards in the text) makes
    // matches and near-misses common.
    #[test]
    fn agrees_with_reference(
        pattern in "[aAbé*?]{0,10}",
        text in "[aAbé*?]{0,12}",
        case in case(),
    ) {
        let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
        prop_assert_eq!(matches(&pattern, &text, case), reference(&p, &t, case));
    }
}

#[test]
fn many_stars_do_not_blow_up() {
    // Backtracking recursion is exponential in the stars here; this is at most 41 × 10,000 steps.
    let pattern = "*a".repeat(20) + "b";
    let text = "a".repeat(10_000);
    assert!(!matches(&pattern, &text, Case::Sensitive));
    assert!(matches(&("*a".repeat(20) + "*"), &text, Case::Sensitive));
}

#[test]
fn cases() {
    #[rustfmt::skip]
    let rows = [
        ("", "", Case::Sensitive, true),
        ("", "a", Case::Sensitive, false),
        ("*", "", Case::Sensitive, true),
        ("?", "", Case::Sensitive, false),
        ("?", "é", Case::Sensitive, true),
        ("iot:Get*", "iot:GetThing", Case::Sensitive, true),
        ("iot:get*", "IOT:GETTHING", Case::Insensitive, true),
        ("iot:get*", "IOT:GETTHING", Case::Sensitive, false),
        ("a*b*c", "axxbyyc", Case::Sensitive, true),
        ("a*b*c", "axxbyyd", Case::Sensitive, false),
        ("*é", "aé", Case::Insensitive, true),
    ];
    for (pattern, text, case, want) in rows {
        assert_eq!(
            matches(pattern, text, case),
            want,
            "{pattern:?} vs {text:?} ({case:?})"
        );
    }
}
