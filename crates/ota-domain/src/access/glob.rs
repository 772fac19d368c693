//! The wildcard matcher of RAM patterns: `*` matches any run of characters (also none), `?`
//! exactly one, everything else itself.
//!
//! Iterative, remembering only the last `*`: when a later literal fails, that star absorbs one
//! more character and matching resumes after it. Earlier stars never need revisiting (whatever
//! they absorbed, the last star can absorb instead), so the cost is O(pattern × text) at worst
//! with no allocation, where naive recursion is exponential in the number of stars.

/// Whether letters are compared with or without regard to ASCII case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Case {
    Sensitive,
    Insensitive,
}

impl Case {
    fn same(self, pattern: char, text: char) -> bool {
        match self {
            Case::Sensitive => pattern == text,
            Case::Insensitive => pattern.eq_ignore_ascii_case(&text),
        }
    }
}

/// Whether the whole of `text` matches `pattern`.
pub(super) fn matches(pattern: &str, text: &str, case: Case) -> bool {
    let (mut p, mut t) = (0, 0);
    // After the last `*` seen: where the pattern resumes and where the text resumes next time.
    let mut last_star: Option<(usize, usize)> = None;
    while let Some(tc) = char_at(text, t) {
        match char_at(pattern, p) {
            Some('*') => {
                p += 1;
                last_star = Some((p, t));
            }
            Some(pc) if pc == '?' || case.same(pc, tc) => {
                p += pc.len_utf8();
                t += tc.len_utf8();
            }
            _ => {
                let Some((star_p, star_t)) = last_star else {
                    return false;
                };
                // star_t <= t < text.len(), so there is a character to absorb.
                let absorbed = char_at(text, star_t).map_or(1, char::len_utf8);
                last_star = Some((star_p, star_t + absorbed));
                p = star_p;
                t = star_t + absorbed;
            }
        }
    }
    pattern[p..].chars().all(|c| c == '*')
}

fn char_at(s: &str, byte: usize) -> Option<char> {
    s[byte..].chars().next()
}
