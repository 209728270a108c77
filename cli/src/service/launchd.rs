//! The LaunchAgent plist: rendered as the reference's `buildLaunchAgentPlist` (its policy keys:
//! RunAtLoad, KeepAlive, ExitTimeOut, ProcessType, ThrottleInterval, Umask, StandardInPath),
//! with the log paths in `<state>/logs/`.

use super::Definition;

/// `& < > " '` escaped.
fn escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The plist text.
pub fn render(def: &Definition) -> String {
    let args: String = def
        .program_arguments
        .iter()
        .map(|a| format!("\n      <string>{}</string>", escape(a)))
        .collect();
    let working_dir = def.working_directory.as_ref().map_or_else(String::new, |d| {
        format!(
            "\n    <key>WorkingDirectory</key>\n    <string>{}</string>",
            escape(&d.display().to_string())
        )
    });
    let comment = if def.description.trim().is_empty() {
        String::new()
    } else {
        format!(
            "\n    <key>Comment</key>\n    <string>{}</string>",
            escape(def.description.trim())
        )
    };
    let env = if def.environment.is_empty() {
        String::new()
    } else {
        let entries: String = def
            .environment
            .iter()
            .map(|(k, v)| {
                format!(
                    "\n    <key>{}</key>\n    <string>{}</string>",
                    escape(k),
                    escape(v.trim())
                )
            })
            .collect();
        format!("\n    <key>EnvironmentVariables</key>\n    <dict>{entries}\n    </dict>")
    };
    let policy = [
        "    <key>RunAtLoad</key>\n    <true/>",
        "    <key>KeepAlive</key>\n    <true/>",
        "    <key>ExitTimeOut</key>\n    <integer>20</integer>",
        "    <key>ProcessType</key>\n    <string>Interactive</string>",
        "    <key>ThrottleInterval</key>\n    <integer>10</integer>",
        "    <key>Umask</key>\n    <integer>63</integer>",
        "    <key>StandardInPath</key>\n    <string>/dev/null</string>",
    ]
    .join("\n");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n  <dict>\n    <key>Label</key>\n    <string>{label}</string>\n    {comment}\n{policy}\n    <key>ProgramArguments</key>\n    <array>{args}\n    </array>\n    {working_dir}\n    <key>StandardOutPath</key>\n    <string>{out}</string>\n    <key>StandardErrorPath</key>\n    <string>{err}</string>{env}\n  </dict>\n</plist>\n",
        label = escape(&def.label),
        out = escape(&def.stdout_path.display().to_string()),
        err = escape(&def.stderr_path.display().to_string()),
    )
}

/// The `<string>`s of `ProgramArguments` and the `Label` of a plist written by [`render`]
/// (or any plist in the same XML layout); enough for status, doctor and the legacy scan.
pub fn parse(text: &str) -> (Option<String>, Vec<String>) {
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    };
    let strings_after = |key: &str| -> Option<&str> {
        let at = text.find(&format!("<key>{key}</key>"))?;
        Some(&text[at..])
    };
    let first_string = |s: &str| -> Option<String> {
        let start = s.find("<string>")? + "<string>".len();
        let end = s[start..].find("</string>")? + start;
        Some(unescape(&s[start..end]))
    };
    let label = strings_after("Label").and_then(first_string);
    let mut args = Vec::new();
    if let Some(rest) = strings_after("ProgramArguments") {
        if let Some(end) = rest.find("</array>") {
            let mut array = &rest[..end];
            while let Some(s) = first_string(array) {
                args.push(s);
                let Some(next) = array.find("</string>") else { break };
                array = &array[next + "</string>".len()..];
            }
        }
    }
    (label, args)
}
