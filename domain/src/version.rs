//! Versions of a record and the preconditions an update states about them
//! (RFC 9110 §8.8.3 entity tags, §13.1.1 If-Match, §13.1.2 If-None-Match).
//!
//! A record's version is a number that grows by one with every change to it; its
//! entity tag is that number, quoted: `"3"`. An update names the version it was made
//! against ([`Expected`]); storage refuses it, inside the write's own transaction,
//! when the stored version differs, so two editors can never overwrite each other.

/// The strong entity tag of a version: `"3"`.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// What an update expects the stored record's version to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// `If-Match: *`: any current version.
    Any,
    /// `If-Match: "3", "4"`: one of these strong tags (their opaque contents).
    OneOf(Vec<String>),
}

impl Expected {
    /// Whether a record now at `version` may be changed.
    pub fn admits(&self, version: i32) -> bool {
        match self {
            Expected::Any => true,
            Expected::OneOf(tags) => tags.iter().any(|t| *t == version.to_string()),
        }
    }

    /// Reads an `If-Match` field value: `*` or a list of strong tags. A weak tag
    /// (`W/"3"`) is refused: RFC 9110 §13.1.1 compares strongly, so it could never
    /// match, and a client sending one has misunderstood the header.
    pub fn parse_if_match(value: &str) -> Result<Expected, String> {
        if value.trim() == "*" {
            return Ok(Expected::Any);
        }
        let tags = tag_list(value)?;
        if tags.iter().any(|(weak, _)| *weak) {
            return Err("takes strong entity tags only (no W/ prefix)".into());
        }
        Ok(Expected::OneOf(
            tags.into_iter().map(|(_, t)| t.to_owned()).collect(),
        ))
    }
}

/// Whether an `If-None-Match` field value matches a record at `version`: `*`, or one
/// of its tags by weak comparison (RFC 9110 §13.1.2). Malformed values are refused.
pub fn none_match(value: &str, version: i32) -> Result<bool, String> {
    if value.trim() == "*" {
        return Ok(true);
    }
    // `#entity-tag` may be an empty list (a client that holds no tag): it matches nothing.
    if value.split(',').all(|t| t.trim().is_empty()) {
        return Ok(false);
    }
    let current = version.to_string();
    Ok(tag_list(value)?.iter().any(|(_, t)| *t == current))
}

/// `"a", W/"b"` -> `[(false, "a"), (true, "b")]` (RFC 9110 §8.8.3 entity-tag list).
fn tag_list(value: &str) -> Result<Vec<(bool, &str)>, String> {
    let malformed = || "is not a list of entity tags like \"3\"".to_owned();
    let tags: Vec<_> = value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let (weak, quoted) = match t.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, t),
            };
            let inner = quoted
                .strip_prefix('"')
                .and_then(|q| q.strip_suffix('"'))
                .ok_or_else(malformed)?;
            // etagc = %x21 / %x23-7E / obs-text: no quote, no space, no control.
            if inner.bytes().any(|b| b == b'"' || b <= 0x20 || b == 0x7f) {
                return Err(malformed());
            }
            Ok((weak, inner))
        })
        .collect::<Result<_, _>>()?;
    if tags.is_empty() {
        return Err(malformed());
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_quoted_versions() {
        assert_eq!(etag(3), "\"3\"");
    }

    #[test]
    fn if_match_is_star_or_strong_tags() {
        assert_eq!(Expected::parse_if_match(" * "), Ok(Expected::Any));
        let two = Expected::parse_if_match("\"3\", \"x\"");
        assert_eq!(two, Ok(Expected::OneOf(vec!["3".into(), "x".into()])));
        assert!(two.as_ref().is_ok_and(|e| e.admits(3) && !e.admits(4)));
        assert!(Expected::Any.admits(7));
        assert!(Expected::parse_if_match("W/\"3\"").is_err());
        assert!(Expected::parse_if_match("3").is_err());
        assert!(Expected::parse_if_match("").is_err());
        assert!(Expected::parse_if_match("\"a b\"").is_err());
    }

    #[test]
    fn if_none_match_compares_weakly() {
        assert_eq!(none_match("W/\"3\"", 3), Ok(true));
        assert_eq!(none_match("\"2\", \"3\"", 3), Ok(true));
        assert_eq!(none_match("\"2\"", 3), Ok(false));
        assert_eq!(none_match("*", 3), Ok(true));
        assert!(none_match("nope", 3).is_err());
    }
}
