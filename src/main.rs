// The binary's own code is held to the same rules as the library.
#![forbid(unsafe_code)]
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

use mailtalk::batch::{self, Input, Terminal};
use mailtalk::cli::{Cli, ColorWhen, Command, ProxyProtocolArg};
use mailtalk::controller::args::{AuthOptions, SendOptions};
use mailtalk::controller::{exit, Controller, Settings};
use mailtalk::engine::Options;
use mailtalk::net::{Endpoint, Family, Proxy, ProxyHeader, ProxyHeaderVersion, Route, TlsOptions};
use mailtalk::output::record::Recorder;
use mailtalk::output::transcript::Transcript;
use mailtalk::output::Output;
use mailtalk::render::escape::visible_string;
use mailtalk::render::{Role, Theme};
use mailtalk::target::{self, TlsMode};

fn main() {
    std::process::exit(run());
}

/// A usage error, before any session: said once, on stderr.
fn usage(msg: impl std::fmt::Display) -> i32 {
    eprintln!(
        "mailtalk: error: {}",
        visible_string(msg.to_string().as_bytes())
    );
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

/// `mailtalk explain TOKEN...`: codes, or one pasted reply line: the cause its text states
/// first, then what its codes mean.
fn explain(tokens: &[String], protocol: Option<mailtalk::proto::Protocol>, color: bool) -> i32 {
    let joined = tokens.join(" ");
    let report = mailtalk::explain::report_pasted(&joined, protocol);
    if report.is_empty() {
        return usage(format!(
            "nothing to explain in {joined:?}: no reply code found, and the text names no \
             cause mailtalk knows"
        ));
    }
    let theme = Theme::new(color);
    let mut text = String::new();
    for (n, block) in report.blocks.iter().enumerate() {
        if n > 0 {
            text.push('\n');
        }
        for (i, line) in block.lines().enumerate() {
            let role = if i == 0 { Role::Info } else { Role::Plain };
            text.push_str(&theme.paint_one(role, line));
            text.push('\n');
        }
    }
    // A closed pipe (| head) is not an error worth a message.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    if report.all_known {
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
    if let Some(Command::Explain { tokens, protocol }) = &cli.command {
        let (tokens, color, late_protocol) = match mailtalk::cli::explain_options(tokens) {
            Ok(found) => found,
            Err(e) => return usage(e),
        };
        if tokens.is_empty() {
            return usage("explain needs a code or a reply line");
        }
        let protocol = late_protocol.or(*protocol);
        return explain(
            &tokens,
            protocol.map(Into::into),
            use_color(color.unwrap_or(cli.color)),
        );
    }
    if let Some(dir) = &cli.generate {
        return match mailtalk::cli::generate(dir) {
            Ok(()) => exit::OK,
            Err(e) => usage(format!("cannot write to {}: {e}", dir.display())),
        };
    }
    if let Some(Command::Serve(args)) = &cli.command {
        return mailtalk::serve::run(args, use_color(cli.color));
    }
    if let Some(Command::Check(args)) = &cli.command {
        return mailtalk::inspect::run(args);
    }
    if let Some(Command::SmuggleTest(args)) = &cli.command {
        return mailtalk::inspect::smuggle::run(args, use_color(cli.color));
    }
    if let Some(Command::Demo(args)) = &cli.command {
        return demo(&cli, args);
    }
    let raw_target = match (cli.target.clone(), &cli.pipe, &cli.mx) {
        (Some(t), _, _) => t,
        (None, Some(_), _) => "localhost".to_string(),
        (None, None, Some(domain)) => format!("smtp://@{domain}"),
        (None, None, None) => return usage("a TARGET is required (e.g. smtp://127.0.0.1:25)"),
    };
    client(&cli, &raw_target, None)
}

/// `mailtalk demo`: the embedded server on free loopback ports in this process, and the
/// client connected to its SMTP side, after a short guide.
fn demo(cli: &Cli, args: &mailtalk::serve::args::DemoArgs) -> i32 {
    let (server, guide) = match mailtalk::serve::demo::start(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mailtalk: error: {}", visible_string(e.as_bytes()));
            return exit::CONNECT;
        }
    };
    let theme = Theme::new(use_color(cli.color));
    if !args.tui {
        for (i, line) in guide.iter().enumerate() {
            let role = if i == 0 { Role::Meta } else { Role::Info };
            println!("{}", theme.paint_one(role, line));
        }
    }
    let mut cli = cli.clone();
    cli.ca_file = server.cert_file.clone();
    let target = mailtalk::serve::demo::smtp_target(&server);
    let extra = args.tui.then(|| FullScreen {
        inbox: mailtalk::tui::Inbox::new(std::sync::Arc::clone(&server.shared)),
        banner: mailtalk::serve::demo::banner(&server),
        intro: guide
            .iter()
            .enumerate()
            .map(|(i, l)| {
                mailtalk::render::Line::message(if i == 0 { Role::Meta } else { Role::Info }, "", l)
            })
            .collect(),
    });
    let status = client(&cli, &target, extra);
    server.stop();
    status
}

/// What the demo adds to the full-screen view.
struct FullScreen {
    inbox: mailtalk::tui::Inbox,
    banner: String,
    intro: Vec<mailtalk::render::Line>,
}

/// The lines of the connection, kept for the full-screen view to show first.
struct Kept(Vec<mailtalk::render::Line>);

/// A screen that shows each line and keeps it.
struct Tee<'a> {
    inner: &'a mut Terminal,
    kept: Vec<mailtalk::render::Line>,
}

impl mailtalk::controller::Screen for Tee<'_> {
    fn show(&mut self, line: &mailtalk::render::Line) {
        self.kept.push(line.clone());
        self.inner.show(line);
    }

    fn fatal(&mut self, message: &str) {
        self.inner.fatal(message);
    }

    fn flush(&mut self) {
        self.inner.flush();
    }
}

impl mailtalk::controller::Screen for Kept {
    fn show(&mut self, line: &mailtalk::render::Line) {
        self.0.push(line.clone());
    }
}

/// `--tls-info`: a line per TLS version (with `--json`, one JSON object), then the exit
/// status: that of an error before TLS, else OK when a version was accepted.
fn tls_info(opts: &Options, theme: &Theme, json: bool) -> i32 {
    use mailtalk::engine::probe::{self, Outcome};
    let t = &opts.target;
    if !json {
        let how = if t.tls == TlsMode::Implicit {
            "implicit TLS"
        } else {
            "STARTTLS"
        };
        println!(
            "{}",
            theme.paint_one(
                Role::Meta,
                &format!(
                    "** TLS versions of {}:{} ({}, {how}; each version offered alone, at OpenSSL \
                     security level 0, certificates not checked)",
                    t.host, t.port, t.protocol
                )
            )
        );
    }
    let (found, error) = probe::tls_versions(opts);
    let hint = error.as_ref().and_then(|e| exit::hint(e, opts));
    if json {
        let said = error.as_ref().map(|e| (e.to_string(), hint.as_deref()));
        println!(
            "{}",
            mailtalk::output::json::tls_info_json(
                t,
                &found,
                said.as_ref().map(|(e, h)| (e.as_str(), *h))
            )
        );
    } else {
        for p in &found {
            let (role, text) = match &p.outcome {
                Outcome::Accepted { cipher, .. } => {
                    (Role::Info, format!("accepted, cipher {cipher}"))
                }
                Outcome::Refused(why) => (Role::Info, format!("refused ({why})")),
                Outcome::NotOffered(why) => (
                    Role::Warning,
                    format!("not tried: the local OpenSSL cannot offer it ({why})"),
                ),
            };
            let line = format!("**   {}: {text}", p.version);
            println!(
                "{}",
                theme.paint_one(role, &visible_string(line.as_bytes()))
            );
        }
        if let Some(e) = &error {
            let text = format!("!! error: {e}");
            println!(
                "{}",
                theme.paint_one(Role::Error, &visible_string(text.as_bytes()))
            );
            if let Some(h) = &hint {
                println!("{}", theme.paint_one(Role::Info, &format!("** {h}")));
            }
        }
    }
    match &error {
        Some(e) => exit::code(e),
        None if found
            .iter()
            .any(|p| matches!(p.outcome, Outcome::Accepted { .. })) =>
        {
            exit::OK
        }
        None => exit::TLS,
    }
}

/// Why the TLS options cannot be used (checked before connecting), if they cannot.
fn tls_options_problem(tls: &TlsOptions) -> Option<String> {
    if let (Some(min), Some(max)) = (tls.min_version, tls.max_version) {
        if min > max {
            return Some(format!(
                "--tls-min {} is newer than --tls-max {}",
                min.number(),
                max.number()
            ));
        }
    }
    let wanted = tls.cert.is_some()
        || tls.ciphers.is_some()
        || tls.ciphersuites.is_some()
        || !tls.alpn.is_empty()
        || tls.keylog.is_some()
        || tls.min_version.is_some()
        || tls.max_version.is_some();
    if !wanted {
        return None;
    }
    tls.check().err().map(|e| match e {
        mailtalk::net::NetError::Tls(t) => t.text,
        other => other.to_string(),
    })
}

/// `extra`: the demo's inbox, banner and guide, for the full-screen view.
fn client(cli: &Cli, raw_target: &str, extra: Option<FullScreen>) -> i32 {
    // `SCHEME://@DOMAIN[:PORT]` (or --mx DOMAIN): the host is DOMAIN's best MX.
    let (mx_domain, rewritten) = match raw_target.split_once("://@") {
        Some((scheme, rest)) => {
            let domain = rest.split(':').next().unwrap_or("").to_string();
            (Some(domain), format!("{scheme}://{rest}"))
        }
        None => (cli.mx.clone(), raw_target.to_string()),
    };
    if cli.mx.is_some() && cli.target.is_some() && !raw_target.contains("://@") {
        return usage("--mx DOMAIN goes without a TARGET, or write the TARGET as smtp://@DOMAIN");
    }
    let raw_target = rewritten.as_str();
    let mut endpoint = match &cli.pipe {
        Some(command) => Endpoint::Pipe(command.clone()),
        None => Endpoint::Tcp,
    };
    let mut protocol_arg = cli.protocol.map(Into::into);
    if cli.pipe.is_some() && cli.target.is_none() && protocol_arg.is_none() {
        protocol_arg = Some(mailtalk::proto::Protocol::Smtp);
    }
    let parsed = match target::split_unix(raw_target) {
        Some((scheme, path)) => {
            if cli.pipe.is_some() {
                return usage("--pipe does not go with a unix socket TARGET");
            }
            endpoint = Endpoint::Unix(std::path::PathBuf::from(path));
            match scheme {
                Some(scheme) => target::parse(&format!("{scheme}://localhost"), None, false),
                None => target::parse("localhost", protocol_arg, cli.tls),
            }
        }
        None => target::parse(raw_target, protocol_arg, cli.tls),
    };
    let mut target = match parsed {
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
    if cli
        .raw_wait
        .is_some_and(|w| !(w.is_finite() && (0.0..=86_400.0).contains(&w)))
    {
        return usage("--raw-wait must be a number of seconds from 0 to 86400");
    }
    if !(cli.timeout.is_finite() && cli.timeout > 0.0 && cli.timeout <= 86_400.0) {
        return usage("--timeout must be a number of seconds above 0 (at most 86400)");
    }
    if let Some(ca) = &cli.ca_file {
        if !ca.is_file() {
            return usage(format!("--ca-file {}: no such file", ca.display()));
        }
    }
    let hostname = mailtalk::message::local_hostname();
    let ehlo = cli.ehlo.clone().unwrap_or_else(|| hostname.clone());
    if let Err(e) = mailtalk::proto::check_line(ehlo.as_bytes()) {
        return usage(format!("--ehlo: {e}"));
    }
    let protocol = target.protocol;
    let mut proxy = match cli.proxy.as_deref().map(Proxy::parse).transpose() {
        Ok(p) => p,
        Err(e) => return usage(format!("--proxy: {e}")),
    };
    // A user without a password in the URL: the password from the environment, so that it
    // need not be on the command line.
    if let Some(p) = proxy
        .as_mut()
        .filter(|p| p.user.is_some() && p.password.is_none())
    {
        p.password = std::env::var("MAILTALK_PROXY_PASSWORD")
            .ok()
            .map(mailtalk::secret::Secret::new);
    }
    let opts = Options {
        target,
        tls: TlsOptions {
            insecure: cli.insecure,
            ca_file: cli.ca_file.clone(),
            sni: cli.sni.clone(),
            cert: cli.cert.clone(),
            key: cli.key.clone(),
            min_version: cli.tls_min.map(Into::into),
            max_version: cli.tls_max.map(Into::into),
            ciphers: cli.ciphers.clone(),
            ciphersuites: cli.ciphersuites.clone(),
            alpn: cli.alpn.clone(),
            keylog: std::env::var_os("SSLKEYLOGFILE")
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from),
            security_level: None,
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
        route: Route {
            endpoint,
            proxy,
            header: cli.proxy_protocol.map(|v| ProxyHeader {
                version: match v {
                    ProxyProtocolArg::V1 => ProxyHeaderVersion::V1,
                    ProxyProtocolArg::V2 => ProxyHeaderVersion::V2,
                },
                source: cli.proxy_source,
            }),
        },
    };
    // What can be refused locally is refused before a file is created or a connection made.
    for (what, value) in [
        ("--user", cli.auth.user.as_deref()),
        ("--authzid", cli.auth.authzid.as_deref()),
    ] {
        if let Some(Err(e)) = value.map(|v| mailtalk::proto::check_line(v.as_bytes())) {
            return usage(format!("{what}: {e}"));
        }
    }
    if let Err(e) = mailtalk::controller::macros::method(cli.auth.auth.as_deref()) {
        return usage(e);
    }
    if let Some(e) = tls_options_problem(&opts.tls) {
        return usage(e);
    }
    let mx = match &mx_domain {
        None => None,
        Some(domain) => {
            if !opts.target.protocol.is_smtp()
                || opts.target.protocol == mailtalk::proto::Protocol::Lmtp
            {
                return usage("MX routing (--mx, smtp://@DOMAIN) is for SMTP");
            }
            match mx_plan(domain, cli.resolver.as_deref(), opts.timeout) {
                Ok(plan) => Some(plan),
                Err((code, e)) => {
                    eprintln!("mailtalk: error: {}", visible_string(e.as_bytes()));
                    return code;
                }
            }
        }
    };
    let theme = Theme::new(use_color(cli.color) && !cli.json);
    let mut out = Output::new();
    out.json = cli.json;
    out.explain = !cli.no_explain;
    out.show_cert = cli.show_cert;
    out.hex = cli.hex;
    out.content.max_show = match cli.max_show {
        Some(m) => m.0,
        None if std::io::stdout().is_terminal() => {
            Some(mailtalk::output::content::DEFAULT_MAX_SHOW)
        }
        None => None,
    };
    if let Some(path) = &cli.output {
        if let Err(e) = out.content.output_to(path) {
            return usage(format!("--output {}: {e}", path.display()));
        }
    }
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
    let settings = Settings {
        target: raw_target.to_string(),
        keep_going: cli.keep_going,
        auth: AuthOptions::from(&cli.auth),
        hostname,
        raw: cli.raw,
        raw_wait: cli.raw_wait.map(Duration::from_secs_f64),
    };
    let mut screen = Terminal::new(theme.clone());

    if cli.tls_info {
        return tls_info(&opts, &theme, cli.json);
    }
    if cli.send.wants_send() {
        if !protocol.is_smtp() {
            return usage(format!(
                "--from/--to send a message over SMTP or LMTP, not {protocol}"
            ));
        }
        let send = SendOptions::from(&cli.send);
        if send.count > 1 && cli.quit_after.is_some() {
            return usage("--count sends whole transactions: it does not go with --quit-after");
        }
        // Everything that can fail locally fails before connecting; the message is built
        // (and standard input opened) once.
        let prepared =
            match mailtalk::controller::macros::send_request(&send, &settings.hostname, true) {
                Ok(p) => p,
                Err(e) => return usage(e),
            };
        let mut c = match open(opts, out, settings, mx.as_ref(), &mut screen) {
            Ok(c) => c,
            Err(code) => return code,
        };
        return c.oneshot(prepared, cli.quit_after, &mut screen);
    }
    if cli.quit_after.is_some() {
        return usage("--quit-after goes with --from/--to (one-shot send)");
    }
    let script = match &cli.script {
        Some(path) => {
            let lines = match mailtalk::script::source::load(path) {
                Ok(l) => l,
                Err(e) => return usage(format!("--script: {e}")),
            };
            if let Err(code) = batch::check(&lines, protocol) {
                return code;
            }
            Some(lines)
        }
        None => None,
    };
    let interactive = script.is_none() && std::io::stdin().is_terminal() && !cli.json;
    let full_screen = cli.tui || extra.is_some();
    if full_screen && !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        return usage("the full-screen view (--tui) needs a terminal on standard input and output");
    }
    // The last content is kept for `:save` when a `:save` may come: at a prompt, in input that
    // has one (a script, or a regular file on standard input, read here whole), and from a
    // pipe, which may bring one later. Keeping it is one more write of every byte received.
    let mut stdin_file: Option<Vec<u8>> = None;
    out.content.keep_last = match &script {
        Some(lines) => mailtalk::controller::may_save(lines.iter().map(|l| l.text.as_bytes())),
        None if interactive || full_screen => true,
        None => match small_regular_stdin() {
            Some(bytes) => {
                let keep = mailtalk::controller::may_save(bytes.split(|b| *b == b'\n'));
                stdin_file = Some(bytes);
                keep
            }
            None => true,
        },
    };
    if full_screen && interactive {
        // What connecting says goes into the transcript, after the demo's guide.
        let (inbox, banner, mut kept) = match extra {
            Some(x) => (Some(x.inbox), Some(x.banner), Kept(x.intro)),
            None => (None, None, Kept(Vec::new())),
        };
        let mut c = match open(opts, out, settings, mx.as_ref(), &mut kept) {
            Ok(c) => c,
            Err(code) => {
                for l in &kept.0 {
                    mailtalk::controller::Screen::show(&mut screen, l);
                }
                return code;
            }
        };
        if let Err(code) = c.initial_auth(&mut kept) {
            if !c.is_open() {
                for l in &kept.0 {
                    mailtalk::controller::Screen::show(&mut screen, l);
                }
                return c.finish(Err(code), &mut screen);
            }
        }
        return mailtalk::tui::run(
            c,
            mailtalk::tui::Options {
                history: !cli.no_history,
                theme,
                inbox,
                banner,
                intro: kept.0,
            },
        );
    }
    // What connecting shows is kept too, for `:tui` to start its transcript with.
    let mut tee = Tee {
        inner: &mut screen,
        kept: Vec::new(),
    };
    let mut c = match open(opts, out, settings, mx.as_ref(), &mut tee) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(lines) = script {
        return batch::run(c, Input::Script(lines), &mut screen);
    }
    if interactive {
        if let Err(code) = c.initial_auth(&mut tee) {
            if !c.is_open() {
                return c.finish(Err(code), &mut screen);
            }
        }
        let shown = tee.kept;
        mailtalk::controller::Screen::flush(&mut screen);
        match mailtalk::repl::run(c, !cli.no_history, theme.clone(), shown) {
            mailtalk::repl::End::Status(code) => code,
            mailtalk::repl::End::FullScreen(c, shown) => mailtalk::tui::run(
                *c,
                mailtalk::tui::Options {
                    history: !cli.no_history,
                    theme,
                    inbox: None,
                    banner: None,
                    intro: shown,
                },
            ),
        }
    } else {
        match stdin_file {
            Some(bytes) => {
                let mut input = std::io::Cursor::new(bytes);
                batch::run(c, Input::Reader(&mut input), &mut screen)
            }
            None => {
                let stdin = std::io::stdin();
                let mut input = stdin.lock();
                batch::run(c, Input::Reader(&mut input), &mut screen)
            }
        }
    }
}

/// Standard input when it is a regular file of at most 16 MiB, read whole.
fn small_regular_stdin() -> Option<Vec<u8>> {
    use std::io::Read;
    let stdin = std::io::stdin();
    let fd = std::os::fd::AsFd::as_fd(&stdin).try_clone_to_owned().ok()?;
    let mut file = std::fs::File::from(fd);
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > 16 * 1024 * 1024 {
        return None;
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Where MX routing goes: the MX hosts of a domain, best first, each with its addresses.
struct MxPlan {
    domain: String,
    dnssec: bool,
    implicit: bool,
    hosts: Vec<(u16, String, Vec<std::net::IpAddr>)>,
}

/// Looks up DOMAIN's MX hosts and their addresses with the resolver given (or the system's).
fn mx_plan(
    domain: &str,
    resolver: Option<&str>,
    timeout: Duration,
) -> Result<MxPlan, (i32, String)> {
    use mailtalk::net::dns::{MxHosts, Resolver};
    let server = match resolver {
        None => None,
        Some(r) => Some(
            r.parse::<std::net::IpAddr>()
                .map(|ip| std::net::SocketAddr::new(ip, 53))
                .or_else(|_| r.parse::<std::net::SocketAddr>())
                .map_err(|_| {
                    (
                        exit::USAGE,
                        format!("--resolver {r:?} is not an IP address or IP:PORT"),
                    )
                })?,
        ),
    };
    let dns = Resolver::new(server, timeout).map_err(|e| (exit::CONNECT, e.to_string()))?;
    let lookup = |e: mailtalk::net::dns::DnsError| (exit::CONNECT, e.to_string());
    let (mx, dnssec) = dns.mx(domain).map_err(lookup)?;
    let (names, implicit) = match mx {
        MxHosts::Hosts(h) => (h, false),
        MxHosts::Implicit => (vec![(0, domain.to_string())], true),
        MxHosts::Null => {
            return Err((
                exit::CONNECT,
                format!(
                    "{domain} has a null MX (RFC 7505): it accepts no mail, so nothing was tried"
                ),
            ))
        }
        MxHosts::NoDomain => {
            return Err((exit::CONNECT, format!("{domain} does not exist (NXDOMAIN)")))
        }
    };
    let mut hosts = Vec::new();
    for (pref, host) in names {
        let addrs = dns.addresses(&host).unwrap_or_default();
        hosts.push((pref, host, addrs));
    }
    Ok(MxPlan {
        domain: domain.to_string(),
        dnssec,
        implicit,
        hosts,
    })
}

/// Connects as the options say, or along an MX plan: the MX hosts are shown, then each address
/// of each is tried in order until one takes the session (its certificate checked against the
/// MX name).
fn open(
    opts: Options,
    out: Output,
    settings: Settings,
    mx: Option<&MxPlan>,
    screen: &mut dyn mailtalk::controller::Screen,
) -> Result<Controller, i32> {
    let Some(plan) = mx else {
        return Controller::connect(opts, out, settings, screen);
    };
    Controller::connect_with(opts, out, settings, screen, |opts, sink| {
        use mailtalk::engine::{Event, EventKind, Security, SessionError};
        let event = |kind| Event {
            at: Duration::ZERO,
            protocol: opts.target.protocol,
            security: Security::Plain,
            kind,
        };
        let listed: Vec<String> = plan
            .hosts
            .iter()
            .map(|(pref, host, addrs)| {
                let a: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
                format!(
                    "{pref} {host} ({})",
                    if a.is_empty() {
                        "no address".to_string()
                    } else {
                        a.join(", ")
                    }
                )
            })
            .collect();
        sink(event(EventKind::Info(format!(
            "MX for {}{} (DNSSEC: {}): {}",
            plan.domain,
            if plan.implicit {
                ", none: the domain itself (implicit MX)"
            } else {
                ""
            },
            if plan.dnssec {
                "validated by the resolver"
            } else {
                "not validated"
            },
            listed.join("; ")
        ))));
        let mut last = None;
        for (pref, host, addrs) in &plan.hosts {
            for addr in addrs {
                let mut o = opts.clone();
                o.target.host = addr.to_string();
                if o.tls.sni.is_none() {
                    o.tls.sni = Some(host.clone());
                }
                sink(event(EventKind::Info(format!(
                    "trying MX {pref} {host} at {addr}"
                ))));
                match mailtalk::engine::Session::connect(o, sink) {
                    Ok(s) => return Ok(s),
                    Err(e) => {
                        sink(event(EventKind::Warning(format!(
                            "MX {host} at {addr}: {e}; trying the next"
                        ))));
                        last = Some(e);
                    }
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            SessionError::Net(mailtalk::net::NetError::Resolve {
                host: plan.domain.clone(),
                why: "no MX host has an address".into(),
                source: None,
            })
        }))
    })
}
