//! WhatsApp as a linked device (spec §4; the reference's plugin `@openclaw/whatsapp`).
//! - [`target`]: `send` targets, `allowFrom` entries and inbound JIDs normalised (E.164, user /
//!   group / newsletter JIDs, `@lid`, the Brazil 9th-digit rule);
//! - [`inbound`]: the verdict for one inbound message (broadcasts and our own echoes ignored,
//!   the linked number always allowed, `dmPolicy` / `groupPolicy` / mention gating through the
//!   shared [`crate::policy`]);
//! - [`link`]: the seam to a WhatsApp Web protocol implementation (connections, their events,
//!   sends with a caller-chosen message id);
//! - [`creds`]: the linked-device credentials in `<state>/credentials/whatsapp/<account>/`
//!   (0600, atomic, backed up, deleted on logout);
//! - [`ledger`]: the durable send ledger that makes `send` idempotent across restarts;
//! - [`account`]: the QR login and the connection loop (reconnect backoff, logout detection,
//!   `lastDisconnect`, inbound → agent → reply, sends);
//! - [`channel`]: the accounts together: start/stop, `channels.status` entries, `send` with
//!   NOT_LINKED, `channels logout`.

pub mod account;
pub mod channel;
pub mod creds;
pub mod inbound;
pub mod ledger;
pub mod link;
pub mod qr;
pub mod target;
#[cfg(feature = "whatsapp")]
pub mod wa_rust;

use crate::pairing::PairingCode;
use target::E164;

/// The error of a send to an account with no live connection (not linked, logged out, or the
/// gateway not running it), as the reference words it.
pub fn not_linked_message(account_id: &str) -> String {
    format!(
        "No active WhatsApp Web listener (account: {account_id}). Start the gateway, then link WhatsApp with: openclaw channels login --channel whatsapp --account {account_id}."
    )
}

/// The reply to an unknown DM under `dmPolicy: "pairing"`, as the reference sends it.
pub fn pairing_reply(sender: &E164, code: &PairingCode) -> String {
    format!(
        "OpenClaw: access not configured.\n\nYour WhatsApp phone number: {sender}\nPairing code:\n```\n{code}\n```\n\nAsk the bot owner to approve with:\n```\nopenclaw pairing approve whatsapp {code}\n```"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_the_references() {
        assert_eq!(
            not_linked_message("work"),
            "No active WhatsApp Web listener (account: work). Start the gateway, then link WhatsApp with: openclaw channels login --channel whatsapp --account work."
        );
        let code = PairingCode::parse("7TD7KYQQ").expect("code");
        let sender = E164::from_digits_of("+15552223333").expect("number");
        let lines: Vec<&str> = vec![
            "OpenClaw: access not configured.",
            "",
            "Your WhatsApp phone number: +15552223333",
            "Pairing code:",
            "```",
            "7TD7KYQQ",
            "```",
            "",
            "Ask the bot owner to approve with:",
            "```",
            "openclaw pairing approve whatsapp 7TD7KYQQ",
            "```",
        ];
        assert_eq!(pairing_reply(&sender, &code), lines.join("\n"));
    }
}
