
use builtin;
use str;

set edit:completion:arg-completer[mailtalk] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'mailtalk'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'mailtalk'= {
            cand --mx 'Reach DOMAIN the way mail travels (also written as TARGET smtp://@DOMAIN): its MX records are looked up and shown, and the best is tried first, then the others in order (each address of each); no MX record means the domain itself (implicit MX), a null MX (RFC 7505) is said and nothing is tried. The certificate is checked against the MX name'
            cand --resolver 'The DNS server for MX lookups (IP or IP:PORT; default: the first nameserver of /etc/resolv.conf)'
            cand -p 'Protocol for a TARGET without scheme'
            cand --protocol 'Protocol for a TARGET without scheme'
            cand --ca-file 'Extra trust anchors (PEM file) for certificate verification'
            cand --sni 'Server name to send in SNI and to verify the certificate against (default: the host)'
            cand --cert 'Client certificate for TLS (PEM; the chain may follow it, and the key may be in the same file)'
            cand --key 'Private key of --cert (PEM), when it is not in the certificate file'
            cand --tls-min 'Oldest TLS version to offer: 1.0, 1.1, 1.2 or 1.3 (OpenSSL offers 1.0 and 1.1 only at security level 0: add --ciphers ''DEFAULT:@SECLEVEL=0'')'
            cand --tls-max 'Newest TLS version to offer: 1.0, 1.1, 1.2 or 1.3'
            cand --ciphers 'Ciphers to offer for TLS 1.2 and older, as an OpenSSL cipher list (`ECDHE+AESGCM:!aNULL`, `DEFAULT:@SECLEVEL=0`)'
            cand --ciphersuites 'Ciphersuites to offer for TLS 1.3, colon-separated (`TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256`)'
            cand --alpn 'Application protocols to offer with ALPN, most wanted first (`smtp`, `imap`, `pop3`); the one the server chose is shown with the TLS details'
            cand --pipe 'Talk to a command instead of a server: run it with `sh -c` and speak over its standard input and output (`sendmail -bs`, `dovecot --exec-mail imap`); it is ended when the session ends'
            cand --proxy 'Connect through a proxy: socks5://[USER:PASS@]HOST[:PORT] (SOCKS5, the proxy resolves the target''s name; port 1080) or http://[USER:PASS@]HOST[:PORT] (HTTP CONNECT; port 8080). The password is never shown; without one in the URL it comes from MAILTALK_PROXY_PASSWORD'
            cand --proxy-protocol 'Send a HAProxy PROXY protocol header (v1 text or v2 binary) before anything else, as a load balancer in front of the server would'
            cand --proxy-source 'The client address the PROXY header claims (default: the real local address)'
            cand -t 'Seconds allowed for connecting, the TLS handshake and each reply'
            cand --timeout 'Seconds allowed for connecting, the TLS handshake and each reply'
            cand --ehlo 'Name to send with EHLO/LHLO when mailtalk sends it itself (--starttls)'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)'
            cand --script 'Run a script (the input language plus :expect, :capture, :sleep, :include); - reads standard input. Exit status 1 when an expectation fails'
            cand --record 'Write what is typed as a replayable script, with an :expect after each reply and secrets as ${MAILTALK_PASSWORD}'
            cand --transcript 'Write a transcript with timestamps (secrets redacted)'
            cand -o 'Write the content of every IMAP literal and POP3 body received to FILE, exactly as received (POP3: dot-unstuffed), instead of showing it; a line per content says how much went there'
            cand --output 'Write the content of every IMAP literal and POP3 body received to FILE, exactly as received (POP3: dot-unstuffed), instead of showing it; a line per content says how much went there'
            cand --max-show 'Lines of each literal or body shown (the rest is counted, and :save FILE keeps it); a number or `all`. Default: 200 when standard output is a terminal, else all'
            cand --raw-wait 'In raw mode, how long to wait for the server''s answer after each piece sent (seconds; default 1, at most --timeout); what comes later is shown before the next line'
            cand --auth 'Authenticate after connecting: a SASL mechanism (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER), IMAP-LOGIN, USER or APOP (POP3); without a value, the strongest the server offers. The secret comes from MAILTALK_PASSWORD, --password-cmd or a prompt without echo, never from the command line'
            cand --user 'User name to authenticate as (implies --auth)'
            cand --authzid 'Authorisation identity (SASL authzid) to act as'
            cand --password-cmd 'Command whose standard output is the password or token (e.g. a password manager)'
            cand --from 'Envelope sender (MAIL FROM) and From header; '''' for the null sender <>. Without it the sender is USER@HOST of this machine (said when used). With --to, send one message and exit'
            cand --to 'Recipient (RCPT TO and To header); repeat for several'
            cand --subject 'Subject header (default: mailtalk test)'
            cand --body 'Body text (default: a short test message)'
            cand --data 'The whole message: @FILE, - for standard input, or the text itself; missing Date, Message-ID, From, To and Subject headers are added; streamed, never loaded whole'
            cand --header 'Extra header, e.g. "X-Test: 1"; repeat for several'
            cand --attach 'Attach a file (MIME multipart, base64); repeat for several'
            cand --notify 'DSN: NEVER, or a comma list of SUCCESS, FAILURE, DELAY'
            cand --ret 'DSN: return FULL message or HDRS only'
            cand --envid 'DSN envelope identifier'
            cand --count 'Send the message N times in one session, each copy a whole transaction with a new Date and Message-ID (an @FILE is read again; --data - is read once, at most 10 MiB). Pipelined when the server offers PIPELINING, each copy''s commands going with the previous copy''s end of data. The first copy is shown in full, then only the copies that end differently, and a summary'
            cand --quit-after 'With --from/--to: stop after this step (connect, banner, ehlo, tls, auth, mail, rcpt, data), say QUIT and exit 0 if every step so far succeeded'
            cand --generate 'Write shell completions and the man page into DIR, then exit'
            cand --tls 'Implicit TLS for a TARGET without scheme (like smtps, imaps, pop3s)'
            cand --starttls 'Upgrade with STARTTLS (STLS for POP3) right after the greeting; any failure stops the session before anything else is sent'
            cand -k 'Do not verify the certificate chain or host name (said loudly on every line: C! / S!)'
            cand --insecure 'Do not verify the certificate chain or host name (said loudly on every line: C! / S!)'
            cand --tls-info 'Report which TLS versions the server accepts, with the cipher of each: one connection per version 1.0 to 1.3 offering it alone (STARTTLS unless the target is implicit TLS), at OpenSSL security level 0 so that old versions can be offered, certificates not checked; then exit (0 when one was accepted, 4 when none was). With --json, one JSON object: each version''s result, cipher, certificate chain and error'
            cand -4 'Use IPv4 addresses only'
            cand -6 'Use IPv6 addresses only'
            cand --no-history 'Do not read or write the history file'
            cand --tui 'Full-screen view (transcript, input line, status bar, panels) instead of the line REPL; `:tui` switches to it from the REPL'
            cand --keep-going 'With --script: report every failed expectation instead of stopping at the first'
            cand --json 'Print JSON Lines events (connected, sent, received, reply, tls, expect, error) instead of the transcript'
            cand --timing 'Show how long each reply took (to its first byte and to its end), the connection and TLS handshakes; :stats sums up'
            cand --show-cert 'Show the certificate chain and TLS details when TLS starts (like :tls)'
            cand --raw 'Raw mode from the start (like :raw on): each input line is sent exactly as typed, with \r \n \t \0 \xHH \\ decoded and NO CRLF added; for testing how a server treats malformed input (bare LF, bare CR, NUL). Shown as C~ [raw]'
            cand --hex 'Show a hex dump (offset, hex bytes, ASCII) after every line sent and received (like :hex on)'
            cand --no-explain 'Do not print a short explanation after replies that are not a plain success'
            cand --allow-plaintext-auth 'Allow passwords over a connection without TLS to a host that is not on loopback'
            cand --8bit 'Declare BODY=8BITMIME'
            cand --smtputf8 'Declare SMTPUTF8 (an error when the server does not offer it)'
            cand --size 'Add SIZE= with the message size when the server offers SIZE'
            cand --bdat 'Send with BDAT when the server offers CHUNKING'
            cand --pipeline 'Pipeline MAIL, RCPT and DATA when the server offers PIPELINING'
            cand --no-pipeline 'Never pipeline, not even with --count'
            cand --require-all-rcpts 'If any recipient is refused, deliver to nobody: RSET before DATA (after a pipelined 354 the connection is closed before the end of the data). By default the message goes to the recipients the server accepted'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand explain 'Explain what a server said: SMTP basic (550) and enhanced (5.1.1, X.7.1) codes, IMAP ([OVERQUOTA]) and POP3 ([IN-USE], SYS/TEMP) response codes, or a whole reply line as pasted ("550 5.7.1 Relaying denied"), with first the cause its text states'
            cand serve 'Run the embedded mail server: SMTP, LMTP, IMAP and POP3 on loopback, to practise on and to test applications against (mail is kept, faults can be injected, every client line can be logged)'
            cand demo 'Try mailtalk with nothing installed: the embedded server on free loopback ports, and a session connected to its SMTP side, with a short guide'
            cand check 'Check what a sending MTA would find on the way to DOMAIN: its MX hosts, STARTTLS and the certificate of each, DANE TLSA records (with DNSSEC as the resolver reports it), the MTA-STS policy and TLS-RPT record; exit status 0 when every MX passes, 4 when one fails, 5 when the lookups fail'
            cand smuggle-test 'Test one SMTP server you name for SMTP smuggling: one message per end-of-data variant (\n.\n, \r.\r, \r\n\0.\r\n …) with a second message hidden behind it, and a verdict per variant (refused, kept as data, SMUGGLED) from the mailbox read back over IMAP (--check) or from the replies; exit status 0 when none was smuggled, 4 when one was, 5 when a verdict could not be reached'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mailtalk;explain'= {
            cand -p 'Protocol of a pasted reply line (guessed when not given)'
            cand --protocol 'Protocol of a pasted reply line (guessed when not given)'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailtalk;serve'= {
            cand --smtp 'SMTP listener (STARTTLS offered); `off` for none'
            cand --imap 'IMAP listener (STARTTLS offered); `off` for none'
            cand --pop3 'POP3 listener (STLS offered); `off` for none'
            cand --smtps 'SMTP over implicit TLS (like port 465)'
            cand --imaps 'IMAP over implicit TLS (like port 993)'
            cand --pop3s 'POP3 over implicit TLS (like port 995)'
            cand --lmtp 'LMTP listener (RFC 2033: LHLO, one reply per recipient)'
            cand --hostname 'The name in greetings and replies'
            cand --tls-cert 'TLS certificate chain (PEM, leaf first); without it a self-signed certificate is made at start'
            cand --tls-key 'Private key of --tls-cert (PEM)'
            cand --cert-out 'Where to write the self-signed certificate (PEM) for clients to trust with --ca-file [default: mailtalk-serve-PID.pem in the temporary directory, removed when the server stops]'
            cand --user 'Accept only this user (repeatable): USER:PASSWORD, or USER alone with the password in the environment variable MAILTALK_SERVE_PASSWORD. Without --user any credentials are accepted (SCRAM-SHA-256 then is not offered: it needs the password)'
            cand --max-messages 'Keep at most N messages (in all), dropping the oldest first'
            cand --max-store 'In memory, keep at most this many bytes of messages (in all), dropping the oldest first'
            cand --maildir 'Keep mail in Maildir under DIR (kept across restarts, readable by other mail tools) instead of in memory'
            cand --reject-rcpt 'Refuse recipients matching REGEX (case-insensitive) with 550 5.1.1'
            cand --reject-from 'Refuse senders matching REGEX (case-insensitive) with 550 5.1.0'
            cand --tempfail-rate 'Fail this share of MAIL, RCPT and end-of-data replies at random (0.0-1.0), half with 451 4.3.0 and half with 421 4.3.0 (closing)'
            cand --delay 'Wait MS milliseconds before each reply'
            cand --max-size 'Largest message in bytes (advertised in SIZE; larger ones get 552 5.3.4)'
            cand --drop-after 'Close SMTP sessions right after this phase'
            cand --max-sessions 'At most N sessions at once; more get 421 (IMAP: BYE, POP3: -ERR)'
            cand --command-timeout 'Seconds a client may take to send each command'
            cand --data-timeout 'Seconds a client may take to send a whole message (DATA, BDAT)'
            cand --seed 'Seed for --tempfail-rate, to repeat a run'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)'
            cand --catch-all 'Every login sees every message (instead of one mailbox per recipient address, logged in as that address)'
            cand --discard 'Keep no mail: messages are accepted (after every check and fault injection, as always), logged and counted, then dropped; IMAP and POP3 show empty mailboxes. Memory stays flat whatever the size: only the start of each message is held (for the log''s subject)'
            cand --greylist 'Greylist: answer 451 4.7.1 to the first try of each client address, sender and recipient; a retry passes'
            cand --require-tls 'Refuse mail, logins and mailbox access before STARTTLS'
            cand --require-auth 'Refuse mail before AUTH'
            cand --allow-plaintext-auth 'Allow passwords over plaintext connections from other hosts (always allowed on loopback)'
            cand --json 'The log as JSON Lines (one object per session, message and line)'
            cand --log-sessions 'Log every line each client sent and received (passwords redacted), with the bytes that smuggling relies on (bare LF, bare CR, NUL, unstuffed dots) flagged'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'mailtalk;demo'= {
            cand --server-log 'Where the embedded server writes its log (every line of every session) [default: mailtalk-demo-PID.log in the temporary directory]'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)'
            cand --tui 'The full-screen view, with the server''s inbox (F9 or :inbox)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailtalk;check'= {
            cand --resolver 'DNS server to ask (IP or IP:PORT; default: the first nameserver of /etc/resolv.conf)'
            cand --port 'Port the MX hosts are reached on (25; another one for tests)'
            cand --policy-port 'Port the MTA-STS policy is fetched from (443; another one for tests)'
            cand --ca-file 'Extra trust anchors (PEM) for the MX certificates and the MTA-STS policy host'
            cand -t 'Seconds allowed for each lookup, connection and reply'
            cand --timeout 'Seconds allowed for each lookup, connection and reply'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)'
            cand --json 'JSON instead of the table'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailtalk;smuggle-test'= {
            cand --from 'Envelope sender (and From) of the test messages'
            cand --to 'Envelope recipient (and To): a mailbox you can read, for --check'
            cand --check 'Read the recipient''s mailbox back to decide each verdict: imap://HOST[:PORT] or imaps://HOST[:PORT] (the password comes from MAILTALK_CHECK_PASSWORD, then MAILTALK_PASSWORD unless --user takes it, then a prompt)'
            cand --check-user 'The IMAP user for --check (default: the --to address)'
            cand --check-mailbox 'The mailbox the test messages arrive in'
            cand --wait 'Seconds to wait for the test messages to arrive in the mailbox'
            cand --user 'Authenticate to TARGET as USER before each test (the password comes from MAILTALK_PASSWORD or a prompt)'
            cand --ca-file 'Extra trust anchors (PEM) for TARGET and the --check server'
            cand --variant 'Run only these variants (by name; repeat the option; see --list)'
            cand -t 'Seconds allowed for the connection and each reply'
            cand --timeout 'Seconds allowed for the connection and each reply'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)'
            cand --starttls 'STARTTLS on a plain smtp:// or lmtp:// target; then no test runs without TLS'
            cand -k 'Do not verify certificates (for a test server with a self-signed one)'
            cand --insecure 'Do not verify certificates (for a test server with a self-signed one)'
            cand --list 'List the variants and exit'
            cand -v 'Show every line sent and received (on standard error)'
            cand --verbose 'Show every line sent and received (on standard error)'
            cand --json 'JSON instead of the table'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mailtalk;help'= {
            cand explain 'Explain what a server said: SMTP basic (550) and enhanced (5.1.1, X.7.1) codes, IMAP ([OVERQUOTA]) and POP3 ([IN-USE], SYS/TEMP) response codes, or a whole reply line as pasted ("550 5.7.1 Relaying denied"), with first the cause its text states'
            cand serve 'Run the embedded mail server: SMTP, LMTP, IMAP and POP3 on loopback, to practise on and to test applications against (mail is kept, faults can be injected, every client line can be logged)'
            cand demo 'Try mailtalk with nothing installed: the embedded server on free loopback ports, and a session connected to its SMTP side, with a short guide'
            cand check 'Check what a sending MTA would find on the way to DOMAIN: its MX hosts, STARTTLS and the certificate of each, DANE TLSA records (with DNSSEC as the resolver reports it), the MTA-STS policy and TLS-RPT record; exit status 0 when every MX passes, 4 when one fails, 5 when the lookups fail'
            cand smuggle-test 'Test one SMTP server you name for SMTP smuggling: one message per end-of-data variant (\n.\n, \r.\r, \r\n\0.\r\n …) with a second message hidden behind it, and a verdict per variant (refused, kept as data, SMUGGLED) from the mailbox read back over IMAP (--check) or from the replies; exit status 0 when none was smuggled, 4 when one was, 5 when a verdict could not be reached'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mailtalk;help;explain'= {
        }
        &'mailtalk;help;serve'= {
        }
        &'mailtalk;help;demo'= {
        }
        &'mailtalk;help;check'= {
        }
        &'mailtalk;help;smuggle-test'= {
        }
        &'mailtalk;help;help'= {
        }
    ]
    $completions[$command]
}
