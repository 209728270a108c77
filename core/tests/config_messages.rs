//! The config pipeline's messages, end to end in core (parse → includes → `${VAR}` →
//! validation → the §2.2 report), over an in-memory file set. Snapshots: what an operator reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openclaw_core::config::{self, MissingEnv, ReadError, Source};

struct Files(BTreeMap<PathBuf, String>);

impl Source for Files {
    fn read(&self, path: &Path) -> Result<String, ReadError> {
        self.0.get(path).cloned().ok_or(ReadError::NotFound)
    }
}

const MAIN: &str = "/etc/openclaw/openclaw.json";

fn env(name: &str) -> Option<String> {
    match name {
        "OC_TOKEN" => Some("t0k".into()),
        "OC_EMPTY" => Some(String::new()),
        _ => None,
    }
}

/// The report for `main` (plus other files), or the warnings when it loads.
fn report(main: &str, others: &[(&str, &str)]) -> String {
    let mut files: BTreeMap<PathBuf, String> = others.iter().map(|(p, t)| (PathBuf::from(p), (*t).to_owned())).collect();
    files.insert(PathBuf::from(MAIN), main.to_owned());
    let fs = Files(files);
    match config::resolve(Path::new(MAIN), main, &fs, &env, MissingEnv::Error) {
        Ok(r) => {
            let lines: Vec<String> = r.warnings.iter().map(ToString::to_string).collect();
            format!("loaded; warnings:\n{}", lines.join("\n"))
        }
        Err(e) => config::report(Path::new(MAIN), &e.issues()),
    }
}

#[test]
fn unknown_keys_enums_and_types() {
    insta::assert_snapshot!(report(
        "{\n  gatway: {},\n  gateway: {\n    mode: 'locl',\n    port: '18789',\n    auth: { mode: 'tokn', tokn: 'x' },\n    \
         controlUi: { allowedOrigins: 'http://a' },\n  },\n  logging: { level: 'verbose' },\n  models: { providers: { p: { apiKey: 'k' } } },\n}\n",
        &[]
    ));
}

#[test]
fn syntax_errors_have_line_and_column() {
    insta::assert_snapshot!(report("{\n  gateway: {\n    mode: 'local'\n    port: 1,\n  },\n}\n", &[]));
    insta::assert_snapshot!("unterminated", report("{\n  gateway: { mode: 'local }\n", &[]));
}

#[test]
fn reference_known_keys_are_warnings() {
    insta::assert_snapshot!(report(
        "{ gateway: { mode: 'local', tailscale: { mode: 'serve' }, trustedProxies: ['10.0.0.1'] }, channels: { telegram: {} }, \
         agents: { defaults: { model: 'p/m', heartbeat: {} }, entries: {} }, models: { providers: { p: { baseUrl: 'http://x', headers: {} } } } }",
        &[]
    ));
}

#[test]
fn include_errors() {
    insta::assert_snapshot!(
        "missing",
        report("{ gateway: { $include: './parts/gateway.json5' } }", &[])
    );
    insta::assert_snapshot!(
        "cycle",
        report(
            "{ $include: 'a.json5' }",
            &[("/etc/openclaw/a.json5", "{ gateway: { $include: 'sub/b.json5' } }"), ("/etc/openclaw/sub/b.json5", "{ $include: '../a.json5' }")]
        )
    );
    insta::assert_snapshot!(
        "parse_error_in_include",
        report("{ $include: 'a.json5' }", &[("/etc/openclaw/a.json5", "{\n  gateway: { mode: 'local', },\n  ]\n}")])
    );
    // A validation issue in an included file names that file and line.
    insta::assert_snapshot!(
        "issue_in_include",
        report("{ gateway: { $include: 'gw.json5', mode: 'local' } }", &[("/etc/openclaw/gw.json5", "{\n  bind: 'wide',\n}")])
    );
}

#[test]
fn env_errors() {
    insta::assert_snapshot!(report(
        "{\n  gateway: { mode: 'local', auth: { token: '${OC_TOKEN}-${OC_MISSING}' } },\n  \
         logging: { redactPatterns: ['$${OC_MISSING}', '${OC_EMPTY}'] },\n}\n",
        &[]
    ));
}
