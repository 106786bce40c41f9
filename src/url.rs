//! The one URL question the core asks itself: where the scheme ends. (URLs are parsed and
//! normalized by the host's `URL`; the core only checks and splits what it was given.)

/// The byte offset just past `://` in `url`, when it has one.
///
/// A byte search rather than `str::find("://")`: that would bring core's two-way substring
/// searcher into the wasm module for these few call sites (0.7 KB gzip).
pub fn after_scheme(url: &str) -> Option<usize> {
    url.as_bytes().windows(3).position(|w| w == b"://").map(|i| i + 3)
}

/// `url` split around `://`: the scheme and the rest.
pub fn split_scheme(url: &str) -> Option<(&str, &str)> {
    let rest = after_scheme(url)?;
    Some((&url[..rest - 3], &url[rest..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_scheme_separator() {
        assert_eq!(split_scheme("https://a/b://c"), Some(("https", "a/b://c")));
        assert_eq!(split_scheme("://"), Some(("", "")));
        assert_eq!(split_scheme("https:/a"), None);
        assert_eq!(after_scheme("x://"), Some(4));
        assert_eq!(after_scheme(""), None);
    }
}
