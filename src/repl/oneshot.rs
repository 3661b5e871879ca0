//! One-shot send (`mailtalk URL --from A --to B …`): connect, EHLO, STARTTLS, AUTH, send one
//! message, QUIT; the exit status says whether the message was accepted.

use crate::cli::{exit, AuthArgs, QuitAfter, SendArgs};
use crate::engine::session::Stage;
use crate::engine::{Event, Options, Session, SessionError};
use crate::proto::{Outcome, Protocol};

use super::{macros, report_error, Output};

fn stage_for(q: QuitAfter) -> Option<Stage> {
    match q {
        QuitAfter::Mail => Some(Stage::Mail),
        QuitAfter::Rcpt => Some(Stage::Rcpt),
        QuitAfter::Data => Some(Stage::Data),
        _ => None,
    }
}

/// Runs the one-shot send. Returns the exit status.
pub fn run(
    opts: Options,
    mut out: Output,
    send: &SendArgs,
    auth: &AuthArgs,
    quit_after: Option<QuitAfter>,
    hostname: &str,
) -> i32 {
    let protocol = opts.target.protocol;
    let mut print = super::print_stdout;
    let usage = |out: &mut Output, print: &mut dyn FnMut(String), msg: String| {
        let line = out.failure(&msg);
        print(line);
        eprintln!("mailtalk: error: {msg}");
        exit::USAGE
    };
    if !matches!(protocol, Protocol::Smtp | Protocol::Lmtp) {
        return usage(
            &mut out,
            &mut print,
            format!("--from/--to send a message over SMTP or LMTP, not {protocol}"),
        );
    }
    // Everything that can fail locally fails before connecting.
    let (mut req, added) = match macros::send_request(send, hostname, true) {
        Ok(r) => r,
        Err(e) => return usage(&mut out, &mut print, e),
    };
    req.stop_after = quit_after.and_then(stage_for);
    let wants_auth = auth.auth.is_some() || auth.user.is_some();
    let auth_req = if wants_auth {
        match macros::auth_request(auth, None, None) {
            Ok(r) => Some(r),
            Err(e) => return usage(&mut out, &mut print, e),
        }
    } else {
        None
    };
    let ehlo = opts.ehlo.clone();
    let mut session = {
        let mut sink = |ev: Event| out.show(&ev, print_now);
        match Session::connect(opts, &mut sink) {
            Ok(s) => s,
            Err(e) => {
                let code = report_error(&e, protocol, &mut out, &mut print, true);
                out.flush();
                return code;
            }
        }
    };
    let status = steps(
        &mut session,
        &mut out,
        req,
        &added,
        auth_req.as_ref(),
        quit_after,
        &ehlo,
    );
    let status = match status {
        Ok(code) => {
            let mut sink = |ev: Event| out.show(&ev, print_now);
            match session.quit(&mut sink) {
                Ok(()) => code,
                Err(e) => report_error(&e, protocol, &mut out, &mut print, true),
            }
        }
        Err(e) => {
            let code = report_error(&e, protocol, &mut out, &mut print, true);
            let mut sink = |ev: Event| out.show(&ev, print_now);
            session.close(&mut sink);
            code
        }
    };
    out.flush();
    status
}

fn print_now(line: String) {
    super::print_stdout(line);
}

/// Prints events through `out` as they happen.
fn emit(out: &mut Output) -> impl FnMut(Event) + '_ {
    move |ev: Event| out.show(&ev, print_now)
}

fn steps(
    session: &mut Session,
    out: &mut Output,
    req: crate::engine::session::SendRequest,
    added: &[String],
    auth: Option<&crate::engine::session::AuthRequest>,
    quit_after: Option<QuitAfter>,
    ehlo: &str,
) -> Result<i32, SessionError> {
    let stop = |q: QuitAfter| quit_after.is_some_and(|s| s <= q);
    if stop(QuitAfter::Banner) {
        return Ok(exit::OK);
    }
    if session.capabilities().is_empty() {
        let verb = if session.protocol() == Protocol::Lmtp {
            "LHLO"
        } else {
            "EHLO"
        };
        session.send_line(format!("{verb} {ehlo}").as_bytes(), &mut emit(out))?;
        if session.last_reply().map(|r| r.outcome) != Some(Outcome::Ok) {
            return Ok(exit::REJECTED);
        }
    }
    if stop(QuitAfter::Tls) {
        return Ok(exit::OK);
    }
    // Events and mailtalk's own lines go out in the order they happen.
    let cell = std::cell::RefCell::new(out);
    let mut sink = |ev: Event| {
        for l in cell.borrow_mut().lines(&ev) {
            print_now(l);
        }
    };
    let mut say = |s: String| {
        let line = cell.borrow_mut().info(&s);
        print_now(line);
    };
    if let Some(auth) = auth {
        match macros::authenticate(session, auth, &mut sink, &mut say) {
            Ok(true) => {}
            Ok(false) => return Ok(exit::AUTH_FAILED),
            // The exchange was cancelled (e.g. an invalid challenge): not authenticated.
            Err(e @ SessionError::Command(_)) => {
                let line = cell.borrow_mut().failure(&e.to_string());
                print_now(line);
                return Ok(exit::AUTH_FAILED);
            }
            Err(e) => return Err(e),
        }
    }
    if stop(QuitAfter::Auth) {
        return Ok(exit::OK);
    }
    let accepted = macros::send(session, req, added, &mut sink, &mut say);
    Ok(if accepted? { exit::OK } else { exit::REJECTED })
}
