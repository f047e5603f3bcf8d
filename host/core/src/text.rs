//! Cutting text that came from outside (hook output, plugin messages, ids read from a
//! backup's manifest) without panicking: Rust strings slice by byte, and a byte index
//! inside a multi-byte character panics — which, in a job, used to stop the queue.

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn head(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The longest suffix of `s` of at most `max` bytes that starts on a character boundary.
pub fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Keeps only the last `max` bytes of `s` (on a character boundary), in place.
pub fn keep_tail(s: &mut String, max: usize) {
    let cut = s.len() - tail(s, max).len();
    s.drain(..cut);
}

/// `text` cut to at most `max` bytes, saying how long it was when cut.
pub fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    format!("{}… (cut; {} bytes in all)", head(text, max), text.len()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cuts_fall_on_character_boundaries() {
        assert_eq!(head("ɣɣɣ", 3), "ɣ");
        assert_eq!(tail("ɣɣɣ", 3), "ɣ");
        assert_eq!(head("abc", 10), "abc");
        let mut s = "é".repeat(3000);
        keep_tail(&mut s, 4001);
        assert_eq!(s.len(), 4000);
        assert_eq!(clip("ɣɣ", 3), "ɣ… (cut; 4 bytes in all)");
    }

    proptest! {
        #[test]
        fn never_panics_and_never_exceeds(s in "\\PC*", max in 0usize..64) {
            prop_assert!(head(&s, max).len() <= max);
            prop_assert!(s.starts_with(head(&s, max)));
            prop_assert!(tail(&s, max).len() <= max);
            prop_assert!(s.ends_with(tail(&s, max)));
            let mut t = s.clone();
            keep_tail(&mut t, max);
            prop_assert_eq!(t.as_str(), tail(&s, max));
        }
    }
}
