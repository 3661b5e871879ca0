// The binary's own code is held to the same rules as the library.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use std::io::IsTerminal;
use std::time::Duration;

use clap::Parser;

use mailtalk::cli::{exit, Cli, ColorWhen};
use mailtalk::engine::Options;
use mailtalk::net::{Family, TlsOptions};
use mailtalk::render::Theme;
use mailtalk::repl::{Output, ScriptState, Source};
use mailtalk::script::record::Recorder;
use mailtalk::script::transcript::Transcript;
use mailtalk::target::{self, TlsMode};

fn main() {
    std::process::exit(run());
}

fn usage(msg: impl std::fmt::Display) -> i32 {
    eprintln!("mailtalk: error: {msg}");
    exit::USAGE
}

/// Colours: `--color always|never`, or for auto NO_COLOR (off), CLICOLOR_FORCE (on), else
/// whether stdout is a terminal.
fn use_color(when: ColorWhen) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
                false
            } else if std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0")
            {
                true
            } else {
                std::io::stdout().is_terminal()
            }
        }
    }
}

/// The name sent with EHLO/LHLO by default: this machine's host name when it has a dot,
/// otherwise `localhost`.
fn default_ehlo() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| {
            s.contains('.')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
        .unwrap_or_else(|| "localhost".to_string())
}

/// `mailtalk explain TOKEN...`: one token per code, or several words making one reply line.
fn explain(tokens: &[String], protocol: Option<mailtalk::proto::Protocol>, color: bool) -> i32 {
    use mailtalk::explain;
    use mailtalk::proto::Protocol;
    let joined = tokens.join(" ");
    let looks_like_line = tokens.len() > 1
        && !tokens.iter().all(|t| {
            t.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == 'x' || c == 'X')
        });
    let explanations = if looks_like_line {
        let protocol = protocol.unwrap_or_else(|| {
            let first = tokens.first().map(String::as_str).unwrap_or("");
            if first.starts_with('+') || first.starts_with('-') {
                Protocol::Pop3
            } else if first.chars().all(|c| c.is_ascii_digit()) {
                Protocol::Smtp
            } else {
                Protocol::Imap
            }
        });
        explain::explain_reply(protocol, joined.as_bytes())
    } else {
        tokens.iter().flat_map(|t| explain::explain(t)).collect()
    };
    let theme = Theme::new(color);
    if explanations.is_empty() {
        eprintln!("mailtalk: nothing to explain in {joined:?}: no reply code found");
        return exit::USAGE;
    }
    let mut text = String::new();
    let mut all_known = true;
    for (n, e) in explanations.iter().enumerate() {
        if n > 0 {
            text.push('\n');
        }
        all_known &= e.known;
        for (i, line) in explain::render_text(e).lines().enumerate() {
            let role = if i == 0 {
                mailtalk::render::Role::Info
            } else {
                mailtalk::render::Role::Plain
            };
            text.push_str(&theme.paint_one(role, line));
            text.push('\n');
        }
    }
    // A closed pipe (| head) is not an error worth a message.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    if all_known {
        exit::OK
    } else {
        exit::EXPECTATION
    }
}

fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    if let Some(mailtalk::cli::Command::Explain { tokens, protocol }) = &cli.command {
        return explain(tokens, protocol.map(Into::into), use_color(cli.color));
    }
    if let Some(dir) = &cli.generate {
        return match mailtalk::cli::generate(dir) {
            Ok(()) => exit::OK,
            Err(e) => usage(format!("cannot write to {}: {e}", dir.display())),
        };
    }
    let Some(raw_target) = cli.target.as_deref() else {
        return usage("a TARGET is required (e.g. smtp://127.0.0.1:25)");
    };
    let mut target = match target::parse(raw_target, cli.protocol.map(Into::into), cli.tls) {
        Ok(t) => t,
        Err(e) => return usage(e),
    };
    if cli.starttls {
        if target.tls == TlsMode::Implicit {
            return usage(format!(
                "--starttls does not go with {raw_target}, which uses implicit TLS"
            ));
        }
        target.tls = TlsMode::StartTls;
    }
    if !(cli.timeout.is_finite() && cli.timeout > 0.0 && cli.timeout <= 86_400.0) {
        return usage("--timeout must be a number of seconds above 0 (at most 86400)");
    }
    if let Some(ca) = &cli.ca_file {
        if !ca.is_file() {
            return usage(format!("--ca-file {}: no such file", ca.display()));
        }
    }
    let ehlo = cli.ehlo.clone().unwrap_or_else(default_ehlo);
    if let Err(e) = mailtalk::proto::check_line(ehlo.as_bytes()) {
        return usage(format!("--ehlo: {e}"));
    }
    let opts = Options {
        target,
        tls: TlsOptions {
            insecure: cli.insecure,
            ca_file: cli.ca_file.clone(),
            sni: cli.sni.clone(),
        },
        timeout: Duration::from_secs_f64(cli.timeout),
        family: if cli.ipv4 {
            Family::V4
        } else if cli.ipv6 {
            Family::V6
        } else {
            Family::Any
        },
        ehlo,
        timing: cli.timing,
        allow_plaintext_auth: cli.auth.allow_plaintext_auth,
    };
    let theme = Theme::new(use_color(cli.color) && !cli.json);
    let mut out = Output::new(theme);
    out.json = cli.json;
    out.explain = !cli.no_explain;
    out.show_cert = cli.show_cert;
    if let Some(path) = &cli.transcript {
        match Transcript::create(path) {
            Ok(t) => out.transcript = Some(t),
            Err(e) => return usage(format!("--transcript {}: {e}", path.display())),
        }
    }
    if let Some(path) = &cli.record {
        match Recorder::create(path, raw_target) {
            Ok(r) => out.recorder = Some(r),
            Err(e) => return usage(format!("--record {}: {e}", path.display())),
        }
    }
    let hostname = opts.ehlo.clone();
    if cli.send.wants_send() {
        return mailtalk::repl::oneshot::run(
            opts,
            out,
            &cli.send,
            &cli.auth,
            cli.quit_after,
            &hostname,
        );
    }
    if cli.quit_after.is_some() {
        return usage("--quit-after goes with --from/--to (one-shot send)");
    }
    let mut script = ScriptState::new(raw_target, cli.keep_going);
    script.auth = cli.auth.clone();
    script.hostname = hostname;
    if let Some(path) = &cli.script {
        let lines = match mailtalk::repl::load_script(path) {
            Ok(l) => l,
            Err(e) => return usage(format!("--script: {e}")),
        };
        return mailtalk::repl::run_batch(opts, out, script, Source::Lines(lines));
    }
    if std::io::stdin().is_terminal() && !cli.json {
        mailtalk::repl::interactive::run(opts, out, script, !cli.no_history)
    } else {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        mailtalk::repl::run_batch(opts, out, script, Source::Reader(&mut input))
    }
}
