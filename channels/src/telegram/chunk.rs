//! Splitting a reply into Telegram messages: at most `limit` characters each (Telegram's hard
//! limit is 4096; the reference's default `textChunkLimit` is 4000), cut at the last paragraph
//! break, else line break, else sentence end, else whitespace, else hard at the limit.

/// Telegram's hard limit on a message's text, in characters.
pub const TELEGRAM_MAX_CHARS: usize = 4096;
/// The reference's default chunk size.
pub const DEFAULT_CHUNK_CHARS: usize = 4000;

/// The chunks of `text`, each non-empty with at most `limit` characters (`limit` clamped to
/// `1..=4096`). Whitespace at a cut is dropped; nothing else is.
pub fn chunk_text(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.clamp(1, TELEGRAM_MAX_CHARS);
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((window_end, _)) = rest.char_indices().nth(limit) else {
            out.push(rest.to_owned());
            break;
        };
        let window = &rest[..window_end];
        let cut = best_cut(window).unwrap_or(window_end);
        let chunk = rest[..cut].trim_end();
        if !chunk.is_empty() {
            out.push(chunk.to_owned());
        }
        rest = rest[cut..].trim_start();
    }
    out
}

/// The byte index to cut `window` at (after the boundary), preferring the strongest boundary in
/// the window's second half; `None` when the window has no boundary at all.
fn best_cut(window: &str) -> Option<usize> {
    let half = window.len() / 2;
    let sentence = || {
        window
            .char_indices()
            .filter(|(i, c)| matches!(c, '.' | '!' | '?') && window[i + 1..].starts_with(char::is_whitespace))
            .map(|(i, _)| i + 1)
            .next_back()
    };
    let candidates = [window.rfind("\n\n").map(|i| i + 2), window.rfind('\n').map(|i| i + 1), sentence()];
    candidates
        .into_iter()
        .flatten()
        .find(|&i| i > half)
        .or_else(|| window.rfind(char::is_whitespace).filter(|&i| i > 0).map(|i| i + 1))
        .or_else(|| candidates.into_iter().flatten().find(|&i| i > 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_text_is_one_chunk() {
        assert_eq!(chunk_text("  hello  ", 4000), ["hello"]);
        assert!(chunk_text("   ", 4000).is_empty());
    }

    #[test]
    fn cuts_prefer_paragraphs_then_sentences_then_words() {
        let para = format!("{}\n\n{}", "a".repeat(30), "b".repeat(30));
        assert_eq!(chunk_text(&para, 40), ["a".repeat(30), "b".repeat(30)]);
        let sentences = format!("{}. {}. {}", "a".repeat(20), "b".repeat(20), "c".repeat(5));
        assert_eq!(chunk_text(&sentences, 30), [format!("{}.", "a".repeat(20)), format!("{}. {}", "b".repeat(20), "c".repeat(5))]);
        assert_eq!(chunk_text("one two three four", 9), ["one two", "three", "four"]);
        assert_eq!(chunk_text(&"x".repeat(10), 4), ["xxxx", "xxxx", "xx"]);
    }

    #[test]
    fn counts_characters_not_bytes() {
        let text = "é".repeat(4096 + 10);
        let chunks = chunk_text(&text, 5000);
        assert_eq!(chunks.iter().map(|c| c.chars().count()).collect::<Vec<_>>(), [4096, 10]);
    }

    proptest! {
        #[test]
        fn chunks_fit_and_keep_every_non_space_character(text in "[a-z .!?\n]{0,300}", limit in 1usize..80) {
            let chunks = chunk_text(&text, limit);
            for c in &chunks {
                prop_assert!(!c.is_empty() && c.chars().count() <= limit);
            }
            let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            prop_assert_eq!(squash(&chunks.concat()), squash(&text));
        }
    }
}
