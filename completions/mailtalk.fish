# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mailtalk_global_optspecs
    string join \n mx= resolver= p/protocol= tls starttls k/insecure ca-file= sni= cert= key= tls-min= tls-max= ciphers= ciphersuites= alpn= tls-info pipe= proxy= proxy-protocol= proxy-source= t/timeout= ehlo= color= 4 6 no-history tui script= keep-going record= transcript= o/output= max-show= json timing show-cert raw raw-wait= hex no-explain auth= user= authzid= password-cmd= allow-plaintext-auth from= to= subject= body= data= header= attach= 8bit smtputf8 notify= ret= envid= size bdat pipeline count= no-pipeline require-all-rcpts quit-after= generate= h/help V/version
end

function __fish_mailtalk_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mailtalk_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mailtalk_using_subcommand
    set -l cmd (__fish_mailtalk_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mailtalk -n "__fish_mailtalk_needs_command" -l mx -d 'Reach DOMAIN the way mail travels (also written as TARGET smtp://@DOMAIN): its MX records are looked up and shown, and the best is tried first, then the others in order (each address of each); no MX record means the domain itself (implicit MX), a null MX (RFC 7505) is said and nothing is tried. The certificate is checked against the MX name' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l resolver -d 'The DNS server for MX lookups (IP or IP:PORT; default: the first nameserver of /etc/resolv.conf)' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -s p -l protocol -d 'Protocol for a TARGET without scheme' -r -f -a "smtp\t''
lmtp\t''
imap\t''
pop3\t''"
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l ca-file -d 'Extra trust anchors (PEM file) for certificate verification' -r -F
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l sni -d 'Server name to send in SNI and to verify the certificate against (default: the host)' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l cert -d 'Client certificate for TLS (PEM; the chain may follow it, and the key may be in the same file)' -r -F
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l key -d 'Private key of --cert (PEM), when it is not in the certificate file' -r -F
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l tls-min -d 'Oldest TLS version to offer: 1.0, 1.1, 1.2 or 1.3 (OpenSSL offers 1.0 and 1.1 only at security level 0: add --ciphers \'DEFAULT:@SECLEVEL=0\')' -r -f -a "1.0\t''
1.1\t''
1.2\t''
1.3\t''"
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l tls-max -d 'Newest TLS version to offer: 1.0, 1.1, 1.2 or 1.3' -r -f -a "1.0\t''
1.1\t''
1.2\t''
1.3\t''"
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l ciphers -d 'Ciphers to offer for TLS 1.2 and older, as an OpenSSL cipher list (`ECDHE+AESGCM:!aNULL`, `DEFAULT:@SECLEVEL=0`)' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l ciphersuites -d 'Ciphersuites to offer for TLS 1.3, colon-separated (`TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256`)' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l alpn -d 'Application protocols to offer with ALPN, most wanted first (`smtp`, `imap`, `pop3`); the one the server chose is shown with the TLS details' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l pipe -d 'Talk to a command instead of a server: run it with `sh -c` and speak over its standard input and output (`sendmail -bs`, `dovecot --exec-mail imap`); it is ended when the session ends' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l proxy -d 'Connect through a proxy: socks5://[USER:PASS@]HOST[:PORT] (SOCKS5, the proxy resolves the target\'s name; port 1080) or http://[USER:PASS@]HOST[:PORT] (HTTP CONNECT; port 8080). The password is never shown; without one in the URL it comes from MAILTALK_PROXY_PASSWORD' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l proxy-protocol -d 'Send a HAProxy PROXY protocol header (v1 text or v2 binary) before anything else, as a load balancer in front of the server would' -r -f -a "v1\t''
v2\t''"
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l proxy-source -d 'The client address the PROXY header claims (default: the real local address)' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -s t -l timeout -d 'Seconds allowed for connecting, the TLS handshake and each reply' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l ehlo -d 'Name to send with EHLO/LHLO when mailtalk sends it itself (--starttls)' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l script -d 'Run a script (the input language plus :expect, :capture, :sleep, :include); - reads standard input. Exit status 1 when an expectation fails' -r -F
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l record -d 'Write what is typed as a replayable script, with an :expect after each reply and secrets as ${MAILTALK_PASSWORD}' -r -F
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l transcript -d 'Write a transcript with timestamps (secrets redacted)' -r -F
complete -c mailtalk -n "__fish_mailtalk_needs_command" -s o -l output -d 'Write the content of every IMAP literal and POP3 body received to FILE, exactly as received (POP3: dot-unstuffed), instead of showing it; a line per content says how much went there' -r -F
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l max-show -d 'Lines of each literal or body shown (the rest is counted, and :save FILE keeps it); a number or `all`. Default: 200 when standard output is a terminal, else all' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l raw-wait -d 'In raw mode, how long to wait for the server\'s answer after each piece sent (seconds; default 1, at most --timeout); what comes later is shown before the next line' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l auth -d 'Authenticate after connecting: a SASL mechanism (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER), IMAP-LOGIN, USER or APOP (POP3); without a value, the strongest the server offers. The secret comes from MAILTALK_PASSWORD, --password-cmd or a prompt without echo, never from the command line' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l user -d 'User name to authenticate as (implies --auth)' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l authzid -d 'Authorisation identity (SASL authzid) to act as' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l password-cmd -d 'Command whose standard output is the password or token (e.g. a password manager)' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l from -d 'Envelope sender (MAIL FROM) and From header; \'\' for the null sender <>. Without it the sender is USER@HOST of this machine (said when used). With --to, send one message and exit' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l to -d 'Recipient (RCPT TO and To header); repeat for several' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l subject -d 'Subject header (default: mailtalk test)' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l body -d 'Body text (default: a short test message)' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l data -d 'The whole message: @FILE, - for standard input, or the text itself; missing Date, Message-ID, From, To and Subject headers are added; streamed, never loaded whole' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l header -d 'Extra header, e.g. "X-Test: 1"; repeat for several' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l attach -d 'Attach a file (MIME multipart, base64); repeat for several' -r -F
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l notify -d 'DSN: NEVER, or a comma list of SUCCESS, FAILURE, DELAY' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l ret -d 'DSN: return FULL message or HDRS only' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l envid -d 'DSN envelope identifier' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l count -d 'Send the message N times in one session, each copy a whole transaction with a new Date and Message-ID (an @FILE is read again; --data - is read once, at most 10 MiB). Pipelined when the server offers PIPELINING, each copy\'s commands going with the previous copy\'s end of data. The first copy is shown in full, then only the copies that end differently, and a summary' -r
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l quit-after -d 'With --from/--to: stop after this step (connect, banner, ehlo, tls, auth, mail, rcpt, data), say QUIT and exit 0 if every step so far succeeded' -r -f -a "connect\t''
banner\t''
ehlo\t''
tls\t''
auth\t''
mail\t''
rcpt\t''
data\t''"
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l generate -d 'Write shell completions and the man page into DIR, then exit' -r -F
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l tls -d 'Implicit TLS for a TARGET without scheme (like smtps, imaps, pop3s)'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l starttls -d 'Upgrade with STARTTLS (STLS for POP3) right after the greeting; any failure stops the session before anything else is sent'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -s k -l insecure -d 'Do not verify the certificate chain or host name (said loudly on every line: C! / S!)'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l tls-info -d 'Report which TLS versions the server accepts, with the cipher of each: one connection per version 1.0 to 1.3 offering it alone (STARTTLS unless the target is implicit TLS), at OpenSSL security level 0 so that old versions can be offered, certificates not checked; then exit (0 when one was accepted, 4 when none was). With --json, one JSON object: each version\'s result, cipher, certificate chain and error'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -s 4 -d 'Use IPv4 addresses only'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -s 6 -d 'Use IPv6 addresses only'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l no-history -d 'Do not read or write the history file'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l tui -d 'Full-screen view (transcript, input line, status bar, panels) instead of the line REPL; `:tui` switches to it from the REPL'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l keep-going -d 'With --script: report every failed expectation instead of stopping at the first'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l json -d 'Print JSON Lines events (connected, sent, received, reply, tls, expect, error) instead of the transcript'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l timing -d 'Show how long each reply took (to its first byte and to its end), the connection and TLS handshakes; :stats sums up'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l show-cert -d 'Show the certificate chain and TLS details when TLS starts (like :tls)'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l raw -d 'Raw mode from the start (like :raw on): each input line is sent exactly as typed, with \\r \\n \\t \\0 \\xHH \\\\ decoded and NO CRLF added; for testing how a server treats malformed input (bare LF, bare CR, NUL). Shown as C~ [raw]'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l hex -d 'Show a hex dump (offset, hex bytes, ASCII) after every line sent and received (like :hex on)'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l no-explain -d 'Do not print a short explanation after replies that are not a plain success'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l allow-plaintext-auth -d 'Allow passwords over a connection without TLS to a host that is not on loopback'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l 8bit -d 'Declare BODY=8BITMIME'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l smtputf8 -d 'Declare SMTPUTF8 (an error when the server does not offer it)'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l size -d 'Add SIZE= with the message size when the server offers SIZE'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l bdat -d 'Send with BDAT when the server offers CHUNKING'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l pipeline -d 'Pipeline MAIL, RCPT and DATA when the server offers PIPELINING'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l no-pipeline -d 'Never pipeline, not even with --count'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -l require-all-rcpts -d 'If any recipient is refused, deliver to nobody: RSET before DATA (after a pipelined 354 the connection is closed before the end of the data). By default the message goes to the recipients the server accepted'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -s V -l version -d 'Print version'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -a "explain" -d 'Explain what a server said: SMTP basic (550) and enhanced (5.1.1, X.7.1) codes, IMAP ([OVERQUOTA]) and POP3 ([IN-USE], SYS/TEMP) response codes, or a whole reply line as pasted ("550 5.7.1 Relaying denied"), with first the cause its text states'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -a "serve" -d 'Run the embedded mail server: SMTP, LMTP, IMAP and POP3 on loopback, to practise on and to test applications against (mail is kept, faults can be injected, every client line can be logged)'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -a "demo" -d 'Try mailtalk with nothing installed: the embedded server on free loopback ports, and a session connected to its SMTP side, with a short guide'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -a "check" -d 'Check what a sending MTA would find on the way to DOMAIN: its MX hosts, STARTTLS and the certificate of each, DANE TLSA records (with DNSSEC as the resolver reports it), the MTA-STS policy and TLS-RPT record; exit status 0 when every MX passes, 4 when one fails, 5 when the lookups fail'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -a "smuggle-test" -d 'Test one SMTP server you name for SMTP smuggling: one message per end-of-data variant (\\n.\\n, \\r.\\r, \\r\\n\\0.\\r\\n …) with a second message hidden behind it, and a verdict per variant (refused, kept as data, SMUGGLED) from the mailbox read back over IMAP (--check) or from the replies; exit status 0 when none was smuggled, 4 when one was, 5 when a verdict could not be reached'
complete -c mailtalk -n "__fish_mailtalk_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand explain" -s p -l protocol -d 'Protocol of a pasted reply line (guessed when not given)' -r -f -a "smtp\t''
lmtp\t''
imap\t''
pop3\t''"
complete -c mailtalk -n "__fish_mailtalk_using_subcommand explain" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c mailtalk -n "__fish_mailtalk_using_subcommand explain" -s h -l help -d 'Print help'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l smtp -d 'SMTP listener (STARTTLS offered); `off` for none' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l imap -d 'IMAP listener (STARTTLS offered); `off` for none' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l pop3 -d 'POP3 listener (STLS offered); `off` for none' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l smtps -d 'SMTP over implicit TLS (like port 465)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l imaps -d 'IMAP over implicit TLS (like port 993)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l pop3s -d 'POP3 over implicit TLS (like port 995)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l lmtp -d 'LMTP listener (RFC 2033: LHLO, one reply per recipient)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l hostname -d 'The name in greetings and replies' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l tls-cert -d 'TLS certificate chain (PEM, leaf first); without it a self-signed certificate is made at start' -r -F
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l tls-key -d 'Private key of --tls-cert (PEM)' -r -F
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l cert-out -d 'Where to write the self-signed certificate (PEM) for clients to trust with --ca-file [default: mailtalk-serve-PID.pem in the temporary directory, removed when the server stops]' -r -F
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l user -d 'Accept only this user (repeatable): USER:PASSWORD, or USER alone with the password in the environment variable MAILTALK_SERVE_PASSWORD. Without --user any credentials are accepted (SCRAM-SHA-256 then is not offered: it needs the password)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l max-messages -d 'Keep at most N messages (in all), dropping the oldest first' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l max-store -d 'In memory, keep at most this many bytes of messages (in all), dropping the oldest first' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l maildir -d 'Keep mail in Maildir under DIR (kept across restarts, readable by other mail tools) instead of in memory' -r -F
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l reject-rcpt -d 'Refuse recipients matching REGEX (case-insensitive) with 550 5.1.1' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l reject-from -d 'Refuse senders matching REGEX (case-insensitive) with 550 5.1.0' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l tempfail-rate -d 'Fail this share of MAIL, RCPT and end-of-data replies at random (0.0-1.0), half with 451 4.3.0 and half with 421 4.3.0 (closing)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l delay -d 'Wait MS milliseconds before each reply' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l max-size -d 'Largest message in bytes (advertised in SIZE; larger ones get 552 5.3.4)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l drop-after -d 'Close SMTP sessions right after this phase' -r -f -a "connect\t'Right after accepting, before the greeting'
greeting\t''
ehlo\t''
mail\t''
rcpt\t''
data\t'After the 354 that starts the message data (or the first BDAT chunk)'
eod\t'After the reply to the end of the message data'"
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l max-sessions -d 'At most N sessions at once; more get 421 (IMAP: BYE, POP3: -ERR)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l command-timeout -d 'Seconds a client may take to send each command' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l data-timeout -d 'Seconds a client may take to send a whole message (DATA, BDAT)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l seed -d 'Seed for --tempfail-rate, to repeat a run' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l catch-all -d 'Every login sees every message (instead of one mailbox per recipient address, logged in as that address)'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l discard -d 'Keep no mail: messages are accepted (after every check and fault injection, as always), logged and counted, then dropped; IMAP and POP3 show empty mailboxes. Memory stays flat whatever the size: only the start of each message is held (for the log\'s subject)'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l greylist -d 'Greylist: answer 451 4.7.1 to the first try of each client address, sender and recipient; a retry passes'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l require-tls -d 'Refuse mail, logins and mailbox access before STARTTLS'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l require-auth -d 'Refuse mail before AUTH'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l allow-plaintext-auth -d 'Allow passwords over plaintext connections from other hosts (always allowed on loopback)'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l json -d 'The log as JSON Lines (one object per session, message and line)'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -l log-sessions -d 'Log every line each client sent and received (passwords redacted), with the bytes that smuggling relies on (bare LF, bare CR, NUL, unstuffed dots) flagged'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand demo" -l server-log -d 'Where the embedded server writes its log (every line of every session) [default: mailtalk-demo-PID.log in the temporary directory]' -r -F
complete -c mailtalk -n "__fish_mailtalk_using_subcommand demo" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c mailtalk -n "__fish_mailtalk_using_subcommand demo" -l tui -d 'The full-screen view, with the server\'s inbox (F9 or :inbox)'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand demo" -s h -l help -d 'Print help'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand check" -l resolver -d 'DNS server to ask (IP or IP:PORT; default: the first nameserver of /etc/resolv.conf)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand check" -l port -d 'Port the MX hosts are reached on (25; another one for tests)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand check" -l policy-port -d 'Port the MTA-STS policy is fetched from (443; another one for tests)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand check" -l ca-file -d 'Extra trust anchors (PEM) for the MX certificates and the MTA-STS policy host' -r -F
complete -c mailtalk -n "__fish_mailtalk_using_subcommand check" -s t -l timeout -d 'Seconds allowed for each lookup, connection and reply' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand check" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c mailtalk -n "__fish_mailtalk_using_subcommand check" -l json -d 'JSON instead of the table'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand check" -s h -l help -d 'Print help'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -l from -d 'Envelope sender (and From) of the test messages' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -l to -d 'Envelope recipient (and To): a mailbox you can read, for --check' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -l check -d 'Read the recipient\'s mailbox back to decide each verdict: imap://HOST[:PORT] or imaps://HOST[:PORT] (the password comes from MAILTALK_CHECK_PASSWORD, then MAILTALK_PASSWORD unless --user takes it, then a prompt)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -l check-user -d 'The IMAP user for --check (default: the --to address)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -l check-mailbox -d 'The mailbox the test messages arrive in' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -l wait -d 'Seconds to wait for the test messages to arrive in the mailbox' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -l user -d 'Authenticate to TARGET as USER before each test (the password comes from MAILTALK_PASSWORD or a prompt)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -l ca-file -d 'Extra trust anchors (PEM) for TARGET and the --check server' -r -F
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -l variant -d 'Run only these variants (by name; repeat the option; see --list)' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -s t -l timeout -d 'Seconds allowed for the connection and each reply' -r
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -l starttls -d 'STARTTLS on a plain smtp:// or lmtp:// target; then no test runs without TLS'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -s k -l insecure -d 'Do not verify certificates (for a test server with a self-signed one)'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -l list -d 'List the variants and exit'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -s v -l verbose -d 'Show every line sent and received (on standard error)'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -l json -d 'JSON instead of the table'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand smuggle-test" -s h -l help -d 'Print help'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand help; and not __fish_seen_subcommand_from explain serve demo check smuggle-test help" -f -a "explain" -d 'Explain what a server said: SMTP basic (550) and enhanced (5.1.1, X.7.1) codes, IMAP ([OVERQUOTA]) and POP3 ([IN-USE], SYS/TEMP) response codes, or a whole reply line as pasted ("550 5.7.1 Relaying denied"), with first the cause its text states'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand help; and not __fish_seen_subcommand_from explain serve demo check smuggle-test help" -f -a "serve" -d 'Run the embedded mail server: SMTP, LMTP, IMAP and POP3 on loopback, to practise on and to test applications against (mail is kept, faults can be injected, every client line can be logged)'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand help; and not __fish_seen_subcommand_from explain serve demo check smuggle-test help" -f -a "demo" -d 'Try mailtalk with nothing installed: the embedded server on free loopback ports, and a session connected to its SMTP side, with a short guide'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand help; and not __fish_seen_subcommand_from explain serve demo check smuggle-test help" -f -a "check" -d 'Check what a sending MTA would find on the way to DOMAIN: its MX hosts, STARTTLS and the certificate of each, DANE TLSA records (with DNSSEC as the resolver reports it), the MTA-STS policy and TLS-RPT record; exit status 0 when every MX passes, 4 when one fails, 5 when the lookups fail'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand help; and not __fish_seen_subcommand_from explain serve demo check smuggle-test help" -f -a "smuggle-test" -d 'Test one SMTP server you name for SMTP smuggling: one message per end-of-data variant (\\n.\\n, \\r.\\r, \\r\\n\\0.\\r\\n …) with a second message hidden behind it, and a verdict per variant (refused, kept as data, SMUGGLED) from the mailbox read back over IMAP (--check) or from the replies; exit status 0 when none was smuggled, 4 when one was, 5 when a verdict could not be reached'
complete -c mailtalk -n "__fish_mailtalk_using_subcommand help; and not __fish_seen_subcommand_from explain serve demo check smuggle-test help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
