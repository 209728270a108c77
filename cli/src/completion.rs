//! `openclaw completion bash|zsh|fish` (or `--shell`): the completion script clap_complete
//! generates from the command definition, so it always matches the commands that exist.

use clap::CommandFactory;
use clap_complete::{generate, shells};

use crate::args::{Cli, Shell};

/// The script for `shell`.
pub fn script(shell: Shell) -> String {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    match shell {
        Shell::Bash => generate(shells::Bash, &mut cmd, "openclaw", &mut out),
        Shell::Zsh => generate(shells::Zsh, &mut cmd, "openclaw", &mut out),
        Shell::Fish => generate(shells::Fish, &mut cmd, "openclaw", &mut out),
    }
    String::from_utf8_lossy(&out).into_owned()
}
