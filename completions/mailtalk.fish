complete -c mailtalk -s p -l protocol -d 'Protocol for a TARGET without scheme' -r -f -a "smtp\t''
lmtp\t''
imap\t''
pop3\t''"
complete -c mailtalk -l ca-file -d 'Extra trust anchors (PEM file) for certificate verification' -r -F
complete -c mailtalk -l sni -d 'Server name to send in SNI and to verify the certificate against (default: the host)' -r
complete -c mailtalk -s t -l timeout -d 'Seconds allowed for connecting, the TLS handshake and each reply' -r
complete -c mailtalk -l ehlo -d 'Name to send with EHLO/LHLO when mailtalk sends it itself (--starttls)' -r
complete -c mailtalk -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured for auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c mailtalk -l script -d 'Run a script (the input language plus :expect, :capture, :sleep, :include); - reads standard input. Exit status 1 when an expectation fails' -r -F
complete -c mailtalk -l record -d 'Write what is typed as a replayable script, with an :expect after each reply and secrets as ${MAILTALK_PASSWORD}' -r -F
complete -c mailtalk -l transcript -d 'Write a transcript with timestamps (secrets redacted)' -r -F
complete -c mailtalk -l auth -d 'Authenticate after connecting: a SASL mechanism (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER), IMAP-LOGIN, USER or APOP (POP3); without a value, the strongest the server offers. The secret comes from MAILTALK_PASSWORD, --password-cmd or a prompt without echo, never from the command line' -r
complete -c mailtalk -l user -d 'User name to authenticate as (implies --auth)' -r
complete -c mailtalk -l authzid -d 'Authorisation identity (SASL authzid) to act as' -r
complete -c mailtalk -l password-cmd -d 'Command whose standard output is the password or token (e.g. a password manager)' -r
complete -c mailtalk -l from -d 'Envelope sender (MAIL FROM) and From header; with --to, send one message and exit' -r
complete -c mailtalk -l to -d 'Recipient (RCPT TO and To header); repeat for several' -r
complete -c mailtalk -l subject -d 'Subject header (default: mailtalk test)' -r
complete -c mailtalk -l body -d 'Body text (default: a short test message)' -r
complete -c mailtalk -l data -d 'The whole message: @FILE, - for standard input, or the text itself; missing Date, Message-ID, From, To and Subject headers are added; streamed, never loaded whole' -r
complete -c mailtalk -l header -d 'Extra header, e.g. "X-Test: 1"; repeat for several' -r
complete -c mailtalk -l attach -d 'Attach a file (MIME multipart, base64); repeat for several' -r -F
complete -c mailtalk -l notify -d 'DSN: NEVER, or a comma list of SUCCESS, FAILURE, DELAY' -r
complete -c mailtalk -l ret -d 'DSN: return FULL message or HDRS only' -r
complete -c mailtalk -l envid -d 'DSN envelope identifier' -r
complete -c mailtalk -l quit-after -d 'With --from/--to: stop after this step (connect, banner, ehlo, tls, auth, mail, rcpt, data), say QUIT and exit 0 if every step so far succeeded' -r -f -a "connect\t''
banner\t''
ehlo\t''
tls\t''
auth\t''
mail\t''
rcpt\t''
data\t''"
complete -c mailtalk -l generate -d 'Write shell completions and the man page into DIR, then exit' -r -F
complete -c mailtalk -l tls -d 'Implicit TLS for a TARGET without scheme (like smtps, imaps, pop3s)'
complete -c mailtalk -l starttls -d 'Upgrade with STARTTLS (STLS for POP3) right after the greeting; any failure stops the session before anything else is sent'
complete -c mailtalk -s k -l insecure -d 'Do not verify the certificate chain or host name (said loudly on every line: C! / S!)'
complete -c mailtalk -s 4 -d 'Use IPv4 addresses only'
complete -c mailtalk -s 6 -d 'Use IPv6 addresses only'
complete -c mailtalk -l no-history -d 'Do not read or write the history file'
complete -c mailtalk -l keep-going -d 'With --script: report every failed expectation instead of stopping at the first'
complete -c mailtalk -l json -d 'Print JSON Lines events (connected, sent, received, reply, tls, expect, error) instead of the transcript'
complete -c mailtalk -l no-explain -d 'Do not print a short explanation after replies that are not a plain success'
complete -c mailtalk -l allow-plaintext-auth -d 'Allow passwords over a connection without TLS to a host that is not on loopback'
complete -c mailtalk -l 8bit -d 'Declare BODY=8BITMIME'
complete -c mailtalk -l smtputf8 -d 'Declare SMTPUTF8 (an error when the server does not offer it)'
complete -c mailtalk -l size -d 'Add SIZE= with the message size when the server offers SIZE'
complete -c mailtalk -l bdat -d 'Send with BDAT when the server offers CHUNKING'
complete -c mailtalk -l pipeline -d 'Pipeline MAIL, RCPT and DATA when the server offers PIPELINING'
complete -c mailtalk -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailtalk -s V -l version -d 'Print version'
