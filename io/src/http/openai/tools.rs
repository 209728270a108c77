//! Client function tools of both OpenAI-compatible endpoints (http.md §2.3, §3.2): what
//! `tool_choice` makes of `tools` (the reference's `applyToolChoice`), the check that no
//! client tool takes the name of one of the gateway's own tools, and whether the run met the
//! constraint. The tools are offered to the model beside the gateway's; a call to one ends the
//! run with the call pending, and the answer hands it to the caller.

pub(crate) use openclaw_core::wire::agent::ClientTool;

use crate::agent::config::AgentConfig;

/// `tool_choice` once parsed (`auto` and absent are `None` at the call site).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Choice {
    None,
    Required,
    Function(String),
}

/// What a run must produce for the answer to count (`required` or a pinned function).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Constraint {
    Required,
    Function(String),
}

/// A client tool call the run ended with, as the answer carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PendingCall {
    /// The model's call id (`tool_calls[].id`, `function_call.call_id`).
    pub id: String,
    pub name: String,
    /// The arguments as a JSON string.
    pub arguments: String,
}

/// The tools a run is offered, the instruction `tool_choice` adds to the system prompt, and
/// the constraint the run must meet.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Offered {
    pub tools: Vec<ClientTool>,
    pub prompt: Option<String>,
    pub constraint: Option<Constraint>,
}

/// The reference's `applyToolChoice`: `none` offers nothing, a pinned function only that one
/// (with an instruction to call it), `required` all of them (with an instruction to call one).
/// The error is the detail of `Invalid tools/tool_choice: …`.
pub(crate) fn apply(tools: Vec<ClientTool>, choice: Option<Choice>) -> Result<Offered, String> {
    match choice {
        None => Ok(Offered { tools, prompt: None, constraint: None }),
        Some(Choice::None) => Ok(Offered::default()),
        Some(Choice::Required) => {
            if tools.is_empty() {
                return Err("tool_choice=required but no tools were provided".into());
            }
            let prompt = Some("You must call one of the available tools before responding.".to_owned());
            Ok(Offered { tools, prompt, constraint: Some(Constraint::Required) })
        }
        Some(Choice::Function(name)) => {
            let selected: Vec<ClientTool> = tools.into_iter().filter(|t| t.name == name).collect();
            if selected.is_empty() {
                return Err(format!("tool_choice requested unknown tool: {name}"));
            }
            let prompt = Some(format!("You must call the {name} tool before responding."));
            Ok(Offered { tools: selected, prompt, constraint: Some(Constraint::Function(name)) })
        }
    }
}

/// A client tool named as one of the gateway's own tools (the reference refuses the run:
/// `invalid tool configuration`).
pub(crate) fn conflict<'a>(config: &AgentConfig, tools: &'a [ClientTool]) -> Option<&'a str> {
    let own = crate::agent::tools::Tools::for_config(config).names();
    tools.iter().map(|t| t.name.as_str()).find(|name| own.contains(name))
}

impl Constraint {
    /// The reference's `isToolChoiceConstraintSatisfied`.
    pub(crate) fn satisfied_by(&self, calls: &[PendingCall]) -> bool {
        match self {
            Self::Required => !calls.is_empty(),
            Self::Function(name) => calls.iter().any(|c| &c.name == name),
        }
    }

    /// The `502` message when it is not met.
    pub(crate) fn unmet_message(&self) -> String {
        match self {
            Self::Function(name) => format!("tool_choice required a {name} tool call, but the agent did not produce one"),
            Self::Required => "tool_choice=required was not satisfied by the agent response".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str) -> ClientTool {
        ClientTool { name: name.into(), ..ClientTool::default() }
    }

    fn call(name: &str) -> PendingCall {
        PendingCall { id: "c".into(), name: name.into(), arguments: "{}".into() }
    }

    #[test]
    fn tool_choice_narrows_the_offer_and_sets_the_constraint() {
        let both = || vec![tool("a"), tool("b")];
        assert_eq!(apply(both(), None).unwrap().tools, both());
        assert_eq!(apply(both(), Some(Choice::None)).unwrap(), Offered::default());
        let pinned = apply(both(), Some(Choice::Function("b".into()))).unwrap();
        assert_eq!(pinned.tools, vec![tool("b")]);
        assert_eq!(pinned.prompt.as_deref(), Some("You must call the b tool before responding."));
        let required = apply(both(), Some(Choice::Required)).unwrap();
        assert_eq!(required.constraint, Some(Constraint::Required));
        assert_eq!(apply(both(), Some(Choice::Function("c".into()))).unwrap_err(), "tool_choice requested unknown tool: c");
        assert_eq!(apply(vec![], Some(Choice::Required)).unwrap_err(), "tool_choice=required but no tools were provided");
    }

    #[test]
    fn constraints() {
        assert!(Constraint::Required.satisfied_by(&[call("x")]));
        assert!(!Constraint::Required.satisfied_by(&[]));
        assert!(Constraint::Function("x".into()).satisfied_by(&[call("y"), call("x")]));
        assert!(!Constraint::Function("x".into()).satisfied_by(&[call("y")]));
    }
}
