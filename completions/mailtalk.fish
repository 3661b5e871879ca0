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
complete -c mailtalk -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mailtalk -s V -l version -d 'Print version'
