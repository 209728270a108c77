//! WhatsApp targets (spec §1.4; the plugin's `normalize-target.ts` of 2026.9.6): what a `send`
//! `to`, an `allowFrom` entry or an inbound JID normalises to, and the JID a send goes to.
//!
//! Accepted forms, after any number of leading `whatsapp:` prefixes:
//! - a group JID `<digits>(-<digits>)*@g.us` (optionally `group:`-prefixed) → itself;
//! - a newsletter JID `<digits>@newsletter` → itself;
//! - a user JID `<digits>[:<device>]@s.whatsapp.net`, `<digits>@c.us` or `<digits>@lid` → `+<digits>`;
//! - a phone number in any punctuation (`+1 (555) 010-0000`) → `+<digits>`, with the Brazil
//!   9th-digit rule of the spec.
//!
//! Anything else with an `@`, another provider's prefix (`telegram:…`) or no digit is refused.

use std::fmt;

/// A number in the loose E.164 shape of the reference: `+` and at least one ASCII digit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

impl E164 {
    /// From the digits of `raw` (everything else dropped); `None` when there is no digit.
    pub fn from_digits_of(raw: &str) -> Option<Self> {
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        (!digits.is_empty()).then(|| Self(format!("+{digits}")))
    }

    /// `+<digits>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits alone.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// The user JID a send goes to: `<digits>@s.whatsapp.net`.
    pub fn jid(&self) -> String {
        format!("{}@s.whatsapp.net", self.digits())
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A normalised WhatsApp target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A person, by phone number.
    Direct(E164),
    /// A group: the local part of its `@g.us` JID (`<digits>(-<digits>)*`).
    Group(String),
    /// A channel (newsletter): the digits of its `@newsletter` JID.
    Newsletter(String),
}

impl Target {
    /// The JID a message to this target is sent to.
    pub fn jid(&self) -> String {
        match self {
            Self::Direct(n) => n.jid(),
            Self::Group(local) => format!("{local}@g.us"),
            Self::Newsletter(id) => format!("{id}@newsletter"),
        }
    }

    pub fn is_group(&self) -> bool {
        matches!(self, Self::Group(_))
    }
}

/// The normalised form, as the reference prints it (`+1555…`, `123-456@g.us`, `9@newsletter`).
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Direct(n) => n.fmt(f),
            Self::Group(_) | Self::Newsletter(_) => f.write_str(&self.jid()),
        }
    }
}

/// A target that does not normalise; the message is the reference's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Delivering to WhatsApp requires target <E.164|group JID|newsletter JID>")]
pub struct TargetError;

/// JavaScript's `trim` (Unicode white space and the BOM).
fn js_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// Strips a case-insensitive ASCII `prefix`.
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// Strips a case-insensitive ASCII `suffix`.
fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &s[..cut])
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Removes leading `whatsapp:` prefixes, trimming around each.
fn strip_whatsapp_prefixes(raw: &str) -> &str {
    let mut s = js_trim(raw);
    while let Some(rest) = strip_prefix_ci(s, "whatsapp:") {
        s = js_trim(rest);
    }
    s
}

/// `<digits>(-<digits>)*@g.us`, optionally `group:`-prefixed → the local part.
fn group_local(candidate: &str) -> Option<&str> {
    let s = js_trim(strip_prefix_ci(candidate, "group:").unwrap_or(candidate));
    let local = strip_suffix_ci(s, "@g.us")?;
    local.split('-').all(all_digits).then_some(local)
}

/// The phone digits of a user JID (`…@s.whatsapp.net` with an optional `:device`, `…@c.us`,
/// `…@lid`).
fn user_jid_digits(candidate: &str) -> Option<&str> {
    if let Some(user) = strip_suffix_ci(candidate, "@s.whatsapp.net") {
        let digits = user.split_once(':').map_or(user, |(d, device)| if all_digits(device) { d } else { "" });
        return all_digits(digits).then_some(digits);
    }
    let local = strip_suffix_ci(candidate, "@c.us").or_else(|| strip_suffix_ci(candidate, "@lid"))?;
    all_digits(local).then_some(local)
}

/// `^[a-z][a-z0-9-]*:` — another provider's prefix (`telegram:`, `tg:`, `sms:`).
fn has_provider_prefix(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The spec's Brazil rule: `+55 AA 9 XXXXXXXX` (14 characters) loses the `9` unless the area
/// code `AA` is one of 11–19, 21, 22, 24, 27, 28.
pub fn brazil_fixup(n: E164) -> E164 {
    let s = n.as_str();
    if s.len() == 14 && s.starts_with("+55") && s.as_bytes()[5] == b'9' {
        let area = &s[3..5];
        if !BRAZIL_KEEP_NINE.contains(&area) {
            return E164(format!("{}{}", &s[..5], &s[6..]));
        }
    }
    n
}

/// Brazilian area codes whose mobile numbers keep the 9th digit in their WhatsApp JID.
const BRAZIL_KEEP_NINE: [&str; 14] = ["11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "22", "24", "27", "28"];

/// Normalises a target (see the module doc).
pub fn normalize_target(raw: &str) -> Result<Target, TargetError> {
    let candidate = strip_whatsapp_prefixes(raw);
    if candidate.is_empty() {
        return Err(TargetError);
    }
    if let Some(local) = group_local(candidate) {
        return Ok(Target::Group(local.to_owned()));
    }
    if let Some(id) = strip_suffix_ci(candidate, "@newsletter").filter(|id| all_digits(id)) {
        return Ok(Target::Newsletter(id.to_owned()));
    }
    if let Some(digits) = user_jid_digits(candidate) {
        return E164::from_digits_of(digits).map(Target::Direct).ok_or(TargetError);
    }
    if candidate.contains('@') || has_provider_prefix(candidate) {
        return Err(TargetError);
    }
    E164::from_digits_of(candidate).map(|n| Target::Direct(brazil_fixup(n))).ok_or(TargetError)
}

/// The sender of an inbound message as an E.164 number (user JIDs only; groups and others →
/// `None`).
pub fn jid_to_e164(jid: &str) -> Option<E164> {
    user_jid_digits(js_trim(jid)).and_then(E164::from_digits_of)
}

/// One `allowFrom` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowEntry {
    /// `"*"`: anyone.
    Anyone,
    /// A number.
    Number(E164),
}

/// Parses an `allowFrom` entry (E.164 in any punctuation, a user JID, or `"*"`); groups and
/// malformed entries are refused with the entry quoted.
pub fn parse_allow_entry(raw: &str) -> Result<AllowEntry, String> {
    if js_trim(raw) == "*" {
        return Ok(AllowEntry::Anyone);
    }
    match normalize_target(raw) {
        Ok(Target::Direct(n)) => Ok(AllowEntry::Number(n)),
        Ok(Target::Group(_) | Target::Newsletter(_)) | Err(_) => {
            Err(format!("allowFrom entry {raw:?} is not an E.164 phone number (or \"*\")"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Option<String> {
        normalize_target(s).ok().map(|t| t.to_string())
    }

    #[test]
    fn phone_numbers_normalise_to_e164() {
        assert_eq!(norm("+1 (555) 010-0000").as_deref(), Some("+15550100000"));
        assert_eq!(norm("15550100000").as_deref(), Some("+15550100000"));
        assert_eq!(norm(" whatsapp:WhatsApp: +44 20 7946 0958 ").as_deref(), Some("+442079460958"));
        assert_eq!(norm(""), None);
        assert_eq!(norm("whatsapp:"), None);
        assert_eq!(norm("+"), None);
        assert_eq!(norm("abc"), None);
        assert_eq!(norm("telegram:12345"), None, "another provider's prefix");
        assert_eq!(norm("tg:12345"), None);
    }

    #[test]
    fn jids_normalise_as_the_reference() {
        assert_eq!(norm("15550100000@s.whatsapp.net").as_deref(), Some("+15550100000"));
        assert_eq!(norm("15550100000:12@S.WhatsApp.Net").as_deref(), Some("+15550100000"), "device suffix");
        assert_eq!(norm("15550100000@c.us").as_deref(), Some("+15550100000"));
        assert_eq!(norm("99887766@lid").as_deref(), Some("+99887766"));
        assert_eq!(norm("120363000000000001@g.us").as_deref(), Some("120363000000000001@g.us"));
        assert_eq!(norm("group:15550100000-1600000000@G.US").as_deref(), Some("15550100000-1600000000@g.us"));
        assert_eq!(norm("whatsapp:120363@newsletter").as_deref(), Some("120363@newsletter"));
        assert_eq!(norm("abc@g.us"), None);
        assert_eq!(norm("1--2@g.us"), None);
        assert_eq!(norm("@g.us"), None);
        assert_eq!(norm("ann@example.com"), None);
        assert_eq!(norm("1555:x@s.whatsapp.net"), None);
        assert_eq!(norm("1@2@g.us"), None);
    }

    #[test]
    fn sends_go_to_jids() {
        assert_eq!(normalize_target("+1 555 0100000").map(|t| t.jid()), Ok("15550100000@s.whatsapp.net".into()));
        assert_eq!(normalize_target("1-2@g.us").map(|t| t.jid()), Ok("1-2@g.us".into()));
        assert!(normalize_target("1-2@g.us").expect("group").is_group());
        assert_eq!(TargetError.to_string(), "Delivering to WhatsApp requires target <E.164|group JID|newsletter JID>");
    }

    #[test]
    fn the_brazil_rule_drops_the_ninth_digit_outside_the_kept_area_codes() {
        // Belo Horizonte (31): the 9 goes.
        assert_eq!(norm("+55 31 9 8765 4321").as_deref(), Some("+553187654321"));
        // São Paulo (11), Rio (21), Espírito Santo (27): kept.
        assert_eq!(norm("+55 11 9 8765 4321").as_deref(), Some("+5511987654321"));
        assert_eq!(norm("+55 21 9 8765 4321").as_deref(), Some("+5521987654321"));
        assert_eq!(norm("+55 27 9 8765 4321").as_deref(), Some("+5527987654321"));
        // Not 14 characters, or no 9 after the area code: untouched.
        assert_eq!(norm("+55 31 8765 4321").as_deref(), Some("+553187654321"));
        assert_eq!(norm("+55 31 7 8765 4321").as_deref(), Some("+5531787654321"));
        // JIDs are WhatsApp's own spelling: never rewritten.
        assert_eq!(norm("5531987654321@s.whatsapp.net").as_deref(), Some("+5531987654321"));
    }

    #[test]
    fn inbound_jids_and_allow_entries() {
        assert_eq!(jid_to_e164("15550100000:3@s.whatsapp.net").map(|n| n.to_string()), Some("+15550100000".into()));
        assert_eq!(jid_to_e164("1-2@g.us"), None);
        assert_eq!(jid_to_e164("status@broadcast"), None);
        assert_eq!(parse_allow_entry(" * "), Ok(AllowEntry::Anyone));
        assert_eq!(parse_allow_entry("+1 555 0100000"), Ok(AllowEntry::Number(E164("+15550100000".into()))));
        assert!(parse_allow_entry("1-2@g.us").expect_err("group").contains("\"1-2@g.us\""));
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            /// A target's JID normalises back to it (what a reply to an inbound message relies
            /// on), and normalising a typed target is idempotent. (A number taken from a JID is
            /// WhatsApp's own spelling and is not re-run through the Brazil rule, so idempotence
            /// is asserted for typed input only.)
            #[test]
            fn normalisation_is_idempotent_and_jids_round_trip(raw in "(whatsapp:)?[ +()0-9a-z:@.-]{0,24}") {
                if let Ok(t) = normalize_target(&raw) {
                    prop_assert_eq!(normalize_target(&t.jid()), Ok(t.clone()));
                    if !raw.contains('@') {
                        prop_assert_eq!(normalize_target(&t.to_string()), Ok(t));
                    }
                }
            }

            /// Typed Brazilian numbers: the fix-up is idempotent too.
            #[test]
            fn brazil_numbers_are_stable(area in 11u32..100, rest in "9[0-9]{8}") {
                let t = normalize_target(&format!("+55{area}{rest}")).expect("a number");
                prop_assert_eq!(normalize_target(&t.to_string()), Ok(t));
            }

            /// Any phone number in any punctuation normalises to `+` and its digits (Brazil aside).
            #[test]
            fn phone_numbers_keep_their_digits(digits in "[1-9][0-9]{5,14}", sep in "[ ().-]{0,2}") {
                let spaced: String = digits.chars().flat_map(|c| std::iter::once(c).chain(sep.chars())).collect();
                let t = normalize_target(&format!("+{spaced}")).expect("a number");
                let Target::Direct(n) = t else { panic!("not direct") };
                if !digits.starts_with("55") {
                    prop_assert_eq!(n.digits(), digits.as_str());
                }
            }
        }
    }
}
