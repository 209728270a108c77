//! Link options for the release `openclaw` binary (issue #11, footprint).
//!
//! Relative relocations packed as DT_RELR (`-z pack-relative-relocs`, GNU ld ≥ 2.38 and lld):
//! the ~20 000 `R_X86_64_RELATIVE` entries of a position-independent Rust binary (24 bytes each
//! in `.rela.dyn`) become a bitmap of a few KB, ~0.45 MiB less file and fewer dirty pages at
//! start. The binary then needs glibc ≥ 2.36 (the linker records `GLIBC_ABI_DT_RELR`, so an
//! older loader refuses it by name rather than misbehaving), so the option is only passed for a
//! release build on a glibc target whose build host has glibc ≥ 2.36 and builds for itself.

#![allow(clippy::print_stdout)] // a build script talks to cargo on stdout

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let release = var("PROFILE") == "release";
    let native = var("TARGET") == var("HOST");
    let gnu = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if release && native && gnu && host_glibc().is_some_and(|v| v >= (2, 36)) {
        println!("cargo:rustc-link-arg-bin=openclaw=-Wl,-z,pack-relative-relocs");
    }
}

/// The build host's glibc version (`getconf GNU_LIBC_VERSION` prints e.g. `glibc 2.36`).
fn host_glibc() -> Option<(u32, u32)> {
    let out = Command::new("getconf").arg("GNU_LIBC_VERSION").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let (major, minor) = text.trim().strip_prefix("glibc ")?.split_once('.')?;
    let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}
