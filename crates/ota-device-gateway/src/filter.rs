//! Topic and filter syntax (MQTT 3.1.1 §4.7) and matching.
//!
//! Written here rather than taken from `rumqttc` because its `matches` slices the topic's
//! first byte as a `str`, which panics on a multi-byte first character.

/// A topic a client may publish to: non-empty, no wildcards, no NUL.
pub(crate) fn valid_topic(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#', '\0'])
}

/// A filter a client may subscribe to: `+` and `#` only as whole levels, `#` only last.
pub(crate) fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        if level.contains('#') && (level != "#" || !last) {
            return false;
        }
        if level.contains('+') && level != "+" {
            return false;
        }
    }
    true
}

/// Whether `topic` matches `filter`. Topics starting with `$` are not matched by a filter
/// starting with a wildcard (MQTT 3.1.1 §4.7.2).
pub(crate) fn matches(topic: &str, filter: &str) -> bool {
    matches_levels(topic, filter, |f, level| f == level)
}

/// [`matches`], with `same(filter_level, topic_level)` deciding whether a level that is
/// not a wildcard matches.
pub(crate) fn matches_levels(topic: &str, filter: &str, same: impl Fn(&str, &str) -> bool) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut levels = topic.split('/');
    for f in filter.split('/') {
        if f == "#" {
            return true;
        }
        match levels.next() {
            Some(level) if f == "+" || same(f, level) => {}
            _ => return false,
        }
    }
    levels.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_syntax() {
        for ok in [
            "#",
            "+",
            "/+/+",
            "a/#",
            "/ota/device/upgrade/+/+",
            "a//b",
            "/",
        ] {
            assert!(valid_filter(ok), "{ok}");
        }
        for bad in ["", "a#", "a/#/b", "a+/b", "a/b+", "##", "a\0"] {
            assert!(!valid_filter(bad), "{bad}");
        }
        assert!(
            valid_topic("/a/b") && !valid_topic("a/+") && !valid_topic("") && !valid_topic("#")
        );
    }

    #[test]
    fn matching() {
        let yes = [
            ("/ota/device/upgrade/pk/dn", "/ota/device/upgrade/+/+"),
            ("/ota/device/upgrade/pk/dn", "#"),
            ("/ota/device/upgrade/pk/dn", "/ota/#"),
            ("a/b", "a/b/#"),
            ("a", "a/#"),
            ("/a", "+/+"),
            ("a//b", "a/+/b"),
            ("$SYS/x", "$SYS/#"),
        ];
        for (topic, filter) in yes {
            assert!(matches(topic, filter), "{topic} {filter}");
        }
        let no = [
            ("/ota/device/upgrade/pk/dn", "/ota/device/upgrade/+"),
            ("/ota/device/upgrade/pk/dn/x", "/ota/device/upgrade/+/+"),
            ("a/b", "a"),
            ("a", "a/b"),
            ("$SYS/x", "#"),
            ("$SYS/x", "+/x"),
            ("é/x", "a/x"),
        ];
        for (topic, filter) in no {
            assert!(!matches(topic, filter), "{topic} {filter}");
        }
    }
}
