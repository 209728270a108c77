//! What to do with one inbound WhatsApp message (spec §2.4, §2.5, §4.4), before any agent runs:
//! broadcasts and our own echoes are ignored, the linked number itself is always allowed, DMs go
//! through `dmPolicy` (with the WhatsApp default allowlist of the own number), groups through
//! `groupPolicy` and mention gating. Pure: the caller passes what it knows.

use super::target::{jid_to_e164, AllowEntry, E164};
use crate::policy::{group_allowed, DmDecision, DmPolicy, GroupCheck, GroupPolicy};
use crate::route::Peer;

/// Pairing replies are not sent for history older than this before the connection opened.
pub const HISTORY_GRACE_MS: u64 = 30_000;

/// One inbound message as the connection delivers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundMessage {
    /// The message id (chosen by the sender's client).
    pub id: String,
    /// The chat: a user JID for a DM, `…@g.us` for a group, `…@broadcast` for status/lists.
    pub chat_jid: String,
    /// In a group, the participant who wrote it.
    pub participant_jid: Option<String>,
    /// Sent from the linked account (our phone, or this gateway).
    pub from_me: bool,
    pub text: String,
    /// The sender's clock, in ms.
    pub timestamp_ms: u64,
    /// The sender's display name.
    pub push_name: Option<String>,
    /// JIDs mentioned natively (`@…` in the WhatsApp client).
    pub mentioned_jids: Vec<String>,
}

/// The access settings of one account, validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    pub dm_policy: DmPolicy,
    pub allow_from: Vec<AllowEntry>,
    pub group_policy: GroupPolicy,
    /// `groupAllowFrom`; `None` falls back to `allowFrom`.
    pub group_allow_from: Option<Vec<AllowEntry>>,
    /// The `groups` map: group JIDs (or `"*"`) and whether each requires a mention (default true).
    pub groups: Vec<(String, bool)>,
}

/// Why a message was ignored or dropped (for the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// A status or broadcast-list message.
    Broadcast,
    /// Our own outbound message coming back (`fromMe` to someone else, or a reply we sent).
    Echo,
    /// The sender is not a phone-number JID.
    UnknownSender,
    /// Refused by `dmPolicy` / `groupPolicy`.
    Policy,
    /// A group message that does not mention us (and the group requires it).
    NotMentioned,
    /// An unknown DM sender's message from history (older than the connection minus
    /// [`HISTORY_GRACE_MS`]): no pairing request, no reply.
    History,
}

/// The verdict for one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Run the agent; reply to `reply_to` (the chat's JID).
    Process { peer: Peer, sender: E164, reply_to: String },
    /// Unknown DM sender under `dmPolicy: "pairing"`: upsert a pairing request, reply with the
    /// code when it is new.
    Pair { sender: E164 },
    /// Nothing to do.
    Skip(Skip),
}

/// What the account knows when the message arrives.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The linked number (`creds.json` → `me.id`), once known.
    pub self_number: Option<&'a E164>,
    /// Senders approved through pairing.
    pub approved: &'a [E164],
    /// When the connection opened.
    pub connected_at_ms: u64,
    /// The message id is one this gateway sent (its echo).
    pub sent_by_us: bool,
}

fn listed(list: &[AllowEntry], n: &E164) -> bool {
    list.iter().any(|e| match e {
        AllowEntry::Anyone => true,
        AllowEntry::Number(m) => m == n,
    })
}

/// Decides what to do with `msg`.
pub fn classify(access: &Access, ctx: Context<'_>, msg: &InboundMessage) -> Verdict {
    let chat = msg.chat_jid.trim();
    if chat.to_ascii_lowercase().ends_with("@broadcast") {
        return Verdict::Skip(Skip::Broadcast);
    }
    if ctx.sent_by_us {
        return Verdict::Skip(Skip::Echo);
    }
    let lower = chat.to_ascii_lowercase();
    if lower.ends_with("@g.us") {
        return classify_group(access, ctx, msg, chat);
    }
    let Some(remote) = jid_to_e164(chat) else { return Verdict::Skip(Skip::UnknownSender) };
    let is_self = ctx.self_number == Some(&remote);
    if msg.from_me && !is_self {
        return Verdict::Skip(Skip::Echo);
    }
    let process = || Verdict::Process { peer: Peer::Direct(remote.to_string()), sender: remote.clone(), reply_to: chat.to_owned() };
    if is_self {
        // The linked number (self-chat) is always allowed.
        return process();
    }
    let mut allow: Vec<AllowEntry> = access.allow_from.clone();
    allow.extend(ctx.approved.iter().cloned().map(AllowEntry::Number));
    if allow.is_empty() {
        if let Some(own) = ctx.self_number {
            allow.push(AllowEntry::Number(own.clone()));
        }
    }
    match access.dm_policy.decide(listed(&allow, &remote)) {
        DmDecision::Allow => process(),
        DmDecision::Pair if msg.timestamp_ms.saturating_add(HISTORY_GRACE_MS) < ctx.connected_at_ms => Verdict::Skip(Skip::History),
        DmDecision::Pair => Verdict::Pair { sender: remote },
        DmDecision::Drop => Verdict::Skip(Skip::Policy),
    }
}

fn classify_group(access: &Access, ctx: Context<'_>, msg: &InboundMessage, chat: &str) -> Verdict {
    if msg.from_me {
        // Our replies in groups come back as fromMe: never a trigger.
        return Verdict::Skip(Skip::Echo);
    }
    let Some(sender) = msg.participant_jid.as_deref().and_then(jid_to_e164) else {
        return Verdict::Skip(Skip::UnknownSender);
    };
    let jid = chat.to_ascii_lowercase();
    let entry = access.groups.iter().find(|(id, _)| id.eq_ignore_ascii_case(&jid)).or_else(|| access.groups.iter().find(|(id, _)| id == "*"));
    let senders = access.group_allow_from.as_ref().unwrap_or(&access.allow_from);
    let check = GroupCheck { group_listed: entry.is_some(), sender_list_empty: senders.is_empty(), sender_listed: listed(senders, &sender) };
    if !group_allowed(access.group_policy, check) {
        return Verdict::Skip(Skip::Policy);
    }
    let require_mention = entry.is_none_or(|(_, required)| *required);
    let mentioned = ctx.self_number.is_some_and(|own| msg.mentioned_jids.iter().any(|j| jid_to_e164(j).as_ref() == Some(own)));
    if require_mention && !mentioned {
        return Verdict::Skip(Skip::NotMentioned);
    }
    Verdict::Process { peer: Peer::Group { id: jid.clone(), topic: None }, sender, reply_to: jid }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatsapp::target::parse_allow_entry;

    fn n(s: &str) -> E164 {
        E164::from_digits_of(s).expect("number")
    }

    fn dm(from: &str, from_me: bool) -> InboundMessage {
        InboundMessage {
            id: "3EB0A".into(),
            chat_jid: format!("{from}@s.whatsapp.net"),
            participant_jid: None,
            from_me,
            text: "hi".into(),
            timestamp_ms: 100_000,
            push_name: None,
            mentioned_jids: vec![],
        }
    }

    fn access(policy: DmPolicy, allow: &[&str]) -> Access {
        Access { dm_policy: policy, allow_from: allow.iter().map(|e| parse_allow_entry(e).expect("entry")).collect(), ..Access::default() }
    }

    fn ctx<'a>(own: &'a E164, approved: &'a [E164]) -> Context<'a> {
        Context { self_number: Some(own), approved, connected_at_ms: 100_000, sent_by_us: false }
    }

    #[test]
    fn the_linked_number_is_always_allowed_and_echoes_are_dropped() {
        let own = n("15550001111");
        let a = access(DmPolicy::Allowlist, &["+15559999999"]);
        // Self-chat: written on our phone to ourselves.
        let v = classify(&a, ctx(&own, &[]), &dm("15550001111", true));
        assert_eq!(v, Verdict::Process { peer: Peer::Direct("+15550001111".into()), sender: own.clone(), reply_to: "15550001111@s.whatsapp.net".into() });
        assert_eq!(classify(&access(DmPolicy::Disabled, &[]), ctx(&own, &[]), &dm("15550001111", false)), v, "even under disabled");
        // fromMe to someone else: our own outbound message.
        assert_eq!(classify(&a, ctx(&own, &[]), &dm("15552223333", true)), Verdict::Skip(Skip::Echo));
        // A reply this gateway sent into the self-chat comes back fromMe: its id marks it.
        let echo = Context { sent_by_us: true, ..ctx(&own, &[]) };
        assert_eq!(classify(&a, echo, &dm("15550001111", true)), Verdict::Skip(Skip::Echo));
    }

    #[test]
    fn dm_policies_with_the_own_number_default() {
        let own = n("15550001111");
        let stranger = dm("15552223333", false);
        // Pairing with nothing configured: the allowlist defaults to the own number.
        assert_eq!(classify(&access(DmPolicy::Pairing, &[]), ctx(&own, &[]), &stranger), Verdict::Pair { sender: n("15552223333") });
        let approved = [n("15552223333")];
        assert!(matches!(classify(&access(DmPolicy::Pairing, &[]), ctx(&own, &approved), &stranger), Verdict::Process { .. }));
        assert!(matches!(classify(&access(DmPolicy::Allowlist, &["+1 555 222 3333"]), ctx(&own, &[]), &stranger), Verdict::Process { .. }));
        assert_eq!(classify(&access(DmPolicy::Allowlist, &["+15559999999"]), ctx(&own, &[]), &stranger), Verdict::Skip(Skip::Policy));
        assert!(matches!(classify(&access(DmPolicy::Open, &["*"]), ctx(&own, &[]), &stranger), Verdict::Process { .. }));
        assert_eq!(classify(&access(DmPolicy::Disabled, &["*"]), ctx(&own, &[]), &stranger), Verdict::Skip(Skip::Policy));
    }

    #[test]
    fn pairing_replies_are_suppressed_for_old_history() {
        let own = n("15550001111");
        let mut old = dm("15552223333", false);
        old.timestamp_ms = 100_000 - HISTORY_GRACE_MS - 1;
        assert_eq!(classify(&access(DmPolicy::Pairing, &[]), ctx(&own, &[]), &old), Verdict::Skip(Skip::History));
        old.timestamp_ms = 100_000 - HISTORY_GRACE_MS;
        assert_eq!(classify(&access(DmPolicy::Pairing, &[]), ctx(&own, &[]), &old), Verdict::Pair { sender: n("15552223333") });
    }

    #[test]
    fn broadcasts_and_non_phone_senders_are_skipped() {
        let own = n("15550001111");
        let mut status = dm("15552223333", false);
        status.chat_jid = "status@broadcast".into();
        assert_eq!(classify(&access(DmPolicy::Open, &["*"]), ctx(&own, &[]), &status), Verdict::Skip(Skip::Broadcast));
        status.chat_jid = "120363@newsletter".into();
        assert_eq!(classify(&access(DmPolicy::Open, &["*"]), ctx(&own, &[]), &status), Verdict::Skip(Skip::UnknownSender));
    }

    #[test]
    fn groups_need_the_policy_and_a_mention() {
        let own = n("15550001111");
        let mut msg = dm("x", false);
        msg.chat_jid = "120363000000000001@g.us".into();
        msg.participant_jid = Some("15552223333:4@s.whatsapp.net".into());
        let mut a = access(DmPolicy::Pairing, &[]);
        // Default allowlist policy, group not listed.
        assert_eq!(classify(&a, ctx(&own, &[]), &msg), Verdict::Skip(Skip::Policy));
        a.groups = vec![("*".into(), true)];
        assert_eq!(classify(&a, ctx(&own, &[]), &msg), Verdict::Skip(Skip::NotMentioned));
        msg.mentioned_jids = vec!["15550001111@s.whatsapp.net".into()];
        let processed = classify(&a, ctx(&own, &[]), &msg);
        assert_eq!(processed, Verdict::Process { peer: Peer::Group { id: "120363000000000001@g.us".into(), topic: None }, sender: n("15552223333"), reply_to: "120363000000000001@g.us".into() });
        // Pairing approvals do not open groups: groupAllowFrom falls back to allowFrom only.
        a.allow_from = vec![parse_allow_entry("+15559999999").expect("entry")];
        assert_eq!(classify(&a, ctx(&own, &[n("15552223333")]), &msg), Verdict::Skip(Skip::Policy));
        a.group_allow_from = Some(vec![AllowEntry::Anyone]);
        assert!(matches!(classify(&a, ctx(&own, &[]), &msg), Verdict::Process { .. }));
        // requireMention false on the group itself.
        msg.mentioned_jids.clear();
        a.groups = vec![("120363000000000001@g.us".into(), false)];
        assert!(matches!(classify(&a, ctx(&own, &[]), &msg), Verdict::Process { .. }));
        a.group_policy = GroupPolicy::Disabled;
        assert_eq!(classify(&a, ctx(&own, &[]), &msg), Verdict::Skip(Skip::Policy));
        // Our own group replies come back fromMe.
        a.group_policy = GroupPolicy::Open;
        msg.from_me = true;
        assert_eq!(classify(&a, ctx(&own, &[]), &msg), Verdict::Skip(Skip::Echo));
    }
}
