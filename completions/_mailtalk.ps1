
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'mailtalk' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'mailtalk'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'mailtalk' {
            [CompletionResult]::new('--mx', '--mx', [CompletionResultType]::ParameterName, 'Reach DOMAIN the way mail travels (also written as TARGET smtp://@DOMAIN): its MX records are looked up and shown, and the best is tried first, then the others in order (each address of each); no MX record means the domain itself (implicit MX), a null MX (RFC 7505) is said and nothing is tried. The certificate is checked against the MX name')
            [CompletionResult]::new('--resolver', '--resolver', [CompletionResultType]::ParameterName, 'The DNS server for MX lookups (IP or IP:PORT; default: the first nameserver of /etc/resolv.conf)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Protocol for a TARGET without scheme')
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'Protocol for a TARGET without scheme')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Extra trust anchors (PEM file) for certificate verification')
            [CompletionResult]::new('--sni', '--sni', [CompletionResultType]::ParameterName, 'Server name to send in SNI and to verify the certificate against (default: the host)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate for TLS (PEM; the chain may follow it, and the key may be in the same file)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key of --cert (PEM), when it is not in the certificate file')
            [CompletionResult]::new('--tls-min', '--tls-min', [CompletionResultType]::ParameterName, 'Oldest TLS version to offer: 1.0, 1.1, 1.2 or 1.3 (OpenSSL offers 1.0 and 1.1 only at security level 0: add --ciphers ''DEFAULT:@SECLEVEL=0'')')
            [CompletionResult]::new('--tls-max', '--tls-max', [CompletionResultType]::ParameterName, 'Newest TLS version to offer: 1.0, 1.1, 1.2 or 1.3')
            [CompletionResult]::new('--ciphers', '--ciphers', [CompletionResultType]::ParameterName, 'Ciphers to offer for TLS 1.2 and older, as an OpenSSL cipher list (`ECDHE+AESGCM:!aNULL`, `DEFAULT:@SECLEVEL=0`)')
            [CompletionResult]::new('--ciphersuites', '--ciphersuites', [CompletionResultType]::ParameterName, 'Ciphersuites to offer for TLS 1.3, colon-separated (`TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256`)')
            [CompletionResult]::new('--alpn', '--alpn', [CompletionResultType]::ParameterName, 'Application protocols to offer with ALPN, most wanted first (`smtp`, `imap`, `pop3`); the one the server chose is shown with the TLS details')
            [CompletionResult]::new('--pipe', '--pipe', [CompletionResultType]::ParameterName, 'Talk to a command instead of a server: run it with `sh -c` and speak over its standard input and output (`sendmail -bs`, `dovecot --exec-mail imap`); it is ended when the session ends')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Connect through a proxy: socks5://[USER:PASS@]HOST[:PORT] (SOCKS5, the proxy resolves the target''s name; port 1080) or http://[USER:PASS@]HOST[:PORT] (HTTP CONNECT; port 8080). The password is never shown; without one in the URL it comes from MAILTALK_PROXY_PASSWORD')
            [CompletionResult]::new('--proxy-protocol', '--proxy-protocol', [CompletionResultType]::ParameterName, 'Send a HAProxy PROXY protocol header (v1 text or v2 binary) before anything else, as a load balancer in front of the server would')
            [CompletionResult]::new('--proxy-source', '--proxy-source', [CompletionResultType]::ParameterName, 'The client address the PROXY header claims (default: the real local address)')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Seconds allowed for connecting, the TLS handshake and each reply')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds allowed for connecting, the TLS handshake and each reply')
            [CompletionResult]::new('--ehlo', '--ehlo', [CompletionResultType]::ParameterName, 'Name to send with EHLO/LHLO when mailtalk sends it itself (--starttls)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)')
            [CompletionResult]::new('--script', '--script', [CompletionResultType]::ParameterName, 'Run a script (the input language plus :expect, :capture, :sleep, :include); - reads standard input. Exit status 1 when an expectation fails')
            [CompletionResult]::new('--record', '--record', [CompletionResultType]::ParameterName, 'Write what is typed as a replayable script, with an :expect after each reply and secrets as ${MAILTALK_PASSWORD}')
            [CompletionResult]::new('--transcript', '--transcript', [CompletionResultType]::ParameterName, 'Write a transcript with timestamps (secrets redacted)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write the content of every IMAP literal and POP3 body received to FILE, exactly as received (POP3: dot-unstuffed), instead of showing it; a line per content says how much went there')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the content of every IMAP literal and POP3 body received to FILE, exactly as received (POP3: dot-unstuffed), instead of showing it; a line per content says how much went there')
            [CompletionResult]::new('--max-show', '--max-show', [CompletionResultType]::ParameterName, 'Lines of each literal or body shown (the rest is counted, and :save FILE keeps it); a number or `all`. Default: 200 when standard output is a terminal, else all')
            [CompletionResult]::new('--raw-wait', '--raw-wait', [CompletionResultType]::ParameterName, 'In raw mode, how long to wait for the server''s answer after each piece sent (seconds; default 1, at most --timeout); what comes later is shown before the next line')
            [CompletionResult]::new('--auth', '--auth', [CompletionResultType]::ParameterName, 'Authenticate after connecting: a SASL mechanism (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER), IMAP-LOGIN, USER or APOP (POP3); without a value, the strongest the server offers. The secret comes from MAILTALK_PASSWORD, --password-cmd or a prompt without echo, never from the command line')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User name to authenticate as (implies --auth)')
            [CompletionResult]::new('--authzid', '--authzid', [CompletionResultType]::ParameterName, 'Authorisation identity (SASL authzid) to act as')
            [CompletionResult]::new('--password-cmd', '--password-cmd', [CompletionResultType]::ParameterName, 'Command whose standard output is the password or token (e.g. a password manager)')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Envelope sender (MAIL FROM) and From header; '''' for the null sender <>. Without it the sender is USER@HOST of this machine (said when used). With --to, send one message and exit')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Recipient (RCPT TO and To header); repeat for several')
            [CompletionResult]::new('--subject', '--subject', [CompletionResultType]::ParameterName, 'Subject header (default: mailtalk test)')
            [CompletionResult]::new('--body', '--body', [CompletionResultType]::ParameterName, 'Body text (default: a short test message)')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'The whole message: @FILE, - for standard input, or the text itself; missing Date, Message-ID, From, To and Subject headers are added; streamed, never loaded whole')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Extra header, e.g. "X-Test: 1"; repeat for several')
            [CompletionResult]::new('--attach', '--attach', [CompletionResultType]::ParameterName, 'Attach a file (MIME multipart, base64); repeat for several')
            [CompletionResult]::new('--notify', '--notify', [CompletionResultType]::ParameterName, 'DSN: NEVER, or a comma list of SUCCESS, FAILURE, DELAY')
            [CompletionResult]::new('--ret', '--ret', [CompletionResultType]::ParameterName, 'DSN: return FULL message or HDRS only')
            [CompletionResult]::new('--envid', '--envid', [CompletionResultType]::ParameterName, 'DSN envelope identifier')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Send the message N times in one session, each copy a whole transaction with a new Date and Message-ID (an @FILE is read again; --data - is read once, at most 10 MiB). Pipelined when the server offers PIPELINING, each copy''s commands going with the previous copy''s end of data. The first copy is shown in full, then only the copies that end differently, and a summary')
            [CompletionResult]::new('--quit-after', '--quit-after', [CompletionResultType]::ParameterName, 'With --from/--to: stop after this step (connect, banner, ehlo, tls, auth, mail, rcpt, data), say QUIT and exit 0 if every step so far succeeded')
            [CompletionResult]::new('--generate', '--generate', [CompletionResultType]::ParameterName, 'Write shell completions and the man page into DIR, then exit')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Implicit TLS for a TARGET without scheme (like smtps, imaps, pop3s)')
            [CompletionResult]::new('--starttls', '--starttls', [CompletionResultType]::ParameterName, 'Upgrade with STARTTLS (STLS for POP3) right after the greeting; any failure stops the session before anything else is sent')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify the certificate chain or host name (said loudly on every line: C! / S!)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the certificate chain or host name (said loudly on every line: C! / S!)')
            [CompletionResult]::new('--tls-info', '--tls-info', [CompletionResultType]::ParameterName, 'Report which TLS versions the server accepts, with the cipher of each: one connection per version 1.0 to 1.3 offering it alone (STARTTLS unless the target is implicit TLS), at OpenSSL security level 0 so that old versions can be offered, certificates not checked; then exit (0 when one was accepted, 4 when none was). With --json, one JSON object: each version''s result, cipher, certificate chain and error')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 addresses only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 addresses only')
            [CompletionResult]::new('--no-history', '--no-history', [CompletionResultType]::ParameterName, 'Do not read or write the history file')
            [CompletionResult]::new('--tui', '--tui', [CompletionResultType]::ParameterName, 'Full-screen view (transcript, input line, status bar, panels) instead of the line REPL; `:tui` switches to it from the REPL')
            [CompletionResult]::new('--keep-going', '--keep-going', [CompletionResultType]::ParameterName, 'With --script: report every failed expectation instead of stopping at the first')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON Lines events (connected, sent, received, reply, tls, expect, error) instead of the transcript')
            [CompletionResult]::new('--timing', '--timing', [CompletionResultType]::ParameterName, 'Show how long each reply took (to its first byte and to its end), the connection and TLS handshakes; :stats sums up')
            [CompletionResult]::new('--show-cert', '--show-cert', [CompletionResultType]::ParameterName, 'Show the certificate chain and TLS details when TLS starts (like :tls)')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'Raw mode from the start (like :raw on): each input line is sent exactly as typed, with \r \n \t \0 \xHH \\ decoded and NO CRLF added; for testing how a server treats malformed input (bare LF, bare CR, NUL). Shown as C~ [raw]')
            [CompletionResult]::new('--hex', '--hex', [CompletionResultType]::ParameterName, 'Show a hex dump (offset, hex bytes, ASCII) after every line sent and received (like :hex on)')
            [CompletionResult]::new('--no-explain', '--no-explain', [CompletionResultType]::ParameterName, 'Do not print a short explanation after replies that are not a plain success')
            [CompletionResult]::new('--allow-plaintext-auth', '--allow-plaintext-auth', [CompletionResultType]::ParameterName, 'Allow passwords over a connection without TLS to a host that is not on loopback')
            [CompletionResult]::new('--8bit', '--8bit', [CompletionResultType]::ParameterName, 'Declare BODY=8BITMIME')
            [CompletionResult]::new('--smtputf8', '--smtputf8', [CompletionResultType]::ParameterName, 'Declare SMTPUTF8 (an error when the server does not offer it)')
            [CompletionResult]::new('--size', '--size', [CompletionResultType]::ParameterName, 'Add SIZE= with the message size when the server offers SIZE')
            [CompletionResult]::new('--bdat', '--bdat', [CompletionResultType]::ParameterName, 'Send with BDAT when the server offers CHUNKING')
            [CompletionResult]::new('--pipeline', '--pipeline', [CompletionResultType]::ParameterName, 'Pipeline MAIL, RCPT and DATA when the server offers PIPELINING')
            [CompletionResult]::new('--no-pipeline', '--no-pipeline', [CompletionResultType]::ParameterName, 'Never pipeline, not even with --count')
            [CompletionResult]::new('--require-all-rcpts', '--require-all-rcpts', [CompletionResultType]::ParameterName, 'If any recipient is refused, deliver to nobody: RSET before DATA (after a pipelined 354 the connection is closed before the end of the data). By default the message goes to the recipients the server accepted')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Explain what a server said: SMTP basic (550) and enhanced (5.1.1, X.7.1) codes, IMAP ([OVERQUOTA]) and POP3 ([IN-USE], SYS/TEMP) response codes, or a whole reply line as pasted ("550 5.7.1 Relaying denied"), with first the cause its text states')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the embedded mail server: SMTP, LMTP, IMAP and POP3 on loopback, to practise on and to test applications against (mail is kept, faults can be injected, every client line can be logged)')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Try mailtalk with nothing installed: the embedded server on free loopback ports, and a session connected to its SMTP side, with a short guide')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check what a sending MTA would find on the way to DOMAIN: its MX hosts, STARTTLS and the certificate of each, DANE TLSA records (with DNSSEC as the resolver reports it), the MTA-STS policy and TLS-RPT record; exit status 0 when every MX passes, 4 when one fails, 5 when the lookups fail')
            [CompletionResult]::new('smuggle-test', 'smuggle-test', [CompletionResultType]::ParameterValue, 'Test one SMTP server you name for SMTP smuggling: one message per end-of-data variant (\n.\n, \r.\r, \r\n\0.\r\n …) with a second message hidden behind it, and a verdict per variant (refused, kept as data, SMUGGLED) from the mailbox read back over IMAP (--check) or from the replies; exit status 0 when none was smuggled, 4 when one was, 5 when a verdict could not be reached')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mailtalk;explain' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Protocol of a pasted reply line (guessed when not given)')
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'Protocol of a pasted reply line (guessed when not given)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mailtalk;serve' {
            [CompletionResult]::new('--smtp', '--smtp', [CompletionResultType]::ParameterName, 'SMTP listener (STARTTLS offered); `off` for none')
            [CompletionResult]::new('--imap', '--imap', [CompletionResultType]::ParameterName, 'IMAP listener (STARTTLS offered); `off` for none')
            [CompletionResult]::new('--pop3', '--pop3', [CompletionResultType]::ParameterName, 'POP3 listener (STLS offered); `off` for none')
            [CompletionResult]::new('--smtps', '--smtps', [CompletionResultType]::ParameterName, 'SMTP over implicit TLS (like port 465)')
            [CompletionResult]::new('--imaps', '--imaps', [CompletionResultType]::ParameterName, 'IMAP over implicit TLS (like port 993)')
            [CompletionResult]::new('--pop3s', '--pop3s', [CompletionResultType]::ParameterName, 'POP3 over implicit TLS (like port 995)')
            [CompletionResult]::new('--lmtp', '--lmtp', [CompletionResultType]::ParameterName, 'LMTP listener (RFC 2033: LHLO, one reply per recipient)')
            [CompletionResult]::new('--hostname', '--hostname', [CompletionResultType]::ParameterName, 'The name in greetings and replies')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'TLS certificate chain (PEM, leaf first); without it a self-signed certificate is made at start')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'Private key of --tls-cert (PEM)')
            [CompletionResult]::new('--cert-out', '--cert-out', [CompletionResultType]::ParameterName, 'Where to write the self-signed certificate (PEM) for clients to trust with --ca-file [default: mailtalk-serve-PID.pem in the temporary directory, removed when the server stops]')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Accept only this user (repeatable): USER:PASSWORD, or USER alone with the password in the environment variable MAILTALK_SERVE_PASSWORD. Without --user any credentials are accepted (SCRAM-SHA-256 then is not offered: it needs the password)')
            [CompletionResult]::new('--max-messages', '--max-messages', [CompletionResultType]::ParameterName, 'Keep at most N messages (in all), dropping the oldest first')
            [CompletionResult]::new('--max-store', '--max-store', [CompletionResultType]::ParameterName, 'In memory, keep at most this many bytes of messages (in all), dropping the oldest first')
            [CompletionResult]::new('--maildir', '--maildir', [CompletionResultType]::ParameterName, 'Keep mail in Maildir under DIR (kept across restarts, readable by other mail tools) instead of in memory')
            [CompletionResult]::new('--reject-rcpt', '--reject-rcpt', [CompletionResultType]::ParameterName, 'Refuse recipients matching REGEX (case-insensitive) with 550 5.1.1')
            [CompletionResult]::new('--reject-from', '--reject-from', [CompletionResultType]::ParameterName, 'Refuse senders matching REGEX (case-insensitive) with 550 5.1.0')
            [CompletionResult]::new('--tempfail-rate', '--tempfail-rate', [CompletionResultType]::ParameterName, 'Fail this share of MAIL, RCPT and end-of-data replies at random (0.0-1.0), half with 451 4.3.0 and half with 421 4.3.0 (closing)')
            [CompletionResult]::new('--delay', '--delay', [CompletionResultType]::ParameterName, 'Wait MS milliseconds before each reply')
            [CompletionResult]::new('--max-size', '--max-size', [CompletionResultType]::ParameterName, 'Largest message in bytes (advertised in SIZE; larger ones get 552 5.3.4)')
            [CompletionResult]::new('--drop-after', '--drop-after', [CompletionResultType]::ParameterName, 'Close SMTP sessions right after this phase')
            [CompletionResult]::new('--max-sessions', '--max-sessions', [CompletionResultType]::ParameterName, 'At most N sessions at once; more get 421 (IMAP: BYE, POP3: -ERR)')
            [CompletionResult]::new('--command-timeout', '--command-timeout', [CompletionResultType]::ParameterName, 'Seconds a client may take to send each command')
            [CompletionResult]::new('--data-timeout', '--data-timeout', [CompletionResultType]::ParameterName, 'Seconds a client may take to send a whole message (DATA, BDAT)')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'Seed for --tempfail-rate, to repeat a run')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)')
            [CompletionResult]::new('--catch-all', '--catch-all', [CompletionResultType]::ParameterName, 'Every login sees every message (instead of one mailbox per recipient address, logged in as that address)')
            [CompletionResult]::new('--discard', '--discard', [CompletionResultType]::ParameterName, 'Keep no mail: messages are accepted (after every check and fault injection, as always), logged and counted, then dropped; IMAP and POP3 show empty mailboxes. Memory stays flat whatever the size: only the start of each message is held (for the log''s subject)')
            [CompletionResult]::new('--greylist', '--greylist', [CompletionResultType]::ParameterName, 'Greylist: answer 451 4.7.1 to the first try of each client address, sender and recipient; a retry passes')
            [CompletionResult]::new('--require-tls', '--require-tls', [CompletionResultType]::ParameterName, 'Refuse mail, logins and mailbox access before STARTTLS')
            [CompletionResult]::new('--require-auth', '--require-auth', [CompletionResultType]::ParameterName, 'Refuse mail before AUTH')
            [CompletionResult]::new('--allow-plaintext-auth', '--allow-plaintext-auth', [CompletionResultType]::ParameterName, 'Allow passwords over plaintext connections from other hosts (always allowed on loopback)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'The log as JSON Lines (one object per session, message and line)')
            [CompletionResult]::new('--log-sessions', '--log-sessions', [CompletionResultType]::ParameterName, 'Log every line each client sent and received (passwords redacted), with the bytes that smuggling relies on (bare LF, bare CR, NUL, unstuffed dots) flagged')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'mailtalk;demo' {
            [CompletionResult]::new('--server-log', '--server-log', [CompletionResultType]::ParameterName, 'Where the embedded server writes its log (every line of every session) [default: mailtalk-demo-PID.log in the temporary directory]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)')
            [CompletionResult]::new('--tui', '--tui', [CompletionResultType]::ParameterName, 'The full-screen view, with the server''s inbox (F9 or :inbox)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mailtalk;check' {
            [CompletionResult]::new('--resolver', '--resolver', [CompletionResultType]::ParameterName, 'DNS server to ask (IP or IP:PORT; default: the first nameserver of /etc/resolv.conf)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port the MX hosts are reached on (25; another one for tests)')
            [CompletionResult]::new('--policy-port', '--policy-port', [CompletionResultType]::ParameterName, 'Port the MTA-STS policy is fetched from (443; another one for tests)')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Extra trust anchors (PEM) for the MX certificates and the MTA-STS policy host')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Seconds allowed for each lookup, connection and reply')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds allowed for each lookup, connection and reply')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'JSON instead of the table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mailtalk;smuggle-test' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Envelope sender (and From) of the test messages')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Envelope recipient (and To): a mailbox you can read, for --check')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Read the recipient''s mailbox back to decide each verdict: imap://HOST[:PORT] or imaps://HOST[:PORT] (the password comes from MAILTALK_CHECK_PASSWORD, then MAILTALK_PASSWORD unless --user takes it, then a prompt)')
            [CompletionResult]::new('--check-user', '--check-user', [CompletionResultType]::ParameterName, 'The IMAP user for --check (default: the --to address)')
            [CompletionResult]::new('--check-mailbox', '--check-mailbox', [CompletionResultType]::ParameterName, 'The mailbox the test messages arrive in')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Seconds to wait for the test messages to arrive in the mailbox')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Authenticate to TARGET as USER before each test (the password comes from MAILTALK_PASSWORD or a prompt)')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Extra trust anchors (PEM) for TARGET and the --check server')
            [CompletionResult]::new('--variant', '--variant', [CompletionResultType]::ParameterName, 'Run only these variants (by name; repeat the option; see --list)')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Seconds allowed for the connection and each reply')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds allowed for the connection and each reply')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)')
            [CompletionResult]::new('--starttls', '--starttls', [CompletionResultType]::ParameterName, 'STARTTLS on a plain smtp:// or lmtp:// target; then no test runs without TLS')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Do not verify certificates (for a test server with a self-signed one)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify certificates (for a test server with a self-signed one)')
            [CompletionResult]::new('--list', '--list', [CompletionResultType]::ParameterName, 'List the variants and exit')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show every line sent and received (on standard error)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show every line sent and received (on standard error)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'JSON instead of the table')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mailtalk;help' {
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Explain what a server said: SMTP basic (550) and enhanced (5.1.1, X.7.1) codes, IMAP ([OVERQUOTA]) and POP3 ([IN-USE], SYS/TEMP) response codes, or a whole reply line as pasted ("550 5.7.1 Relaying denied"), with first the cause its text states')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the embedded mail server: SMTP, LMTP, IMAP and POP3 on loopback, to practise on and to test applications against (mail is kept, faults can be injected, every client line can be logged)')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Try mailtalk with nothing installed: the embedded server on free loopback ports, and a session connected to its SMTP side, with a short guide')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check what a sending MTA would find on the way to DOMAIN: its MX hosts, STARTTLS and the certificate of each, DANE TLSA records (with DNSSEC as the resolver reports it), the MTA-STS policy and TLS-RPT record; exit status 0 when every MX passes, 4 when one fails, 5 when the lookups fail')
            [CompletionResult]::new('smuggle-test', 'smuggle-test', [CompletionResultType]::ParameterValue, 'Test one SMTP server you name for SMTP smuggling: one message per end-of-data variant (\n.\n, \r.\r, \r\n\0.\r\n …) with a second message hidden behind it, and a verdict per variant (refused, kept as data, SMUGGLED) from the mailbox read back over IMAP (--check) or from the replies; exit status 0 when none was smuggled, 4 when one was, 5 when a verdict could not be reached')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mailtalk;help;explain' {
            break
        }
        'mailtalk;help;serve' {
            break
        }
        'mailtalk;help;demo' {
            break
        }
        'mailtalk;help;check' {
            break
        }
        'mailtalk;help;smuggle-test' {
            break
        }
        'mailtalk;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
